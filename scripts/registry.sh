#!/usr/bin/env bash
# Start or stop a real OCI registry (Debian's docker-registry, distribution v2) on loopback, for trying
# `tsbuild pull/push` by hand. The tests start their own registries (test/helpers/registry.ts).
#
#   scripts/registry.sh start PORT DATADIR [basic USER PASS]   start one (idempotent); prints its URL
#   scripts/registry.sh stop PORT                               stop the one on PORT
#
# With "basic USER PASS" the registry requires HTTP basic auth (a bcrypt htpasswd file, made with htpasswd
# from apache2-utils). Logs go to DATADIR/registry.log (one line per request: the access log).
set -euo pipefail
cmd=${1:?start|stop}
port=${2:?port}
pidf=/tmp/tsbuild-registry-$port.pid

status() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null || true; }

case "$cmd" in
stop)
  if [ -f "$pidf" ]; then kill "$(cat "$pidf")" 2>/dev/null || true; fi
  rm -f "$pidf"
  ;;
start)
  data=${3:?datadir}
  mkdir -p "$data"
  data="$(cd "$data" && pwd)"
  code="$(status)"
  if [ "$code" = 200 ] || [ "$code" = 401 ]; then echo "http://127.0.0.1:$port"; exit 0; fi
  command -v docker-registry >/dev/null || { echo "registry.sh: docker-registry is not installed (scripts/setup-test-tools.sh)" >&2; exit 1; }
  auth=""
  if [ "${4:-}" = basic ]; then
    command -v htpasswd >/dev/null || { echo "registry.sh: htpasswd is not installed (apache2-utils)" >&2; exit 1; }
    htpasswd -Bbn "${5:?user}" "${6:?pass}" >"$data/htpasswd"
    auth=$'auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: '"$data/htpasswd"
  fi
  cat >"$data/config.yml" <<YML
version: 0.1
log: { level: info, accesslog: { disabled: false } }
storage:
  filesystem: { rootdirectory: $data/store }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:$port
$auth
YML
  setsid nohup docker-registry serve "$data/config.yml" >>"$data/registry.log" 2>&1 </dev/null &
  echo $! >"$pidf"
  for _ in $(seq 50); do
    code="$(status)"
    if [ "$code" = 200 ] || [ "$code" = 401 ]; then echo "http://127.0.0.1:$port"; exit 0; fi
    sleep 0.2
  done
  tail -5 "$data/registry.log" >&2
  exit 1
  ;;
*)
  echo "usage: $0 start PORT DATADIR [basic USER PASS] | stop PORT" >&2
  exit 2
  ;;
esac
