#!/usr/bin/env bash
# The daemon's memory as messages pile up: the embedded service and a daemon on
# loopback (JSON-lines to a file), then N1 messages, then N2 in all, printing the
# daemon's VmRSS / VmHWM after each. Bounded memory means the second figure is
# not (N2 / N1) times the first.
#   tests/bench/messages_rss.sh [BUILD_DIR] [N1] [N2]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
N1=${2:-1000}
N2=${3:-20000}
W="$BUILD/src/cli/webpushd"
# shellcheck source=tests/bench/loopback.sh
source tests/bench/loopback.sh  # (the working directory is the repository)
start_service --msg-limit 10000000
"$W" -q --state-dir "$work/ua" --server "$url" subscribe --name rss >"$work/sub.json" 2>/dev/null
"$W" -q --state-dir "$work/ua" --server "$url" run --no-notify --jsonl "$work/out.jsonl" 2>"$work/run.err" &
daemon=$!
wait_for_daemon

# Sends messages until the file holds $1 lines, then prints the daemon's memory.
fill_to() {
  local want=$1 have
  have=$(wc -l <"$work/out.jsonl" 2>/dev/null || echo 0)
  "$W" -q send "$work/sub.json" --payload "a message of some forty bytes of text...." \
    --count $((want - have)) --rate 0 >/dev/null
  for _ in $(seq 600); do
    [[ $(wc -l <"$work/out.jsonl") -ge $want ]] && break
    sleep 0.1
  done
  printf 'after %6d messages: %s, %s\n' "$(wc -l <"$work/out.jsonl")" \
    "$(grep VmRSS /proc/"$daemon"/status | tr -s ' \t' ' ')" "$(grep VmHWM /proc/"$daemon"/status | tr -s ' \t' ' ')"
}
fill_to "$N1"
fill_to "$N2"
