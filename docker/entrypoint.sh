#!/bin/sh
# The PromptLooper image's ENTRYPOINT (installed as /usr/local/bin/docker-entrypoint).
#   docker-entrypoint promptlooper serve|worker|...   run the command (the image's CMD is `promptlooper serve`)
#   docker-entrypoint serve|worker|mcp|migrate|run    the same, `promptlooper` implied: `docker run IMAGE worker`
#   docker-entrypoint health [api|worker]             the healthcheck (default: worker when PID 1 runs a worker)
set -eu

# The API is healthy when /health answers 200, or 503 with the database and Redis fine: then only
# workers are missing, which is reported by /health but is no reason to restart or wait on the API
# (workers start after the API has migrated the database).
health_api() {
    python - <<'PY'
import json, os, sys, urllib.error, urllib.request

url = "http://127.0.0.1:%s/health" % os.environ.get("PORT", "8400")
try:
    with urllib.request.urlopen(url, timeout=5) as response:
        print(response.read().decode())
except urllib.error.HTTPError as exc:
    try:
        body = json.load(exc)
    except ValueError:
        body = {}
    print(exc.code, body)
    sys.exit(0 if body.get("database") == "ok" and body.get("redis") in ("ok", "disabled") else 1)
except Exception as exc:
    print("unreachable: %s: %s" % (url, exc))
    sys.exit(1)
PY
}

# A worker is healthy when a process in this container heartbeated into Redis recently (the
# heartbeats /health counts; members are "<hostname>:<pid>").
health_worker() {
    python - <<'PY'
import os, socket, sys

import redis
from promptlooper.queue.coordination import WORKER_TTL_S, WORKERS_KEY

url = os.environ.get("REDIS_URL")
if not url:
    print("REDIS_URL is not set: workers need Redis")
    sys.exit(1)
client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)
seconds, micros = client.time()
prefix = socket.gethostname() + ":"
alive = [m for m in client.zrangebyscore(WORKERS_KEY, seconds + micros / 1e6 - WORKER_TTL_S, "+inf")
         if m.startswith(prefix)]
print("alive: %s" % (", ".join(alive) or "none"))
sys.exit(0 if alive else 1)
PY
}

if [ "${1:-}" = health ]; then
    role=${2:-auto}
    if [ "$role" = auto ]; then
        role=api
        if tr '\0' '\n' < /proc/1/cmdline 2> /dev/null | grep -qx worker; then
            role=worker
        fi
    fi
    case "$role" in
        api) health_api ;;
        worker) health_worker ;;
        *) echo "usage: docker-entrypoint health [api|worker]" >&2; exit 2 ;;
    esac
    exit
fi

case "${1:-}" in
    serve | worker | mcp | migrate | run | openapi) set -- promptlooper "$@" ;;
esac

# Single-container mode keeps its SQLite database (and generated secrets) in DATA_DIR: say so
# plainly when a bind mount is not writable by this user instead of failing deep inside SQLite.
if [ "${1:-}" = promptlooper ] && [ -z "${DATABASE_URL:-}" ]; then
    data_dir=${DATA_DIR:-/data}
    if ! mkdir -p "$data_dir" 2> /dev/null || [ ! -w "$data_dir" ]; then
        echo "docker-entrypoint: DATA_DIR $data_dir is not writable by uid $(id -u)." >&2
        echo "  For a bind mount, on the host: chown -R $(id -u):$(id -g) <the mounted directory>" >&2
        exit 1
    fi
fi

exec "$@"
