// node compare.js LOG EXPECTED_JSON
//
// Reads LOG (written by hdr-log-sample) with hdr-histogram-js's own
// HistogramLogReader and decoder, merges its intervals with the library's
// add(), and checks what the library reports against EXPECTED_JSON (what
// webpushd's load::Histogram reports for the same sample): counts exactly,
// and min, max and every percentile as the same integer. Prints each
// difference on a line of its own and exits 1 on any; prints a summary and
// exits 0 otherwise.
"use strict";

const fs = require("fs");
const hdr = require("hdr-histogram-js");

// 64-bit (Float64) counts: the decoder must not be the reason a count differs.
const kBitBucketSize = 64;

function readIntervals(logText) {
  const reader = new hdr.HistogramLogReader(logText, kBitBucketSize);
  const intervals = [];
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
    intervals.push(h);
  }
  return intervals;
}

// What hdr-histogram-js says about `h`, in the shape hdr-log-sample prints.
// Its min is minNonZeroValue: the sample records no zeros, so it is the
// lowest equivalent of the smallest value, as load::Histogram::min().
function figures(h, percentiles) {
  const out = { count: h.totalCount, max: h.maxValue, percentiles: {} };
  if (h.totalCount > 0) out.min = h.minNonZeroValue;
  for (const p of percentiles) out.percentiles[p] = h.getValueAtPercentile(Number.parseFloat(p));
  return out;
}

function compareFigures(where, expected, actual, problems) {
  const check = (what, want, got) => {
    if (want !== got) problems.push(`${where} ${what}: webpushd ${want}, hdr-histogram-js ${got}`);
  };
  check("count", expected.count, actual.count);
  check("max", expected.max, actual.max);
  if (expected.count > 0) check("min", expected.min, actual.min);
  for (const p of Object.keys(expected.percentiles)) {
    check(`p${p}`, expected.percentiles[p], actual.percentiles[p]);
  }
}

function compareTimes(where, start, expected, h, problems) {
  // The reader places each interval at BaseTime + start, in milliseconds.
  const wantStart = start + expected.start_s * 1000;
  const wantEnd = wantStart + expected.length_s * 1000;
  if (Math.round(h.startTimeStampMsec) !== Math.round(wantStart)) {
    problems.push(`${where} start: webpushd ${wantStart} ms, hdr-histogram-js ${h.startTimeStampMsec} ms`);
  }
  if (Math.round(h.endTimeStampMsec) !== Math.round(wantEnd)) {
    problems.push(`${where} end: webpushd ${wantEnd} ms, hdr-histogram-js ${h.endTimeStampMsec} ms`);
  }
}

function main() {
  const [logPath, expectedPath] = process.argv.slice(2);
  if (!logPath || !expectedPath) {
    console.error("usage: node compare.js LOG EXPECTED_JSON");
    process.exit(2);
  }
  const expected = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
  const intervals = readIntervals(fs.readFileSync(logPath, "utf8"));
  const problems = [];
  if (intervals.length !== expected.intervals.length) {
    problems.push(`intervals: webpushd wrote ${expected.intervals.length}, hdr-histogram-js read ${intervals.length}`);
  }
  const percentiles = Object.keys(expected.merged.percentiles);
  const count = Math.min(intervals.length, expected.intervals.length);
  for (let i = 0; i < count; ++i) {
    const where = `interval ${i}`;
    compareTimes(where, expected.start_unix_ms, expected.intervals[i], intervals[i], problems);
    compareFigures(where, expected.intervals[i], figures(intervals[i], percentiles), problems);
  }
  const merged = hdr.build({ bitBucketSize: kBitBucketSize, autoResize: true });
  for (const h of intervals) merged.add(h);
  compareFigures("merged", expected.merged, figures(merged, percentiles), problems);

  if (problems.length > 0) {
    console.error(`hdr-histogram-js disagrees with webpushd on ${problems.length} figure(s):`);
    for (const p of problems) console.error(`  ${p}`);
    process.exit(1);
  }
  const m = expected.merged;
  console.log(
    `hdr-histogram-js agrees: ${intervals.length} intervals, ${m.count} values, ` +
      `p50 ${m.percentiles["50"]} µs, p99.9 ${m.percentiles["99.9"]} µs, max ${m.max} µs`
  );
}

main();
