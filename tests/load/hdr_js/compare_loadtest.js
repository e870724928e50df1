// node compare_loadtest.js LOG RESULTS_JSON
//
// The log of a real `webpushd loadtest --hdr-log LOG --json` run, read with
// hdr-histogram-js and merged, must report the end-to-end latency that the
// run's own summary (RESULTS_JSON, latency_us.e2e) reports: the same count,
// max and percentiles. Exits 1 on any difference.
"use strict";

const fs = require("fs");
const hdr = require("hdr-histogram-js");

const [logPath, resultsPath] = process.argv.slice(2);
const reader = new hdr.HistogramLogReader(fs.readFileSync(logPath, "utf8"), 64);
const merged = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 3600e6,
                           numberOfSignificantValueDigits: 3 });
let intervals = 0;
for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
  merged.add(h);
  intervals += 1;
}
const e2e = JSON.parse(fs.readFileSync(resultsPath, "utf8")).latency_us.e2e;
const problems = [];
const check = (what, want, got) => {
  if (want !== got) problems.push(`${what}: loadtest's summary ${want}, hdr-histogram-js ${got}`);
};
check("count", e2e.count, merged.totalCount);
check("max", e2e.max, merged.maxValue);
for (const [key, p] of [["p50", 50], ["p90", 90], ["p99", 99], ["p99_9", 99.9]]) {
  check(key, e2e[key], merged.getValueAtPercentile(p));
}
if (e2e.count === 0) problems.push("the run received no message: nothing was compared");
for (const p of problems) console.log(p);
console.log(`${intervals} intervals, ${merged.totalCount} latencies: ${problems.length ? "DIFFERENT" : "the same"}`);
process.exit(problems.length ? 1 : 0);
