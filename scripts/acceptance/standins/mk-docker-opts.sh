#!/bin/sh
# Stand-in for flannel's mk-docker-opts.sh (acceptance test): turns /run/flannel/subnet.env into
# the Docker options file, as `mk-docker-opts.sh -k NAME -d FILE` does.
set -u
K=DOCKER_OPTS D=/run/docker_opts.env
while [ $# -gt 0 ]; do
  case "$1" in -k) K=$2; shift 2 ;; -d) D=$2; shift 2 ;; *) shift ;; esac
done
. /run/flannel/subnet.env || exit 1
mkdir -p "$(dirname "$D")"
echo "$K=\" --bip=$FLANNEL_SUBNET --ip-masq=false --mtu=$FLANNEL_MTU\"" > "$D"
