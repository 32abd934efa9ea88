#!/usr/bin/env bash
# Two real image registries on this machine's loopback, for the pull tests
# (tests/backends/test_pull.py, test_lock.py) and benchmarks/bench_pull.py:
#   127.0.0.1:5000  Debian's docker-registry, plain HTTP, no authentication
#   127.0.0.1:5001  the same behind basic auth (htpasswd: eph-test / eph-secret)
# Docker talks plain HTTP to registries on 127.0.0.0/8 without any set-up.
# Each holds eph-test/redis:7: the offline redis:7-alpine plus a small layer of
# its own (so that a pull really downloads something), pushed once; the local
# copies under the registry names are removed again, so that a test's pull is
# a real one. Idempotent; quick when both answer and hold the image.
set -euo pipefail

say() { printf 'setup.d/20-registry: %s\n' "$*" >&2; }

ROOT=/var/lib/eph-registry
USER_NAME=eph-test
PASSWORD=eph-secret
IMAGE=eph-test/redis:7

answers() {  # PORT [CURL ARGS...]: the registry's API answers (any status but no answer)
  local port=$1
  shift
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$@" "http://127.0.0.1:${port}/v2/" | grep -qE '^(200|401)$'
}

has_image() {  # PORT [CURL ARGS...]: the registry holds $IMAGE
  local port=$1
  shift
  curl -sf -o /dev/null -m 2 "$@" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:${port}/v2/${IMAGE%%:*}/manifests/${IMAGE##*:}"
}

if ! command -v curl >/dev/null 2>&1; then
  say "installing curl"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl >&2
fi

if answers 5000 && answers 5001 && has_image 5000 && has_image 5001 -u "$USER_NAME:$PASSWORD"; then
  say "registries up on 127.0.0.1:5000 and :5001 (basic auth), holding $IMAGE"
  exit 0
fi

if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
  say "installing Debian's docker-registry and apache2-utils"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    docker-registry apache2-utils >&2
fi

write_config() {  # NAME PORT [AUTH]
  local name=$1 port=$2 auth=${3:-}
  mkdir -p "$ROOT/$name/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn, accesslog: {disabled: false}}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $ROOT/$name/data}"
    echo "  delete: {enabled: true}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    echo "  secret: eph-test-$name"
    if [ -n "$auth" ]; then
      echo "auth:"
      echo "  htpasswd: {realm: eph-test, path: $ROOT/$name/htpasswd}"
    fi
  } >"$ROOT/$name/config.yml"
}

start() {  # NAME PORT
  local name=$1 port=$2
  answers "$port" && return 0
  say "starting docker-registry $name on 127.0.0.1:$port (log: $ROOT/$name/registry.log)"
  nohup docker-registry serve "$ROOT/$name/config.yml" >"$ROOT/$name/registry.log" 2>&1 </dev/null &
  for _ in $(seq 50); do
    answers "$port" && return 0
    sleep 0.2
  done
  say "docker-registry $name did not answer on 127.0.0.1:$port within 10 s; its log ends:"
  tail -n 20 "$ROOT/$name/registry.log" >&2 || true
  exit 1
}

write_config plain 5000
write_config auth 5001 yes
if [ ! -s "$ROOT/auth/htpasswd" ]; then
  htpasswd -Bbn "$USER_NAME" "$PASSWORD" >"$ROOT/auth/htpasswd"
fi
start plain 5000
start auth 5001

# the image: redis:7-alpine plus a layer of its own, built once
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "building $IMAGE from the offline redis:7-alpine"
  ctx=$(mktemp -d)
  head -c 4000000 /dev/urandom >"$ctx/pad"
  printf 'FROM redis:7-alpine\nCOPY pad /eph-test-pad\nLABEL pytest-ephemeral.test=registry\n' \
    >"$ctx/Dockerfile"
  docker build -q -t "$IMAGE" "$ctx" >/dev/null 2>"$ctx.err" || { cat "$ctx.err" >&2; exit 1; }
  rm -f "$ctx.err"
  rm -rf "$ctx"
fi

push() {  # PORT [login]
  local port=$1 login=${2:-} cfg
  cfg=$(mktemp -d)  # a throwaway client configuration: never the user's own
  if [ -n "$login" ]; then
    printf '%s' "$PASSWORD" |
      DOCKER_CONFIG=$cfg docker login -u "$USER_NAME" --password-stdin "127.0.0.1:$port" >/dev/null
  fi
  docker tag "$IMAGE" "127.0.0.1:$port/$IMAGE"
  DOCKER_CONFIG=$cfg docker push -q "127.0.0.1:$port/$IMAGE" >/dev/null
  docker rmi "127.0.0.1:$port/$IMAGE" >/dev/null  # untag: tests pull it for real
  rm -rf "$cfg"
}

has_image 5000 || { say "pushing $IMAGE to 127.0.0.1:5000"; push 5000; }
has_image 5001 -u "$USER_NAME:$PASSWORD" || {
  say "pushing $IMAGE to 127.0.0.1:5001"
  push 5001 login
}
# no local copy under any of these names: a test's pull downloads for real
docker rmi "$IMAGE" >/dev/null 2>&1 || true
say "registries up on 127.0.0.1:5000 and :5001 (basic auth), holding $IMAGE"
