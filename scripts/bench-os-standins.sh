#!/usr/bin/env bash
# Benchmark helper (scripts/bench.sh): stand-ins for the CentOS 7 OS packages the embedded
# catalog pins (socat, conntrack-tools and its libraries, ipset), so the benchmark never asks
# vault.centos.org. Builds each with rpmbuild under its pinned NEVRA, signs it with a throwaway
# key playing the vendor's role (V4 packets, which bundler accepts as rpm 4.11 does), serves
# them from the benchmark's loopback server and appends os_key/os_packages, which replace the
# embedded entries by name, to the benchmark catalog.
#
#   scripts/bench-os-standins.sh WORK PORT
set -euo pipefail
work=$1 port=$2
for t in rpmbuild rpmsign gpg; do command -v $t >/dev/null || { echo "$t is needed (scripts/test.sh installs the tools)" >&2; exit 1; }; done
home=$work/gnupg top=$work/os-rpmbuild www=$work/www/os
mkdir -p "$home" "$top" "$www/Packages"
chmod 700 "$home"
uid="Bench Vendor Key <bench@vendor.invalid>"
gpg --homedir "$home" --batch --passphrase '' --quiet --quick-gen-key "$uid" rsa2048 sign never 2>/dev/null
fpr=$(gpg --homedir "$home" --with-colons --fingerprint "$uid" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
gpg --homedir "$home" --armor --export "$uid" > "$www/RPM-GPG-KEY-CentOS-7"
printf 'os_key:\n  name: RPM-GPG-KEY-CentOS-7\n  url: http://127.0.0.1:%s/os/RPM-GPG-KEY-CentOS-7\n  fingerprint: "%s"\nos_packages:\n' "$port" "$fpr" >> "$work/catalog.yaml"
# name version release file requires (the pinned NEVRAs of specs/catalog.yaml)
while read -r name version release file requires; do
  req=""; [ "$requires" = "-" ] || req="Requires: ${requires//,/ }"
  cat > "$top/$name.spec" <<SPEC
Name: $name
Version: $version
Release: $release
Summary: benchmark stand-in for CentOS 7's $name
License: GPLv2
AutoReqProv: no
$req
%description
A benchmark stand-in for the vendor package $name.
%install
mkdir -p %{buildroot}$(dirname "$file")
head -c 200000 /dev/urandom > %{buildroot}$file
chmod 755 %{buildroot}$file
%files
$file
SPEC
  rpmbuild --quiet -bb --define "_topdir $top" --define "debug_package %{nil}" --define "__os_install_post %{nil}" \
    --define "_build_id_links none" --target x86_64 "$top/$name.spec" >/dev/null 2>&1
  rpm=$name-$version-$release.x86_64.rpm
  cp "$top/RPMS/x86_64/$rpm" "$www/Packages/"
  printf '  - name: %s\n    nevra: %s\n    urls: ["http://127.0.0.1:%s/os/Packages/%s"]\n    license: GPL-2.0-only\n' "$name" "${rpm%.rpm}" "$port" "$rpm" >> "$work/catalog.yaml"
  case $name in socat|conntrack-tools|ipset) echo "    required_by: [k8s-node]" >> "$work/catalog.yaml" ;; esac
done <<'LIST'
socat 1.7.3.2 2.el7 /usr/bin/socat -
conntrack-tools 1.4.4 3.el7_3 /usr/sbin/conntrack libnetfilter_cthelper,libnetfilter_cttimeout,libnetfilter_queue
libnetfilter_cthelper 1.0.0 9.el7 /usr/lib64/libnetfilter_cthelper.so.0 -
libnetfilter_cttimeout 1.0.0 6.el7 /usr/lib64/libnetfilter_cttimeout.so.1 -
libnetfilter_queue 1.0.2 2.el7_2 /usr/lib64/libnetfilter_queue.so.1 -
ipset 6.29 1.el7 /usr/sbin/ipset ipset-libs
ipset-libs 6.29 1.el7 /usr/lib64/libipset.so.3 -
LIST
GNUPGHOME=$home rpmsign --addsign --define "__gpg $(command -v gpg)" --define "_gpg_name $uid" --define "_gpg_path $home" --define "_gpg_digest_algo sha256" "$www"/Packages/*.rpm >/dev/null 2>&1 </dev/null
gpgconf --homedir "$home" --kill all 2>/dev/null || true
