#!/usr/bin/env bash
# The hdr-histogram-js cross-check: run.sh SOURCE_DIR SAMPLE_TOOL SCRATCH_DIR WEBPUSHD
#
# Installs the pinned hdr-histogram-js (package-lock.json) into SCRATCH_DIR with
# `npm ci`, as CI installs this test's dependency, has SAMPLE_TOOL write an
# interval log and the figures webpushd expects for it, and has compare.js read
# the log with hdr-histogram-js and compare. npm failing is a failure, not a
# skip: a check that silently does not run checks nothing. Then the same for
# the log of a real `webpushd loadtest --embedded` run against its own summary.
set -euo pipefail
src=$1 tool=$2 scratch=$3 webpushd=$4

rm -rf "$scratch"
mkdir -p "$scratch"
cp "$src/package.json" "$src/package-lock.json" "$src/compare.js" "$src/compare_loadtest.js" "$scratch/"

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "FAIL: node and npm are needed to install and run hdr-histogram-js" >&2
  exit 1
fi
if ! (cd "$scratch" && npm ci --no-audit --no-fund) >"$scratch/npm.log" 2>&1; then
  echo "FAIL: 'npm ci' could not install hdr-histogram-js from $src/package-lock.json" >&2
  echo "      (is the npm registry reachable? npm's output follows)" >&2
  cat "$scratch/npm.log" >&2
  exit 1
fi

"$tool" "$scratch/sample.hlog" >"$scratch/expected.json"
echo "log: $scratch/sample.hlog, expected figures: $scratch/expected.json"
node "$scratch/compare.js" "$scratch/sample.hlog" "$scratch/expected.json"

"$webpushd" loadtest --embedded --user-agents 5 --rate 300 --duration 3 --json --no-progress \
  --hdr-log "$scratch/loadtest.hlog" >"$scratch/loadtest.json"
echo "loadtest log: $scratch/loadtest.hlog, its summary: $scratch/loadtest.json"
node "$scratch/compare_loadtest.js" "$scratch/loadtest.hlog" "$scratch/loadtest.json"
