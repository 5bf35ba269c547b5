#!/usr/bin/env bash
# Benchmark (not a test): fetch about 1 GiB of fixtures from a loopback HTTP server with
# `bundler fetch`, then the same files one by one with curl, in the same run; print wall
# times, the ratio, and bundler's peak memory. Usage: scripts/bench-fetch.sh [MiB, default 1024]
set -euo pipefail
cd "$(dirname "$0")/.."
total_mib=${1:-1024}
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
cargo build --release -q
bin=$PWD/target/release/bundler
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www"
# kubernetes-server gets half, the other four an eighth each.
declare -A size=(
  [kubernetes-server-linux-amd64.tar.gz]=$((total_mib / 2))
  [etcd-v3.0.17-linux-amd64.tar.gz]=$((total_mib / 8))
  [flannel-v0.10.0-linux-amd64.tar.gz]=$((total_mib / 8))
  [docker-17.12.1-ce.tgz]=$((total_mib / 8))
  [cni-plugins-amd64-v0.6.0.tgz]=$((total_mib / 8))
)
declare -A name=(
  [kubernetes-server-linux-amd64.tar.gz]="kubernetes-server v1.9.11"
  [etcd-v3.0.17-linux-amd64.tar.gz]="etcd v3.0.17"
  [flannel-v0.10.0-linux-amd64.tar.gz]="flannel v0.10.0"
  [docker-17.12.1-ce.tgz]="docker 17.12.1-ce"
  [cni-plugins-amd64-v0.6.0.tgz]="cni-plugins v0.6.0"
)
port=$((20000 + RANDOM % 20000))
echo "artifacts:" > "$work/catalog.yaml"
for f in "${!size[@]}"; do
  head -c "$((size[$f] * 1024 * 1024))" /dev/urandom > "$work/www/$f"
  sum=$(sha256sum "$work/www/$f" | cut -d' ' -f1)
  set -- ${name[$f]}
  printf '  - name: %s\n    version: "%s"\n    url: http://127.0.0.1:%s/%s\n    sha256: %s\n    trust: user\n' "$1" "$2" "$port" "$f" "$sum" >> "$work/catalog.yaml"
done
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

measure() { # prints "seconds maxrss_kib" for the command
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t
print(f"{dt:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

read -r t_bundler rss_bundler < <(measure "$bin" fetch --quiet --inventory examples/hosts.yaml --catalog "$work/catalog.yaml" --cache "$work/cache" --jobs 4)
curl_script="$work/curl.sh"
{ echo "set -e"; for f in "${!size[@]}"; do echo "curl -sf -o '$work/curl-$f' http://127.0.0.1:$port/$f"; done; } > "$curl_script"
read -r t_curl rss_curl < <(measure bash "$curl_script")
read -r t_cached rss_cached < <(measure "$bin" fetch --quiet --inventory examples/hosts.yaml --catalog "$work/catalog.yaml" --cache "$work/cache")
echo "payload: ${total_mib} MiB in 5 files, loopback, python http.server; $(nproc) cores"
echo "bundler fetch (download + sha256 + fsync, 4 jobs): ${t_bundler} s, peak RSS $((rss_bundler / 1024)) MiB"
echo "curl one by one (download only):              ${t_curl} s"
echo "bundler fetch again (all cached, re-verified): ${t_cached} s, peak RSS $((rss_cached / 1024)) MiB"
python3 -c "print(f'ratio bundler/curl: {float(\"$t_bundler\")/float(\"$t_curl\"):.2f}')"
