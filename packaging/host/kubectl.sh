# kubectl works for root on control-plane hosts out of the box (installed by k8s-master).
if [ "$(id -u)" = 0 ] && [ -z "${KUBECONFIG:-}" ] && [ -r /etc/kubernetes/admin.kubeconfig ]; then
  export KUBECONFIG=/etc/kubernetes/admin.kubeconfig
fi
