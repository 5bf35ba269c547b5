#!/bin/sh
# Installs bundle {{ bundle.file_stem }} on this host: sets up the repository from wherever the
# bundle was unpacked, imports its signing key, works out this host's role(s) from the
# inventory and runs `yum install` for them. Safe to run again (a second run changes nothing).
#
#   sh install.sh [--role etcd|control-plane|node]...
#
# --role overrides the roles worked out from the inventory. Write the inventory name of this
# host into /etc/bundler/host-identity first if none of its addresses is in the inventory.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
NAME={{ cluster.name }}
# Test mode: install into an empty root with another yum-compatible command.
ROOT="${BUNDLER_INSTALL_ROOT:-}"
YUM="${BUNDLER_YUM:-yum}"
RPM="${BUNDLER_RPM:-rpm}"

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }

ROLES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --role) [ $# -ge 2 ] || die "--role needs a value"; ROLES="$ROLES $2"; shift 2 ;;
    --role=*) ROLES="$ROLES ${1#--role=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

[ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ] && die "run me as root"
[ -r "$HERE/repo/repodata/repomd.xml" ] || die "$HERE/repo is not a repository; unpack the whole bundle"

if [ -z "$ROLES" ]; then
  ROLES=$(BUNDLER_ROOT="$ROOT" BUNDLER_HOSTS_FILE="$HERE/hosts" sh "$HERE/lib/host-identity" --roles | tr ',' ' ') || exit 1
fi
PKGS=""
for r in $ROLES; do
  case "$r" in
    control-plane) PKGS="$PKGS k8s-master" ;;
    node) PKGS="$PKGS k8s-node" ;;
    etcd) PKGS="$PKGS k8s-etcd" ;;
    *) die "unknown role '$r' (etcd, control-plane, node)" ;;
  esac
done
[ -n "$PKGS" ] || die "this host has no role in the inventory"

# The repository, pointing at this unpacked bundle.
mkdir -p "$ROOT/etc/yum.repos.d"
tmp="$ROOT/etc/yum.repos.d/.$NAME.repo.$$"
cat > "$tmp" <<REPO
{% with repo = {"name": "$NAME", "dir": "$HERE/repo"} %}{% include "bundle/yum.repo" %}{% endwith %}REPO
mv -f "$tmp" "$ROOT/etc/yum.repos.d/$NAME.repo"

$RPM ${ROOT:+--root="$ROOT"} --import "$HERE/repo/{{ key_file }}"
{% if os_key_file %}# The OS vendor's key: the bundle carries some of its packages unchanged.
$RPM ${ROOT:+--root="$ROOT"} --import "$HERE/repo/{{ os_key_file }}"
{% endif %}
echo "installing$PKGS for roles: $(echo $ROLES)"
# Only this bundle's repository: an air-gapped host cannot reach the others. Whatever yum
# cached of an earlier bundle at this path goes first.
$YUM ${ROOT:+--installroot="$ROOT"} --disablerepo='*' --enablerepo="$NAME" clean metadata >/dev/null 2>&1 || :
$YUM -y ${ROOT:+--installroot="$ROOT"} --disablerepo='*' --enablerepo="$NAME" install $PKGS
