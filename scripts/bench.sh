#!/usr/bin/env bash
# Benchmark (not a test): bundler against the classic rpmbuild pipeline on the same inputs.
#
#   scripts/bench.sh [SCALE_PERCENT]     (100 = real Kubernetes 1.9 sizes, about 800 MB)
#
# 1. Writes upstream-layout tarballs with binaries of the real sizes (contents that compress
#    like Go binaries, ~3:1), serves them on loopback and fills bundler's download cache.
# 2. Classic pipeline: extract, `rpmbuild -bb` per binary package (gzip level 6, no strip, no
#    debuginfo), createrepo_c, tar.
# 3. `bundler build` cold: empty state and package cache, artifacts already in the download cache.
# 4. `bundler build` warm: after adding one node to the inventory.
# Prints wall time and peak memory (max RSS of the process tree's largest process) of each,
# the per-stage timings from bundler's receipt, and the ratios against the targets.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-100}
for t in rpmbuild rpmsign gpg createrepo_c python3 curl; do command -v $t >/dev/null || { echo "$t is needed (scripts/test.sh installs the tools)" >&2; exit 1; }; done
cargo build --release --locked -q
cargo build --release --locked -q --example bench_payload
bin=$PWD/target/release/bundler
work=$(mktemp -d /var/tmp/bundler-bench.XXXXXX)
port=$((20000 + RANDOM % 20000))
srv=
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
echo "== generating the payload (${scale}% of real sizes) in $work"
target/release/examples/bench_payload "$work" "$port" "$scale"
scripts/bench-os-standins.sh "$work" "$port"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
cache=$work/cache
"$bin" fetch --quiet --inventory "$work/hosts.yaml" --catalog "$work/catalog.yaml" --cache "$cache" --images "$work/imgs" >/dev/null
payload=$(du -sm "$work/www" | cut -f1)

measure() { # LABEL CMD...: prints "seconds peak_rss_mib" and keeps the command's stdout in $work/LABEL.out
  local label=$1; shift
  python3 - "$work/$label.out" "$@" <<'PY'
import resource, subprocess, sys, time
out = open(sys.argv[1], "wb")
t = time.perf_counter()
subprocess.run(sys.argv[2:], check=True, stdout=out)
dt = time.perf_counter() - t
print(f"{dt:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}")
PY
}

# --- classic pipeline --------------------------------------------------------------------
classic=$work/classic
mkdir -p "$classic"
cat > "$work/classic.sh" <<CLASSIC
set -euo pipefail
cd "$classic"
mkdir -p src rpmbuild/{BUILD,RPMS,SOURCES,SPECS,SRPMS} repo/Packages
for t in "$work"/www/*.t*gz; do tar -xzf "\$t" -C src; done
pkg() { # NAME VERSION FILES...
  local name=\$1 version=\$2; shift 2
  {
    echo "Name: \$name"; echo "Version: \$version"; echo "Release: 1"; echo "Summary: \$name"; echo "License: ASL 2.0"
    echo "%define _binary_payload w6.gzdio"; echo "%define __strip /bin/true"; echo "%define debug_package %{nil}"
    echo "%define __os_install_post %{nil}"; echo "%define _build_id_links none"; echo "AutoReqProv: no"
    echo "%description"; echo "\$name"
    echo "%install"; echo "mkdir -p %{buildroot}/usr/bin"
    for f in "\$@"; do echo "install -m 0755 $classic/src/\$f %{buildroot}/usr/bin/"; done
    echo "%files"; for f in "\$@"; do echo "/usr/bin/\$(basename \$f)"; done
  } > rpmbuild/SPECS/\$name.spec
  rpmbuild --quiet --define "_topdir $classic/rpmbuild" -bb rpmbuild/SPECS/\$name.spec
}
k=kubernetes/server/bin
pkg k8s-kube-master-bin 1.9.11 \$k/kube-apiserver \$k/kube-controller-manager \$k/kube-scheduler \$k/kubectl
pkg k8s-kube-node-bin 1.9.11 \$k/kubelet \$k/kube-proxy
pkg k8s-etcd-bin 3.0.17 etcd-v3.0.17-linux-amd64/etcd etcd-v3.0.17-linux-amd64/etcdctl
pkg k8s-flannel-bin 0.10.0 flanneld mk-docker-opts.sh
pkg k8s-docker-bin 17.12.1 docker/docker docker/dockerd docker/docker-containerd docker/docker-containerd-ctr docker/docker-containerd-shim docker/docker-runc docker/docker-init docker/docker-proxy
pkg k8s-cni-bin 0.6.0 bridge host-local loopback portmap flannel
cp rpmbuild/RPMS/*/*.rpm repo/Packages/
createrepo_c --quiet --no-database repo
tar -cf classic.tar repo
CLASSIC
echo "== classic pipeline (rpmbuild gzip-6 per package, createrepo_c, tar)"
read -r t_classic m_classic < <(measure classic bash "$work/classic.sh")

# --- bundler cold ---------------------------------------------------------------------------
build=("$bin" build --json --quiet --inventory "$work/hosts.yaml" --catalog "$work/catalog.yaml" --cache "$cache" --state "$work/state" --output "$work/out")
echo "== bundler build, cold (empty state and package cache; artifacts in the download cache)"
rm -rf "$work/state" "$cache/rpms" "$cache/staging"
read -r t_cold m_cold < <(measure cold "${build[@]}")
# --- bundler warm, one node added ------------------------------------------------------------
sed -i 's/    node02: {ip: 192.168.0.213}/    node02: {ip: 192.168.0.213}\n    node03: {ip: 192.168.0.214}/; s/kube_node: {hosts: {node01: , node02: }}/kube_node: {hosts: {node01: , node02: , node03: }}/' "$work/hosts.yaml"
echo "== bundler build, warm (one node added to the inventory)"
read -r t_warm m_warm < <(measure warm "${build[@]}")

stages() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('  ' + ', '.join(f\"{s['name']} {s['seconds']:.2f}s\" for s in d['stages']))" "$1"; }
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "payload: ${payload} MB of upstream tarballs (binaries ${scale}% of Kubernetes 1.9 sizes)"
# Sizes for the README's "Sizes, disk and time": the bundle, and the cache after the builds.
echo "bundle: $(du -m "$(ls -t "$work"/out/*.tar | head -1)" | cut -f1) MB ($(basename "$(ls -t "$work"/out/*.tar | head -1)")); cache after the builds: $(du -sm "$cache" | cut -f1) MB (downloads $(du -sm "$cache/files" | cut -f1) MB, packages $(du -sm "$cache/rpms" | cut -f1) MB)"
printf '%-44s %8s s  %6s MiB peak\n' "classic (rpmbuild + createrepo_c + tar)" "$t_classic" "$m_classic"
printf '%-44s %8s s  %6s MiB peak\n' "bundler build, cold" "$t_cold" "$m_cold"
stages "$work/cold.out"
printf '%-44s %8s s  %6s MiB peak\n' "bundler build, warm (one node added)" "$t_warm" "$m_warm"
stages "$work/warm.out"
python3 - "$t_classic" "$t_cold" "$t_warm" "$m_cold" "$m_warm" <<'PY'
import sys
c, cold, warm, mc, mw = map(float, sys.argv[1:])
ok = lambda b: "meets" if b else "MISSES"
print(f"cold / classic = {cold / c:.2f}  (target <= 0.50: {ok(cold / c <= 0.5)})")
print(f"warm = {warm:.2f} s  (target <= 3 s: {ok(warm <= 3)})")
print(f"peak memory = {max(mc, mw):.0f} MiB  (target <= 100 MiB: {ok(max(mc, mw) <= 100)})")
PY
