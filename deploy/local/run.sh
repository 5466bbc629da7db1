#!/usr/bin/env bash
# `make run` after bootstrap + services: migrate, make a demo user and API key, print an example
# request, then serve on $HOST:$PORT (and run app/worker.py alongside, when it exists).
# The demo key is kept in $RUN_DIR/demo-key.$DEMO_USER (mode 0600) and reused at the next start;
# a new one is made only when the stored one no longer authenticates (revoked, expired, database
# recreated).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
DEMO_USER=${DEMO_USER:-demo}
SAMPLE=${SAMPLE:-../shared/hae-samples/ivailop7__Healthkit-influxdb-grafana__sample-data.json}
BIN=$ROOT/.venv/bin
RUN_DIR=${RUN_DIR:-$ROOT/.run}
KEY_FILE=$RUN_DIR/demo-key.$DEMO_USER

[ -f "$RUN_DIR/env" ] || { echo "run: $RUN_DIR/env missing; run deploy/local/services.sh first" >&2; exit 1; }
# shellcheck source=/dev/null
. "$RUN_DIR/env"

"$BIN/alembic" upgrade head

rc=0
"$BIN/python" -m app.cli users create "$DEMO_USER" || rc=$?
case $rc in
0) ;;
3) echo "run: user $DEMO_USER exists already" ;;
*) echo "run: creating user $DEMO_USER failed (exit $rc)" >&2; exit "$rc" ;;
esac

# The stored key, when it still authenticates; exit 4 from `keys verify` means it does not.
stored_key() {
    [ -s "$KEY_FILE" ] || return 0
    local rc=0 why
    why=$("$BIN/python" -m app.cli keys verify <"$KEY_FILE" 2>&1 >/dev/null) || rc=$?
    case $rc in
    0) cat "$KEY_FILE" ;;
    4) echo "run: the stored demo key no longer authenticates ($why); making a new one" >&2 ;;
    *) printf 'run: checking the stored demo key failed (exit %s)\n%s\n' "$rc" "$why" >&2; return "$rc" ;;
    esac
}

new_key() {
    local out key
    out=$("$BIN/python" -m app.cli keys create "$DEMO_USER" --name demo)
    key=${out##*$'\n'}
    [ -n "$key" ] || { echo "run: 'app.cli keys create' printed no key" >&2; return 1; }
    # Written whole (no half key after a crash), readable by this user only.
    rm -f "$KEY_FILE.new"
    (umask 077 && printf '%s\n' "$key" >"$KEY_FILE.new")
    mv -f "$KEY_FILE.new" "$KEY_FILE"
    printf '%s\n' "$key"
}

key=$(stored_key)
[ -n "$key" ] || key=$(new_key)

if [ -f "$SAMPLE" ]; then
    body="--data-binary @$SAMPLE"
else
    body=$'--data-binary \'{"data":{"metrics":[{"name":"step_count","units":"count","data":[{"date":"2024-01-01 10:00:00 +0000","qty":42}]}]}}\''
fi
cat <<EOF

Demo API key for user $DEMO_USER: $key
Try (from $ROOT):
  curl -sS -X POST http://$HOST:$PORT/v1/ingest -H "Authorization: Bearer $key" -H 'Content-Type: application/json' $body

EOF

if [ ! -f app/worker.py ]; then
    exec "$BIN/uvicorn" app.main:app --host "$HOST" --port "$PORT" --no-server-header
fi

# Both in the background so that our traps run at once; background jobs ignore SIGINT, so
# Ctrl-C reaches them through the INT trap (as a TERM, which both shut down gracefully on).
worker='' server=''
# shellcheck disable=SC2317,SC2086  # called by trap; $server/$worker may be empty still
cleanup() {
    trap - EXIT INT TERM
    kill -TERM $server $worker 2>/dev/null || true
    wait $server $worker 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$BIN/python" -m app.worker &
worker=$!
"$BIN/uvicorn" app.main:app --host "$HOST" --port "$PORT" --no-server-header &
server=$!
rc=0
wait "$server" || rc=$?
exit "$rc"
