#!/usr/bin/python3
"""The UnifiedPush distributor's round trip: POST to the push service -> Message on the app's connector.

On loopback, on a private session bus (dbus-daemon), with nothing shared with the
user's own: `webpushd serve`, `webpushd run` (the distributor on), and the test
suite's fake app (tests/integration/unifiedpush/fake_connector.py, Connector2),
which decrypts each message with its own keys. This script encrypts each message
itself (RFC 8291 aes128gcm, python3-cryptography), POSTs it to the app's endpoint,
and waits for the app to report it: one message at a time, so every figure is a
whole round trip (encrypt excluded): HTTP POST, the service, the WebSocket, the
daemon's inbox commit (fsync) and ack, the D-Bus call, the app's decrypt.

    tests/bench/unifiedpush_rtt.py [--build DIR] [--count N]

Prints p50, p90, p99 and max in milliseconds. Needs dbus-daemon, python3-gi and
python3-cryptography.
"""

# Debian's python3 (python3-gi, python3-cryptography), as the tests use.
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True
from benchlib import Lines, print_percentiles  # noqa: E402
APP = "org.example.RoundTrip"


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(salt, ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def encrypt(subscription, plaintext):
    """RFC 8291 aes128gcm, one record."""
    ua_public = b64url_decode(subscription["keys"]["p256dh"])
    auth = b64url_decode(subscription["keys"]["auth"])
    as_key = ec.generate_private_key(ec.SECP256R1())
    as_public = as_key.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
    shared = as_key.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public))
    ikm = hkdf(auth, shared, b"WebPush: info\x00" + ua_public + as_public, 32)
    salt = os.urandom(16)
    cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    return salt + (4096).to_bytes(4, "big") + bytes([len(as_public)]) + as_public + record


def start(cmd, **kw):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)


def measure(webpushd, work, count):
    env = dict(os.environ)
    bus = start(["dbus-daemon", "--nofork", "--print-address=1",
                 "--config-file=" + os.path.join(ROOT, "tests/unit/sinks/session-bus.conf")],
                stderr=subprocess.DEVNULL)
    procs = [bus]
    try:
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        serve = start([webpushd, "-q", "serve", "--listen", "127.0.0.1:0", "--state-dir", work + "/svc"])
        procs.append(serve)
        url = serve.stdout.readline().strip()
        daemon = subprocess.Popen([webpushd, "-q", "--state-dir", work + "/ua", "--server", url, "run", "--no-notify"],
                                  env=env, stderr=subprocess.DEVNULL)
        procs.append(daemon)
        app = start([sys.executable, os.path.join(ROOT, "tests/integration/unifiedpush/fake_connector.py"),
                     "--name", APP], env=env, stdin=subprocess.PIPE)
        procs.append(app)
        events = Lines(app.stdout)
        events.json("event", "ready")
        for _ in range(200):  # until the daemon owns its name
            app.stdin.write("register rtt\n")
            app.stdin.flush()
            if events.json("event", "registered").get("result") == "REGISTRATION_SUCCEEDED":
                break
            time.sleep(0.05)
        sub = events.json("event", "new_endpoint")["subscription"]
        rtts = []
        for i in range(count + 20):  # the first 20 warm up
            body = encrypt(sub, f"message {i}".encode())
            request = urllib.request.Request(sub["endpoint"], data=body, method="POST",
                                             headers={"Content-Encoding": "aes128gcm", "TTL": "60"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=10) as r:
                if r.status >= 300:
                    raise RuntimeError(f"the service answered {r.status}")
            got = events.json("event", "message")
            t1 = time.perf_counter()
            if got.get("text") != f"message {i}":
                raise RuntimeError(f"message {i}: the app got {got}")
            if i >= 20:
                rtts.append((t1 - t0) * 1000)
        return sorted(rtts)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="the build directory (default: build)")
    parser.add_argument("--count", type=int, default=1000, help="messages measured (default: 1000)")
    args = parser.parse_args()
    webpushd = os.path.join(ROOT, args.build, "src/cli/webpushd")
    subprocess.run(["ninja", "-C", os.path.join(ROOT, args.build), "src/cli/webpushd", "src/cli/webpushd-run",
                    "src/unifiedpush/webpushd-unifiedpush.so"], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as work:
        started = time.monotonic()
        rtts = measure(webpushd, work, args.count)
        took = time.monotonic() - started
    print(f"UnifiedPush round trip, POST -> Message on the app's connector (Connector2), {len(rtts)} messages "
          f"one at a time, loopback, {args.build} ({took:.1f} s):")
    print_percentiles(rtts)


if __name__ == "__main__":
    main()
