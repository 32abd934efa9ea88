#!/usr/bin/env bash
# A Docker Swarm of three nodes for the Swarm backend's tests
# (tests/backends/test_swarm.py): this machine's engine is the manager; two
# workers are further dockerds, each in a network namespace of its own
# (eph-swarm1, eph-swarm2; DESIGN.md section 6 says why: privileged
# containers, hence Docker-in-Docker, are refused here).
#
# The three meet on one Linux bridge, eph-swbr: 10.98.0.1 (here, the manager's
# advertise address), 10.98.0.2 and 10.98.0.3 (the workers, whose engines also
# listen on tcp://10.98.0.N:2375 so the backend can exec into their tasks and
# remove their volumes). Overlay traffic (VXLAN, udp/4789; gossip, 7946) runs
# over the bridge; Docker's FORWARD policy on this machine drops bridged frames
# once br_netfilter is loaded, which is what stopped overlay traffic between
# nodes in a first try ("No route to host"): a DOCKER-USER rule lets eph-swbr
# talk to itself.
#
# Each worker carries the node label pytest-ephemeral.engine=tcp://ADDRESS:2375.
# Idempotent; quick when the swarm is up.
set -euo pipefail

BR=eph-swbr
HERE_IP=10.98.0.1
IMAGES=(postgres:16-alpine redis:7-alpine python:3.12-slim)
say() { echo "60-swarm: $*" >&2; }

ip link show $BR >/dev/null 2>&1 || ip link add $BR type bridge
[[ "$(ip addr show dev $BR)" == *"inet $HERE_IP/"* ]] || ip addr add $HERE_IP/24 dev $BR
ip link set $BR up
if command -v iptables >/dev/null 2>&1; then
  iptables -N DOCKER-USER 2>/dev/null || true
  iptables -C DOCKER-USER -i $BR -o $BR -j ACCEPT 2>/dev/null \
    || iptables -I DOCKER-USER -i $BR -o $BR -j ACCEPT
  iptables -C INPUT -i $BR -j ACCEPT 2>/dev/null || iptables -I INPUT -i $BR -j ACCEPT
fi

# the manager
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$state" != active ]; then
  say "docker swarm init on this engine (advertise $HERE_IP)"
  docker swarm init --advertise-addr $HERE_IP --listen-addr $HERE_IP:2377 >/dev/null
fi
TOKEN=$(docker swarm join-token -q worker)

worker() {  # N
  local n=$1 ns=eph-swarm$1 hif=eph-sw${1}h nif=eph-sw${1}n ip=10.98.0.$(( $1 + 1 ))
  local run=/run/eph-swarm$1 data=/var/lib/eph-swarm$1 log=/tmp/eph-swarm$1.log
  local sock=unix://$run/docker.sock
  up() { timeout 5 docker -H "$sock" version >/dev/null 2>&1; }
  [ -e /var/run/netns/$ns ] || ip netns add $ns
  if ! ip link show $hif >/dev/null 2>&1; then
    ip link add $hif type veth peer name $nif
    ip link set $nif netns $ns
  fi
  ip link set $hif master $BR
  ip link set $hif up
  in_ns() { nsenter --net=/var/run/netns/$ns "$@"; }
  [[ "$(in_ns ip addr show dev $nif)" == *"inet $ip/"* ]] || in_ns ip addr add $ip/24 dev $nif
  in_ns ip link set $nif up
  in_ns ip link set lo up
  in_ns ip route replace default via $HERE_IP
  if ! up; then
    mkdir -p $run $data /etc/eph-swarm$n
    [ -f /etc/eph-swarm$n/daemon.json ] || echo '{}' >/etc/eph-swarm$n/daemon.json
    say "starting worker dockerd $n in $ns at tcp://$ip:2375 (log: $log)"
    (cd / && setsid nohup nsenter --net=/var/run/netns/$ns dockerd \
      --host tcp://$ip:2375 --host $sock --tls=false \
      --data-root $data --exec-root $run/exec --pidfile $run/docker.pid \
      --config-file /etc/eph-swarm$n/daemon.json --bridge none --iptables=false \
      >>$log 2>&1 </dev/null &)
    for _ in $(seq 120); do up && break; sleep 0.5; done
    up || { say "worker $n did not answer within 60 s; its log ends:"; tail -n 20 $log >&2; exit 1; }
  fi
  for image in "${IMAGES[@]}"; do
    want=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) || continue
    have=$(docker -H "$sock" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
      say "worker $n: loading $image"
      docker save "$image" | docker -H "$sock" load -q >/dev/null
    fi
  done
  if [ "$(docker -H "$sock" info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    say "worker $n joins the swarm"
    docker -H "$sock" swarm join --token "$TOKEN" --advertise-addr $ip $HERE_IP:2377 >/dev/null
  fi
  local node
  node=$(docker -H "$sock" info --format '{{.Swarm.NodeID}}')
  docker node update --label-add "pytest-ephemeral.engine=tcp://$ip:2375" "$node" >/dev/null
}

worker 1
worker 2
# the manager's own engine, for the backend: reached on its socket
docker node update --label-add "pytest-ephemeral.engine=unix:///var/run/docker.sock" \
  "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
say "swarm of $(docker node ls -q | wc -l) nodes ($(docker node ls --format '{{.Hostname}}:{{.Status}}' | tr '\n' ' '))"
