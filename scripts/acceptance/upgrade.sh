# Sourced by scripts/acceptance.sh (ACCEPT_MODE=upgrade) once bundle N runs on master (control
# plane, etcd) and node01 (node), installed by site.yml over ssh. Bundle N+1 (node02 added) and
# N+2 (master2 added: a second API server, so --apiserver-count=2 and k8s-api-proxy on the
# nodes) are built from the same state folder and rolled out with the bundle's ansible/upgrade.yml
# over ssh to the booted hosts.
#
# Stand-ins here: yum is Debian's dnf; kubectl drain/uncordon/get node and the node's Ready
# condition are the kubectl and API server stand-ins' (a node is Ready when its kubelet
# stand-in posted its status in the last 40 s, through the server of its kubeconfig).
pkgs_of() { rpm --root="$(rootfs "$1")" -qa --qf '%{NAME} %{VERSION}-%{RELEASE} %{INSTALLTIME}\n' 2>/dev/null | { grep -v '^gpg-pubkey ' || true; } | sort; }
repo_nvr() { rpm -qp --nosignature --qf '%{NAME} %{VERSION}-%{RELEASE}\n' "$BUNDLE"/repo/Packages/*.rpm 2>/dev/null | sort; }
kubectl_on() { local h=$1; shift; in_host "$h" kubectl --kubeconfig=/etc/kubernetes/admin.kubeconfig "$@"; }
READY_PATH='jsonpath={.status.conditions[?(@.type=="Ready")].status}'
apiserver_cmdline() { in_host "$1" cat /run/kube-apiserver-standin/cmdline 2>/dev/null; }
UPGRADE_ARGS=(-e upgrade_retries=40 -e upgrade_delay=3)

upgrade_to() { # LAYOUT "NEW HOSTS" DESCRIPTION: build the next bundle, boot the new hosts, run upgrade.yml
  local layout=$1 new=$2 what=$3 h t0
  OLD_HOSTS=$HOSTS
  for h in $HOSTS; do pkgs_of "$h" > "$WORK/before-$h"; done
  build_bundle "$layout"
  section "upgrade to bundle $(basename "$TAR"): $what (ansible-playbook ansible/upgrade.yml over ssh)"
  for h in $new; do
    add_net "$h"; prepare_host "$h"; ssh_ready "$h"; boot_host "$h"
    wait_for 60 "$h: sshd" ip netns exec "$P-ctl" bash -c "echo > /dev/tcp/${ADDR[$h]}/22"
  done
  HOSTS="$HOSTS $new"
  t0=$SECONDS
  UPGRADE_OUT=$(playbook upgrade.yml "${UPGRADE_ARGS[@]}") && UPGRADE_RC=0 || UPGRADE_RC=$?
  echo "$UPGRADE_OUT" | sed -n '/PLAY RECAP/,$p' | sed 's/^/  /' | tee -a "$REPORT"
  echo "$UPGRADE_OUT" > "$WORK/upgrade-$NBUNDLE.log"
  log "upgrade.yml took $((SECONDS - t0)) s"
  if [ "$UPGRADE_RC" -eq 0 ]; then pass "ansible-playbook upgrade.yml: every play ran without a failure ($((SECONDS - t0)) s)"
  else fail "ansible-playbook upgrade.yml exited $UPGRADE_RC"; echo "$UPGRADE_OUT" | grep -E 'fatal|FAILED|ERROR|upgrade stopped' | head -n 10 | sed 's/^/      /' | tee -a "$REPORT"; fi
  wait_for "$WAIT" "every unit of every host active and etcd healthy" everything_up || :
  for h in $HOSTS; do unit_table "$h"; done
  for h in $HOSTS; do assert_host "$h"; done
  for h in $new; do
    printf '  %s: %s\n' "$h" "$(installed "$h")" | tee -a "$REPORT"
  done
}

assert_releases() { # the packages of the hosts that were there before: unchanged ones kept, changed ones upgraded
  local h repo n v t new now kept upgraded bad
  repo=$(repo_nvr)
  for h in $OLD_HOSTS; do
    kept="" upgraded="" bad=""
    while read -r n v t; do
      new=$(echo "$repo" | awk -v n="$n" '$1 == n {print $2}')
      [ -n "$new" ] || continue # test-base: not the bundle's
      now=$(pkgs_of "$h" | awk -v n="$n" '$1 == n {print $2 " " $3}')
      if [ "$v" = "$new" ]; then
        if [ "$now" = "$v $t" ]; then kept="$kept $n"; else bad="$bad $n(reinstalled: $v@$t -> ${now/ /@})"; fi
      elif [ "${now% *}" = "$new" ]; then upgraded="$upgraded $n($v->$new)"
      else bad="$bad $n(installed ${now% *}, the bundle has $new)"; fi
    done < "$WORK/before-$h"
    echo "      $h: upgraded:${upgraded:- none}" | tee -a "$REPORT"
    echo "      $h: not reinstalled (same release, same install time):${kept:- none}" | tee -a "$REPORT"
    if [ -z "$bad" ]; then pass "$h: every changed package upgraded, every unchanged one left as installed"; else fail "$h:$bad"; fi
  done
}

# --- N+1: a node added -------------------------------------------------------------------------
check "master: node01 Ready before the upgrade" test "$(kubectl_on master get node node01 -o "$READY_PATH")" = True
count_before=$(apiserver_cmdline master | grep -o -- '--apiserver-count=[0-9]*' || true)
upgrade_to upgrade1 node02 "node02 added"
assert_releases
for h in $OLD_HOSTS; do # the host list changed, so did k8s-common
  b=$(awk '$1 == "k8s-common" {print $2}' "$WORK/before-$h") a=$(pkgs_of "$h" | awk '$1 == "k8s-common" {print $2}')
  if [ -n "$b" ] && [ "$a" != "$b" ] && [ "$a" = "$(repo_nvr | awk '$1 == "k8s-common" {print $2}')" ]; then pass "$h: k8s-common upgraded ($b -> $a)"; else fail "$h: k8s-common $b -> $a"; fi
done
for p in k8s-kube-node-bin k8s-docker-bin k8s-flannel-bin; do
  b=$(awk -v n="$p" '$1 == n {print $2 "@" $3}' "$WORK/before-node01") a=$(pkgs_of node01 | awk -v n="$p" '$1 == n {print $2 "@" $3}')
  if [ -n "$b" ] && [ "$a" = "$b" ]; then pass "node01: $p not reinstalled ($a)"; else fail "node01: $p $b -> $a"; fi
done
check "master: node02 joined and is Ready" test "$(kubectl_on master get node node02 -o "$READY_PATH")" = True
check "master: node01 uncordoned after its upgrade" test "$(in_host master curl -sf "http://10.77.0.11:6443/cgi-bin/node?cordoned&node01")" = no

# --- N+2: a second API server ------------------------------------------------------------------
upgrade_to upgrade2 master2 "master2 added: a second API server; the nodes reach both through k8s-api-proxy"
assert_releases
count_after=$(apiserver_cmdline master | grep -o -- '--apiserver-count=[0-9]*' || true)
if [ "$count_before" = --apiserver-count=1 ] && [ "$count_after" = --apiserver-count=2 ]; then
  pass "master: the running API server stand-in was restarted with the changed setting ($count_before -> $count_after)"
else
  fail "master: the API server's command line says [$count_before] before and [$count_after] after"
fi
check "master2: its API server answers" test "$(in_host master2 curl -sf --max-time 5 http://10.77.0.14:6443/healthz)" = ok
for h in node01 node02; do
  srv=$(sed -n 's/^ *server: *//p' "$(rootfs "$h")/etc/kubernetes/kube-proxy.kubeconfig" | head -n 1)
  if [ "$srv" = https://localhost:6443 ]; then pass "$h: kube-proxy's kubeconfig names the local proxy"; else fail "$h: kube-proxy's kubeconfig names $srv"; fi
  en=$(in_host "$h" systemctl is-enabled k8s-api-proxy.service 2>&1 || true)
  st=$(prop "$h" k8s-api-proxy.service ActiveState)
  if [ "$en" = enabled ] && [ "$st" = active ]; then
    pass "$h: k8s-api-proxy.service, new in this bundle, was enabled and started by the upgrade"
  else
    fail "$h: k8s-api-proxy.service, new in this bundle, is $en and $st after the upgrade"
  fi
  a=$(for i in 1 2 3 4 5 6; do in_host "$h" curl -s --max-time 10 http://localhost:6443/host || echo "(none)"; done | sort -u | tr '\n' ' ')
  case "$a" in *master2*) case "$a" in "master "*|*" master "*) pass "$h: both API servers answer through its proxy: $a" ;; *) fail "$h: through its proxy: $a" ;; esac ;; *) fail "$h: through its proxy: $a" ;; esac
done
sleep 6
for h in node01 node02; do
  check "master2: $h Ready (its kubelet posts through the proxy)" test "$(kubectl_on master2 get node "$h" -o "$READY_PATH")" = True
done

# --- the same bundle again, with node01's kubelet down: the run stops there and says where -------
section "upgrade.yml again with node01's kubelet stopped (its health gate cannot pass)"
in_host node01 systemctl stop kubelet.service
sleep 45 # the node's last status update ages past the 40 s grace: NotReady
node02_before=$(pkgs_of node02)
out=$(playbook upgrade.yml -e upgrade_retries=3 -e upgrade_delay=2) && rc=0 || rc=$?
msg=$(echo "$out" | grep -o "upgrade stopped at node node01, step '[^']*'" | head -n 1)
echo "      exit $rc: $msg" | tee -a "$REPORT"
if [ "$rc" -ne 0 ] && [ "$msg" = "upgrade stopped at node node01, step 'wait until the node is Ready'" ]; then
  pass "upgrade.yml stops at node01's failed Ready gate and says where"
else
  fail "upgrade.yml with node01 not Ready: exit $rc, [$msg]"
fi
if echo "$out" | grep -q "node02"; then fail "upgrade.yml went on to node02 after node01 failed"; else pass "node02, after node01, was not touched (not named in the run)"; fi
[ "$(pkgs_of node02)" = "$node02_before" ] && pass "node02's packages unchanged" || fail "node02's packages changed"
check "node01 stays cordoned" test "$(in_host master curl -sf "http://10.77.0.11:6443/cgi-bin/node?cordoned&node01")" = yes
in_host node01 systemctl start kubelet.service
