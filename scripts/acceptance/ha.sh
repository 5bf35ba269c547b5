# Sourced by scripts/acceptance.sh (ACCEPT_MODE=ha) once master, master2 (control plane, etcd)
# and node01 (node, etcd) are up: node01's kubelet and kube-proxy reach the two API servers
# through k8s-api-proxy, and are still served while master is halted.
#
# Stand-ins here: the API servers are the kube-apiserver stand-in (plain HTTP; /host says which
# host answered); kubelet is the kubelet stand-in, which posts its node's status every 5 s to the
# server in its kubeconfig; `docker run nginx:1.13` is the docker stand-in running Debian's real
# nginx 1.22 with the rendered /etc/kubernetes/api-proxy/nginx.conf (scripts/acceptance/standins/docker).
NGINX_TEST="load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
answers() { # N: which API server answers N requests from node01 through the proxy's endpoint
  local i
  for i in $(seq "$1"); do in_host node01 curl -s --max-time 10 http://localhost:6443/host || echo "(no answer)"; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' '
}
seen() { # HOST-TO-ASK: when node01's kubelet last posted its status (seconds since the epoch)
  in_host "$1" curl -sf --max-time 5 "http://${ADDR[$1]}:6443/cgi-bin/node?seen&node01"
}
kubectl_on() { local h=$1; shift; in_host "$h" kubectl --kubeconfig=/etc/kubernetes/admin.kubeconfig "$@"; }
READY_PATH='jsonpath={.status.conditions[?(@.type=="Ready")].status}'

section "two API servers and no load balancer: node01 through its local k8s-api-proxy (nginx)"
r=$(rootfs node01)
for f in bootstrap.kubeconfig kube-proxy.kubeconfig; do
  srv=$(sed -n 's/^ *server: *//p' "$r/etc/kubernetes/$f" | head -n 1)
  if [ "$srv" = https://localhost:6443 ]; then pass "node01: /etc/kubernetes/$f names the local proxy ($srv)"; else fail "node01: /etc/kubernetes/$f names $srv"; fi
done
ups=$(sed -n 's/^ *server \([0-9.:]*\) .*/\1/p' "$r/etc/kubernetes/api-proxy/nginx.conf" | tr '\n' ' ')
if [ "$ups" = "10.77.0.11:6443 10.77.0.13:6443 " ]; then pass "node01: the proxy's upstreams are both API servers: $ups"; else fail "node01: the proxy's upstreams: $ups"; fi
for h in master master2; do
  [ ! -e "$(rootfs "$h")/etc/kubernetes/api-proxy/nginx.conf" ] && [ "$(prop "$h" k8s-api-proxy.service LoadState)" != loaded ] &&
    pass "$h: a control-plane host has no proxy of its own" || fail "$h: has k8s-api-proxy"
done
check "node01: real nginx accepts the rendered nginx.conf (nginx -t)" in_host node01 nginx -t -c /etc/kubernetes/api-proxy/nginx.conf -g "$NGINX_TEST"
pid=$(prop node01 k8s-api-proxy.service MainPID)
cmd=$(in_host node01 cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ' || true)
echo "      k8s-api-proxy.service: $(prop node01 k8s-api-proxy.service UnitFileState), MainPID $pid: $cmd" | tee -a "$REPORT"
case "$cmd" in
  *"master process nginx -c /etc/kubernetes/api-proxy/nginx.conf"*) pass "node01: k8s-api-proxy.service runs nginx with the rendered config (docker run, by the stand-in)" ;;
  *) fail "node01: k8s-api-proxy.service's process is not nginx: $cmd" ;;
esac
a=$(answers 8)
echo "      8 requests from node01 to https://localhost:6443 (plain HTTP to the stand-ins) answered by: $a" | tee -a "$REPORT"
case "$a" in *master2x*) case "$a" in *"master"x*) pass "node01: the proxy balances both API servers: $a" ;; *) fail "node01: only master2 answered: $a" ;; esac ;; *) fail "node01: the proxy does not reach master2: $a" ;; esac
check "master2: node01 is Ready (its kubelet posts its status through the proxy)" test "$(kubectl_on master2 get node node01 -o "$READY_PATH")" = True

section "master halted (systemd powers it off; then its address answers nothing, as a machine that is off)"
t_before=$(seen master2 || true)
stop_host master
ip -n "$P-master" link set eth0 down
slow=0 out=""
for i in 1 2 3 4 5 6; do
  t0=$(date +%s%N)
  a=$(in_host node01 curl -s --max-time 10 http://localhost:6443/host || echo "(no answer)")
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$ms" -gt "$slow" ] && slow=$ms
  out="$out $a"
done
echo "      6 requests from node01 with master off answered by:$out (slowest ${slow} ms)" | tee -a "$REPORT"
if [ "$out" = " master2 master2 master2 master2 master2 master2" ] && [ "$slow" -lt 5000 ]; then
  pass "node01: every request through the proxy is answered by master2 while master is off (slowest ${slow} ms; proxy_connect_timeout 1s)"
else
  fail "node01: with master off, requests through the proxy were answered by:$out (slowest ${slow} ms)"
fi
lines=$(in_host node01 journalctl -u k8s-api-proxy.service --no-pager -q -o cat | grep -F "10.77.0.11:6443" | tail -n 3 || true)
echo "$lines" | sed 's/^/      nginx: /' | tee -a "$REPORT"
case "$lines" in
  *"timed out"*|*"failed"*|*"temporarily disabled"*) pass "node01: nginx logged master's connection failure and moved to the next upstream" ;;
  *) fail "node01: nginx logged nothing about 10.77.0.11:6443" ;;
esac
sleep 12
t_after=$(seen master2 || true)
if [ -n "$t_after" ] && [ -n "$t_before" ] && [ "$t_after" -gt "$t_before" ]; then
  pass "node01's kubelet keeps posting its status through the proxy with master off (last post $t_before -> $t_after, stored through master2)"
else
  fail "node01's kubelet posted nothing with master off ($t_before -> $t_after)"
fi
check "master2: node01 still Ready with master off" test "$(kubectl_on master2 get node node01 -o "$READY_PATH")" = True
for u in kubelet.service kube-proxy.service k8s-api-proxy.service; do
  [ "$(prop node01 "$u" ActiveState)" = active ] && pass "node01: $u active with master off" || fail "node01: $u $(prop node01 "$u" ActiveState) with master off"
done

section "master booted again: the proxy uses it again"
ip -n "$P-master" link set eth0 up
boot_host master
wait_for "$WAIT" "every unit active and etcd healthy" everything_up || :
assert_host master
sleep 11 # nginx's fail_timeout (10 s) for the upstream it marked failed
a=$(answers 8)
echo "      8 requests from node01 answered by: $a" | tee -a "$REPORT"
case "$a" in *"master"x*) pass "node01: master answers through the proxy again: $a" ;; *) fail "node01: master does not answer through the proxy again: $a" ;; esac
assert_cluster
