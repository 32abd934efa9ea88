#!/usr/bin/env bash
# A second Docker engine, reached over tcp like a remote one (tests/backends/
# test_engines.py): a dockerd in a network namespace of its own (eph-engine2),
# joined to this machine by a veth pair, 10.99.0.1 (here) <-> 10.99.0.2 (it),
# listening on tcp://10.99.0.2:2375 and unix:///run/eph-engine2/docker.sock,
# and reached as ssh://root@10.99.0.2 through an sshd of its own (part 4).
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
# 4. the same engine over ssh (ssh://root@10.99.0.2): an sshd of its own in the
#    namespace, listening on 10.99.0.2:22 only, keys only (its own host key and
#    one client key, made here), sessions told DOCKER_HOST so that `docker
#    system dial-stdio` (what an ssh:// client runs) reaches this engine. The
#    client side: a Host block for 10.99.0.2 alone in /etc/ssh/ssh_config.d.
SSHD=/etc/eph-engine2/ssh
if ! command -v sshd >/dev/null 2>&1; then
  say "installing Debian's openssh-server (its own service is not started)"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server >&2
  # Debian's package may start its sshd on every address: not wanted here
  if [ -s /run/sshd.pid ]; then kill "$(cat /run/sshd.pid)" 2>/dev/null || true; fi
fi
mkdir -p $SSHD /run/sshd
[ -f $SSHD/host_key ] || ssh-keygen -q -t ed25519 -N '' -f $SSHD/host_key
[ -f $SSHD/client_key ] || ssh-keygen -q -t ed25519 -N '' -f $SSHD/client_key
cp $SSHD/client_key.pub $SSHD/authorized_keys
echo "$ENGINE_IP $(cut -d' ' -f1,2 $SSHD/host_key.pub)" >$SSHD/known_hosts
printf '%s\n' \
  "ListenAddress $ENGINE_IP:22" \
  "HostKey $SSHD/host_key" \
  "PidFile $RUN/sshd.pid" \
  "AuthorizedKeysFile $SSHD/authorized_keys" \
  "PermitRootLogin prohibit-password" \
  "PasswordAuthentication no" \
  "KbdInteractiveAuthentication no" \
  "UsePAM no" \
  "SetEnv DOCKER_HOST=$SOCK" >$SSHD/sshd_config
printf '%s\n' \
  "# pytest-ephemeral's tests: the second engine over ssh (scripts/setup.d/30-engine2.sh)" \
  "Host $ENGINE_IP" \
  "  User root" \
  "  IdentityFile $SSHD/client_key" \
  "  IdentitiesOnly yes" \
  "  UserKnownHostsFile $SSHD/known_hosts" \
  "  StrictHostKeyChecking yes" \
  "  BatchMode yes" >/etc/ssh/ssh_config.d/eph-engine2.conf
if ! { [ -s $RUN/sshd.pid ] && kill -0 "$(cat $RUN/sshd.pid)" 2>/dev/null; }; then
  say "starting sshd in $NS at $ENGINE_IP:22"
  in_ns /usr/sbin/sshd -f $SSHD/sshd_config -E /tmp/eph-engine2-sshd.log
fi

say "docker $(docker -H "$SOCK" version --format '{{.Server.Version}}') at tcp://$ENGINE_IP:2375 and ssh://root@$ENGINE_IP"
