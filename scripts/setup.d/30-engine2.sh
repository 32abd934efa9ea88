#!/usr/bin/env bash
# A second Docker engine, reached over tcp like a remote one (tests/backends/
# test_engines.py): a dockerd in a network namespace of its own (eph-engine2),
# joined to this machine by a veth pair, 10.99.0.1 (here) <-> 10.99.0.2 (it),
# listening on tcp://10.99.0.2:2375 and unix:///run/eph-engine2/docker.sock.
#
# Why this shape (DESIGN.md section 6): privileged containers are refused here,
# so Docker-in-Docker cannot run; a dockerd in its own network namespace can.
# `nsenter --net=` and not `ip netns exec` (which remounts /sys and hides the
# cgroups). `--bridge none --iptables=false`: no docker0 and no iptables rules
# in the namespace; the networks the plugin creates (bridge driver) still get
# their bridge interface, and published ports work through the userland proxy
# (docker-proxy listens on the published address), which is all the tests
# need: nothing in it has to reach the outside. `--tls=false` says on purpose
# that the tcp socket has no TLS (otherwise dockerd sleeps 15 s to warn).
#
# Idempotent; quick when the engine answers and holds the offline images.
#   EPH_ENGINE2_RESTART=1 bash scripts/setup.d/30-engine2.sh   restart it
set -euo pipefail

NS=eph-engine2
HOST_IF=eph-e2h
NS_IF=eph-e2n
HERE_IP=10.99.0.1
ENGINE_IP=10.99.0.2
RUN=/run/eph-engine2
DATA=/var/lib/eph-engine2
CONF=/etc/eph-engine2/daemon.json
LOG=/tmp/eph-engine2.log
SOCK=unix://$RUN/docker.sock
IMAGES=(postgres:16-alpine redis:7-alpine python:3.12-slim)

say() { echo "30-engine2: $*" >&2; }
up() { timeout 5 docker -H "$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [ "${EPH_ENGINE2_RESTART:-}" = 1 ] && [ -s "$RUN/docker.pid" ]; then
  kill "$(cat "$RUN/docker.pid")" 2>/dev/null || true
  for _ in $(seq 30); do up || break; sleep 0.5; done
fi

# 1. the namespace and the veth pair
[ -e /var/run/netns/$NS ] || ip netns add $NS
if ! ip link show $HOST_IF >/dev/null 2>&1; then
  ip link add $HOST_IF type veth peer name $NS_IF
  ip link set $NS_IF netns $NS
fi
[[ "$(ip addr show dev $HOST_IF)" == *"inet $HERE_IP/"* ]] || ip addr add $HERE_IP/24 dev $HOST_IF
ip link set $HOST_IF up
in_ns() { nsenter --net=/var/run/netns/$NS "$@"; }
[[ "$(in_ns ip addr show dev $NS_IF)" == *"inet $ENGINE_IP/"* ]] || in_ns ip addr add $ENGINE_IP/24 dev $NS_IF
in_ns ip link set $NS_IF up
in_ns ip link set lo up

# 2. the engine
if ! up; then
  mkdir -p $RUN $DATA "$(dirname $CONF)"
  [ -f $CONF ] || echo '{}' >$CONF
  say "starting dockerd in network namespace $NS at tcp://$ENGINE_IP:2375 (log: $LOG)"
  (cd /; setsid nohup nsenter --net=/var/run/netns/$NS dockerd \
    --host tcp://$ENGINE_IP:2375 --host $SOCK --tls=false \
    --data-root $DATA --exec-root $RUN/exec --pidfile $RUN/docker.pid \
    --config-file $CONF --bridge none --iptables=false \
    >>$LOG 2>&1 </dev/null &)
  for _ in $(seq 120); do up && break; sleep 0.5; done
  if ! up; then
    say "dockerd in $NS did not answer within 60 s; its log ends:"
    tail -n 20 $LOG >&2
    exit 1
  fi
fi

# 3. the offline images, copied from this machine's engine when missing or stale
for image in "${IMAGES[@]}"; do
  want=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) || continue
  have=$(docker -H "$SOCK" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    say "loading $image"
    docker save "$image" | docker -H "$SOCK" load -q >/dev/null
  fi
done
say "docker $(docker -H "$SOCK" version --format '{{.Server.Version}}') at tcp://$ENGINE_IP:2375"
