#!/usr/bin/python3
"""Chrome's push service (FCM) end to end through the fake stack: latency and the daemon's footprint.

On loopback: the test suite's fake FCM stack (tests/integration/fcm/fake_fcm.py: checkin, registration, the Web
Push endpoint and an MCS server over TLS) and `webpushd run` with an [fcm] section pointing at it and
`--jsonl -`. One subscription (`subscribe --service fcm`). This script encrypts each message itself (RFC 8291
aes128gcm, python3-cryptography), POSTs it to the subscription's endpoint on a kept-alive HTTPS connection, and
waits for its line on the daemon's stdout: one message at a time, so each figure is a whole trip (encrypt
excluded): HTTPS POST, the fake, the MCS stream over TLS, the daemon's decrypt, inbox commit (fsync), the
JSON-lines sink, and the pipe. Then the daemon idles and its memory is read from /proc: VmRSS, Pss and USS
(Private_Clean + Private_Dirty).

    tests/bench/fcm_e2e.py [--build DIR] [--count N] [--idle S]

Prints p50, p90, p99 and max in milliseconds and the footprint. Needs python3-protobuf and python3-cryptography.
"""

import argparse
import http.client
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/integration/fcm"))
from benchlib import Lines, print_percentiles  # noqa: E402
from fcm_harness import Daemon, FakeFcm  # noqa: E402
from webpush_client import b64d, encrypt_aes128gcm  # noqa: E402

WARMUP = 20


def footprint(pid: int) -> dict:
    """VmRSS from /proc/PID/status; Pss and USS from smaps_rollup; in kB."""
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            out["rss"] = int(line.split()[1])
    rollup = {}
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        rollup[key] = int(value.split()[0])
    out["exe"] = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    out["pss"] = rollup["Pss"]
    out["uss"] = rollup["Private_Clean"] + rollup["Private_Dirty"]
    return out


def measure(webpushd: str, work: pathlib.Path, count: int, idle_s: float):
    with FakeFcm(work) as fake, Daemon(webpushd, work, fake, jsonl="-") as daemon:
        events = Lines(daemon.proc.stdout)
        sub = json.loads(daemon.subscribe("bench").read_text())
        endpoint = urllib.parse.urlsplit(sub["endpoint"])
        ua_public, auth = b64d(sub["keys"]["p256dh"]), b64d(sub["keys"]["auth"])
        conn = http.client.HTTPSConnection(endpoint.hostname, endpoint.port, context=fake.context, timeout=10)
        trips = []
        for i in range(count + WARMUP):
            text = f"fcm bench {i}"
            body = encrypt_aes128gcm(ua_public, auth, text.encode())
            t0 = time.perf_counter()
            conn.request("POST", endpoint.path, body=body, headers={"Content-Encoding": "aes128gcm", "TTL": "60"})
            reply = conn.getresponse()
            reply.read()
            if reply.status >= 300:
                raise RuntimeError(f"the fake answered {reply.status} to message {i}")
            got = events.json("type", "message")
            t1 = time.perf_counter()
            if got.get("payload") != text:
                raise RuntimeError(f"message {i}: the daemon wrote {got}")
            if i >= WARMUP:
                trips.append((t1 - t0) * 1000)
        conn.close()
        time.sleep(idle_s)
        memory = footprint(daemon.proc.pid)  # `webpushd run` execs webpushd-run: the same pid
        acked = len(fake.stats()["acked"])
        return sorted(trips), memory, acked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="the build directory (default: build)")
    parser.add_argument("--count", type=int, default=1000, help="messages measured (default: 1000)")
    parser.add_argument("--idle", type=float, default=10, help="seconds idle before memory is read (default: 10)")
    args = parser.parse_args()
    build = ROOT / args.build
    subprocess.run(["ninja", "-C", str(build), "src/cli/webpushd", "src/cli/webpushd-run", "src/fcm/webpushd-fcm.so"],
                   check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="webpushd-fcm-bench-") as tmp:
        started = time.monotonic()
        trips, memory, acked = measure(str(build / "src/cli/webpushd"), pathlib.Path(tmp), args.count, args.idle)
        took = time.monotonic() - started
    print(f"FCM end to end, POST to the fake's endpoint -> line on `run --jsonl -`, {len(trips)} messages one at "
          f"a time ({WARMUP} more to warm up), loopback, {args.build} ({took:.1f} s, {acked} acked at the fake):")
    print_percentiles(trips)
    ssl_cert_file = "set" if os.environ.get("SSL_CERT_FILE") else "unset"
    print(f"footprint after {args.idle:g} s idle, one FCM subscription active (SSL_CERT_FILE {ssl_cert_file}):")
    print(f"  {memory['exe']}: VmRSS {memory['rss'] / 1024:.1f} MB   Pss {memory['pss'] / 1024:.1f} MB   "
          f"USS {memory['uss'] / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
