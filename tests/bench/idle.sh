#!/usr/bin/env bash
# Idle daemon figures (docs: targets.md): start the embedded service and a daemon
# on loopback, make 20 subscriptions, leave it connected and idle for 60 s, then
# print its VmRSS / VmHWM and how many times it woke up (context switches).
#   tests/bench/idle.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
IDLE=${2:-60}
W="$BUILD/src/cli/webpushd"
# shellcheck source=tests/bench/loopback.sh
source tests/bench/loopback.sh  # (the working directory is the repository)
start_service
"$W" -q --state-dir "$work/ua" --server "$url" run --no-notify 2>"$work/run.err" &
daemon=$!
wait_for_daemon
for i in $(seq 1 20); do "$W" --state-dir "$work/ua" subscribe --name "idle-$i" >/dev/null 2>&1; done
ctx() { awk '/ctxt_switches/ {s += $2} END {print s}' /proc/"$daemon"/status; }
before=$(ctx)
sleep "$IDLE"
after=$(ctx)
"$W" --state-dir "$work/ua" status >/dev/null || { echo "idle: the daemon is not connected" >&2; exit 1; }
echo "idle daemon after ${IDLE} s connected with 20 subscriptions:"
grep -E "VmRSS|VmHWM" /proc/"$daemon"/status | sed 's/^/  /'
echo "  wake-ups (context switches) while idle: $((after - before))"
