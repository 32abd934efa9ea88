#!/usr/bin/env bash
# Podman's Docker-compatible API for tests/backends/test_podman.py: Debian's
# podman, `podman system service` on unix:///run/eph-podman/podman.sock, and
# the offline images copied over from the Docker engine.
#
# Facts of this machine (DESIGN.md section 6, docs/how-to/engines.md): Podman's default limits fail
# every container start ("error setting rlimit type 7: operation not
# permitted"), so its containers.conf sets explicit ones. `docker save IMAGE |
# podman load` names the images localhost/NAME:TAG; they are tagged with their
# public names as well, so a spec names them as on any other engine.
#
# Podman's own state stays under /var/lib/eph-podman and /run/eph-podman (its
# storage.conf and containers.conf are passed through CONTAINERS_* variables),
# so a Podman the machine may already use is left alone.
#
# Idempotent; quick when the service answers and holds the images.
#   EPH_PODMAN_RESTART=1 bash scripts/setup.d/40-podman.sh   restart it
set -euo pipefail

RUN=/run/eph-podman
DATA=/var/lib/eph-podman
ETC=/etc/eph-podman
SOCK=$RUN/podman.sock
LOG=/tmp/eph-podman.log
IMAGES=(postgres:16-alpine redis:7-alpine python:3.12-slim)

say() { echo "40-podman: $*" >&2; }

# the dnsname CNI plugin: without it containers cannot resolve each other's
# names on Podman's networks (the backend refuses to start then, saying so)
if ! command -v podman >/dev/null 2>&1 || [ ! -x /usr/lib/cni/dnsname ]; then
  say "installing Debian's podman and its DNS plugin"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    podman conmon runc containernetworking-plugins \
    golang-github-containernetworking-plugin-dnsname uidmap fuse-overlayfs >&2
fi

mkdir -p $RUN $DATA $ETC
cat >$ETC/containers.conf.new <<EOF
[containers]
# the default (the engine's own limits) fails every start on these machines
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$RUN/events.log"
tmp_dir = "$RUN/tmp"
EOF
cat >$ETC/storage.conf.new <<EOF
[storage]
driver = "overlay"
graphroot = "$DATA/storage"
runroot = "$RUN/storage"
EOF
changed=0
for f in containers.conf storage.conf; do
  if ! cmp -s $ETC/$f.new $ETC/$f; then mv $ETC/$f.new $ETC/$f; changed=1; else rm $ETC/$f.new; fi
done
export CONTAINERS_CONF=$ETC/containers.conf CONTAINERS_STORAGE_CONF=$ETC/storage.conf

ping() {
  timeout 5 curl -fsS --unix-socket $SOCK http://podman/_ping >/dev/null 2>&1
}

if { [ "${EPH_PODMAN_RESTART:-}" = 1 ] || [ $changed = 1 ]; } && [ -s $RUN/service.pid ]; then
  kill "$(cat $RUN/service.pid)" 2>/dev/null || true
  for _ in $(seq 20); do ping || break; sleep 0.5; done
fi

if ! ping; then
  say "starting podman system service at unix://$SOCK (log: $LOG)"
  rm -f $SOCK
  (cd /; setsid nohup podman system service --time=0 unix://$SOCK >>$LOG 2>&1 </dev/null &
   echo $! >$RUN/service.pid)
  for _ in $(seq 60); do ping && break; sleep 0.5; done
  if ! ping; then
    say "podman system service did not answer within 30 s; its log ends:"
    tail -n 20 $LOG >&2
    exit 1
  fi
fi

for image in "${IMAGES[@]}"; do
  want=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) || continue
  want=${want#sha256:}
  have=$(podman image inspect --format '{{.Id}}' "docker.io/library/$image" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    say "loading $image"
    docker save "$image" | podman load -q >/dev/null
    podman tag "localhost/$image" "docker.io/library/$image"
  fi
done
say "$(podman --version) at unix://$SOCK"
