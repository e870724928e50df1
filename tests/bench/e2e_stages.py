#!/usr/bin/env python3
"""Joins the --trace lines of loadtest's sender, serve and the run daemon by
message id and prints each stage's latency percentiles (see tests/bench/e2e.sh).

Trace line: "HH:MM:SS.uuuuuu event key=value ...". The three processes run on
one machine, so their clocks agree; a run that crosses midnight is unwrapped.
"""
import json
import sys

STAGES = [
    ("post.sent", "push.accepted", "POST sent -> stored by the service"),
    ("push.accepted", "ws.out", "stored -> frame written (service)"),
    ("ws.out", "ws.in", "frame written -> frame read (daemon)"),
    ("ws.in", "inbox.put", "frame read -> decrypted, inbox put begins"),
    ("inbox.put", "inbox.committed", "inbox put -> committed"),
    ("inbox.committed", "sink.delivered", "committed -> JSON line written (fsync)"),
    ("post.sent", "sink.delivered", "end to end: POST sent -> JSON line written"),
]


def micros(stamp, last=[0]):
    h, m, s = stamp.split(":")
    sec, us = s.split(".")
    t = ((int(h) * 60 + int(m)) * 60 + int(sec)) * 1_000_000 + int(us)
    while t + 43_200_000_000 < last[0]:  # crossed midnight
        t += 86_400_000_000
    last[0] = max(last[0], t)
    return t


def lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or parts[0].count(":") != 2:
                continue  # a log line, not a trace line
            fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
            yield micros(parts[0]), parts[1], fields


def collect(sender, service, daemon):
    at = {}  # (event, id) -> µs
    sent_by_seq = {}
    for t, event, f in lines(sender):
        if event == "post.sent":
            sent_by_seq[f["seq"]] = t
        elif event == "post.answered" and f.get("status", "").startswith("2"):
            at[("post.sent", f["id"])] = sent_by_seq.get(f["seq"])
    for path in (service, daemon):
        put_at = None
        for t, event, f in lines(path):
            if event == "inbox.put":
                put_at = t  # the batch's committed lines follow
            elif event == "inbox.committed":
                at.setdefault(("inbox.put", f["id"]), put_at)
                at.setdefault((event, f["id"]), t)
            elif "id" in f:
                at.setdefault((event, f["id"]), t)
    return at


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def fmt(us):
    return f"{us / 1000:.3f} ms" if us < 1_000_000 else f"{us / 1e6:.3f} s"


def main():
    results_file, sender, service, daemon, jsonl = sys.argv[1:6]
    results = json.load(open(results_file))
    at = collect(sender, service, daemon)
    ids = [key[1] for key in at if key[0] == "post.sent" and at[key] is not None]
    print(f"{'stage':<46} {'p50':>10} {'p90':>10} {'p99':>10} {'p99.9':>10} {'max':>10} {'n':>7}")
    for start, end, name in STAGES:
        d = sorted(at[(end, i)] - at[(start, i)] for i in ids
                   if at.get((start, i)) is not None and at.get((end, i)) is not None)
        cells = "".join(f" {fmt(percentile(d, p)):>10}" for p in (50, 90, 99, 99.9, 100))
        print(f"{name:<46}{cells} {len(d):>7}")
    versions = []
    with open(jsonl, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if event.get("type") == "message":
                versions.append(event["version"])
    delivered = set(versions)
    lost = sum(1 for i in ids if i not in delivered)
    print()
    print(f"sent {results['posted']}, accepted {results['accepted']} "
          f"({results['rate_achieved']:.1f} msg/s of {results['rate_scheduled']:.0f} scheduled), "
          f"written by the daemon {len(versions)}: {lost} lost, {len(versions) - len(delivered)} duplicated")
    post = results["latency_us"]["post"]
    print(f"sender: POST -> 2xx p50 {fmt(post['p50'])}, p99 {fmt(post['p99'])}")
    return 1 if lost or len(versions) != len(delivered) else 0


if __name__ == "__main__":
    sys.exit(main())
