#!/usr/bin/env bash
# `npm run test:compose`: the README's first command on a real Docker host. From a clean state,
# `docker compose up --build -d`, wait for every health check, then through the published ports:
# create a token, a segment, change and read a user's segments, mint and download a report,
# ask Prometheus for a service metric and Grafana for the provisioned dashboard; then
# `docker compose down -v`. Prints each check; exits 1 on a failure, 3 when there is no Docker
# engine (nothing was checked: CI prints that as a skip, never as a pass).
set -uo pipefail
cd "$(dirname "$0")/.."

NO_ENGINE=3
PROJECT="${COMPOSE_SMOKE_PROJECT:-segmentation-smoke}"
API_PORT="${API_PORT:-3000}" PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}" GRAFANA_PORT="${GRAFANA_PORT:-3030}"
export API_PORT PROMETHEUS_PORT GRAFANA_PORT
TOKEN="${AUTH_BOOTSTRAP_TOKEN:-compose-local-bootstrap-token-change-me}"
API="http://127.0.0.1:$API_PORT"

if ! docker info >/dev/null 2>&1; then
  echo "compose smoke: SKIPPED — no Docker engine answers here (docker info failed); nothing was checked"
  exit "$NO_ENGINE"
fi
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose -p "$PROJECT"); else COMPOSE=(docker-compose -p "$PROJECT"); fi

pass() { printf '  ok    %s\n' "$*"; }
fail() {
  printf '  FAIL  %s\n' "$*"
  "${COMPOSE[@]}" ps
  "${COMPOSE[@]}" logs --tail 50 api worker
  "${COMPOSE[@]}" down -v >/dev/null 2>&1
  exit 1
}
# check NAME COMMAND…: runs the command, prints ok or fails the run.
check() {
  local name=$1
  shift
  if output=$("$@" 2>&1); then pass "$name"; else fail "$name: $output"; fi
}
# until_ok SECONDS COMMAND…: retries the command every 2 s.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 2
  done
}
api() { curl -fsS -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
healthy() {
  local service
  for service in postgres redis api worker; do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$("${COMPOSE[@]}" ps -q "$service")")" = healthy ] || return 1
  done
}

echo "compose smoke: project $PROJECT, ${COMPOSE[*]}"
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1
check "docker compose up --build -d" "${COMPOSE[@]}" up --build -d
check "every health check passes (postgres, redis, api, worker)" until_ok 240 healthy
check "readiness through the published port" curl -fsS "$API/health/ready"
check "a request without a token is refused (401)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $API/segments)\" = 401 ]"

created=$(api -X POST "$API/tokens" -d '{"name":"compose-smoke","scopes":["admin"]}') || fail "create a token: $created"
TOKEN=$(printf '%s' "$created" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] && pass "create a token with the bootstrap token" || fail "no token in $created"

check "create a segment" api -X POST "$API/segments" -d '{"slug":"COMPOSE_SMOKE"}'
check "change a user's segments" api -X PATCH "$API/users/1000/segments" -d '{"add":["COMPOSE_SMOKE"]}'
check "read them back" bash -c "curl -fsS -H 'authorization: Bearer $TOKEN' $API/users/1000/segments | grep -q '\"slug\":\"COMPOSE_SMOKE\"'"

month=$(date -u +%m) year=$(date -u +%Y)
link=$(api "$API/reports/segment-history?year=$year&month=$((10#$month))&user_id=1000" | sed -n 's/.*"report_url":"\([^"]*\)".*/\1/p')
[ -n "$link" ] && pass "mint a report link" || fail "no report link"
check "download the report (its path, on the published port)" bash -c "curl -fsS '$API/${link#*://*/}' | grep -q '^1000;COMPOSE_SMOKE;add;'"

check "Prometheus scrapes the API and the worker (up = 1)" until_ok 60 bash -c \
  "curl -fsS 'http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query?query=min(up)' | grep -q '\"value\":\[[0-9.]*,\"1\"\]'"
check "Prometheus has a service metric (http_requests_total)" until_ok 60 bash -c \
  "curl -fsS 'http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query?query=http_requests_total' | grep -q '\"service\":\"api\"'"
check "Grafana serves the provisioned dashboard" until_ok 60 bash -c \
  "curl -fsS 'http://127.0.0.1:$GRAFANA_PORT/api/dashboards/uid/segmentation' | grep -q '\"title\":\"Segmentation service\"'"

check "docker compose down -v" "${COMPOSE[@]}" down -v
echo "compose smoke: all checks passed"
