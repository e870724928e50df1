#!/usr/bin/env bash
# The daemon's end-to-end latency, stage by stage: the embedded service, the
# real `run` daemon (JSON-lines sink to a file) and loadtest's sender POSTing
# to the daemon's subscription at RATE msg/s for SECONDS, all three with
# --trace; then the trace lines are joined by message id and each stage's
# percentiles printed (tests/bench/e2e_stages.py), with lost and duplicated
# counted from the JSON-lines file.
#   tests/bench/e2e.sh [BUILD_DIR] [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
RATE=${2:-500}
SECONDS_=${3:-30}
W="$BUILD/src/cli/webpushd"
# shellcheck source=tests/bench/loopback.sh
source tests/bench/loopback.sh  # (the working directory is the repository)

"$W" -q serve --listen 127.0.0.1:0 --state-dir "$work/svc" --trace >"$work/serve.out" 2>"$work/serve.trace" &
service=$!
for _ in $(seq 100); do [[ -s "$work/serve.out" ]] && break; sleep 0.05; done
url=$(head -1 "$work/serve.out")
"$W" -q --state-dir "$work/ua" --server "$url" subscribe --name e2e >"$work/sub.json" 2>/dev/null
"$W" -q --state-dir "$work/ua" --server "$url" run --no-notify --jsonl "$work/out.jsonl" --trace \
  2>"$work/run.trace" &
daemon=$!
wait_for_daemon
for _ in $(seq 100); do grep -q '"connected":true' <("$W" --state-dir "$work/ua" status --json 2>/dev/null) && break; sleep 0.05; done

echo "e2e: $RATE msg/s for $SECONDS_ s to a webpushd daemon through webpushd serve (loopback)" >&2
"$W" loadtest --subscription "$work/sub.json" --rate "$RATE" --duration "$SECONDS_" --json --no-progress --trace \
  >"$work/loadtest.json" 2>"$work/loadtest.trace" || true
accepted=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accepted"])' "$work/loadtest.json")
for _ in $(seq 200); do
  [[ $(wc -l <"$work/out.jsonl" 2>/dev/null || echo 0) -ge $accepted ]] && break
  sleep 0.05
done
python3 tests/bench/e2e_stages.py "$work/loadtest.json" "$work/loadtest.trace" "$work/serve.trace" \
  "$work/run.trace" "$work/out.jsonl"
