#!/usr/bin/env bash
# The whole suite in two parts side by side: the tests that share Redis database 15 (and
# stop the Redis server) one after another, and the rest on TEST_WORKERS processes
# (pytest-xdist). Extra arguments go to both parts. Exit status: the worse of the two;
# 5 (no tests collected) only when neither part collected a test.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORKERS="${TEST_WORKERS:-2}"

shared_log="$(mktemp)"
"$BIN/pytest" -m shared_redis "$@" >"$shared_log" 2>&1 &
shared_pid=$!
"$BIN/pytest" -n "$WORKERS" -m "not shared_redis" "$@"
rest_rc=$?
wait "$shared_pid"
shared_rc=$?
echo
echo "==================== the tests sharing Redis (run one after another) ===================="
cat "$shared_log"
rm -f "$shared_log"

if [ "$rest_rc" -eq 5 ] && [ "$shared_rc" -eq 5 ]; then
    exit 5
fi
for rc in "$rest_rc" "$shared_rc"; do
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
        exit "$rc"
    fi
done
exit 0
