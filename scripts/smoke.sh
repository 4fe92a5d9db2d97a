#!/usr/bin/env bash
# The Dockerfile's build and start steps, outside Docker: start the built API and worker,
# wait for /health/ready on both, then stop them with SIGTERM and expect clean exits.
# Needs DATABASE_URL and REDIS_URL (a database of its own is created and dropped).
set -euo pipefail
cd "$(dirname "$0")/.."

server_url="${DATABASE_URL:?DATABASE_URL is required}"
database="seg_smoke_$$"
export DATABASE_URL="${server_url%/*}/${database}"
export REDIS_PREFIX="smoke:$$" NODE_ENV=production REPORT_LINK_SECRET="smoke-test-report-link-secret-0123456789" PUBLIC_BASE_URL="http://127.0.0.1:3940"
export PORT="${SMOKE_API_PORT:-3910}" WORKER_PORT="${SMOKE_WORKER_PORT:-3911}"
export AUTH_BOOTSTRAP_TOKEN="smoke-test-bootstrap-token-0123456789abcdef"
auth=(-H "authorization: Bearer ${AUTH_BOOTSTRAP_TOKEN}")
logs="$(mktemp -d)"

cleanup() {
  kill "${api_pid:-}" "${worker_pid:-}" 2>/dev/null || true
  psql "$server_url" -qc "DROP DATABASE IF EXISTS ${database} WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_ready() {
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$1/health/ready" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "service on port $1 never became ready; logs:" >&2
  cat "$logs"/*.log >&2
  return 1
}

# Nest closes the application on SIGTERM, then re-raises the signal: 143 (128 + 15) is a clean stop.
stop() {
  kill -TERM "$1"
  local status=0
  wait "$1" || status=$?
  case "$status" in
    0 | 143) ;;
    *) echo "$2 exited with $status after SIGTERM" >&2; cat "$logs/$2.log" >&2; return 1 ;;
  esac
  grep -q 'Shutting down' "$logs/$2.log" || { echo "$2 did not shut down gracefully" >&2; cat "$logs/$2.log" >&2; return 1; }
}

node --enable-source-maps dist/apps/api/src/main.js >"$logs/api.log" 2>&1 &
api_pid=$!
wait_ready "$PORT"
RUN_MIGRATIONS=false node --enable-source-maps dist/apps/worker/src/main.js >"$logs/worker.log" 2>&1 &
worker_pid=$!
wait_ready "$WORKER_PORT"

curl -fsS "${auth[@]}" -X POST "http://127.0.0.1:$PORT/segments" -H 'content-type: application/json' -d '{"slug":"SMOKE"}' >/dev/null
curl -fsS "${auth[@]}" "http://127.0.0.1:$PORT/metrics" | grep -q '^http_requests_total'
curl -fsS "${auth[@]}" "http://127.0.0.1:$WORKER_PORT/metrics" | grep -q '^queue_jobs'

stop "$worker_pid" worker
stop "$api_pid" api
echo "smoke: API and worker started, answered ready and stopped cleanly on SIGTERM"
