#!/usr/bin/python3
"""Proves fake_fcm.py works without webpushd: starts it, then plays the user agent (checkin, register3, Firebase
installation and registration, an MCS client of its own) and the application server (`webpushd send` with
--webpushd PATH, else Python RFC 8291 encryption), and checks deliveries, acks, redelivery, heartbeats, Close and
the endpoint's refusals. Prints one PASS/FAIL line per check; exit status 0 only if every check passed.

    fake_fcm_selftest.py [--webpushd PATH] [--fake PATH]
"""

import argparse
import http.client
import json
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, str(HERE))

import webpush_client as wp  # noqa: E402
from fakefcm import protos  # noqa: E402  (only to run protoc)

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

APP = "org.chromium.linux"
SUBTYPE = "wp:selftest#0001"
FID = "c" + wp.b64e(os.urandom(16))[:21]


class Failed(Exception):
    pass


class Checks:
    def __init__(self):
        self.failed = []
        self.passed = 0

    def __call__(self, name: str, ok: bool, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)
        return ok

    def require(self, name: str, ok: bool, detail: str = "") -> None:
        if not self(name, ok, detail):
            raise Failed(name)


# The fake as a child process -------------------------------------------------------------------------------------

class Fake:
    def __init__(self, script: pathlib.Path, workdir: pathlib.Path):
        self.ready_file = workdir / "ready.json"
        self.log_path = workdir / "fake_fcm.log"
        cmd = [sys.executable, str(script), "--cert-dir", str(workdir / "certs"), "--ready-file",
               str(self.ready_file), "--http-port", "0", "--heartbeat-interval-ms", "60000"]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log_file)
        deadline = time.monotonic() + 30
        while not self.ready_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake_fcm did not start; its log:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.ready = json.loads(self.ready_file.read_text())
        self.ssl = ssl.create_default_context(cafile=self.ready["ca_file"])

    def request(self, method, path, body=b"", headers=None, plain=False):
        """(status, headers dict lower-case, body bytes) from the HTTPS (or plain HTTP) port."""
        if plain:
            conn = http.client.HTTPConnection("127.0.0.1", self.ready["http_port"], timeout=10)
        else:
            conn = http.client.HTTPSConnection("127.0.0.1", self.ready["https_port"], timeout=10, context=self.ssl)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        conn.close()
        return out

    def control(self, action, value=None):
        status, _, body = self.request("POST", f"/control/{action}", json.dumps(value or {}).encode())
        if status != 200:
            raise RuntimeError(f"control/{action}: {status} {body!r}")
        return json.loads(body)

    def stats(self):
        return json.loads(self.request("GET", "/control/stats")[2])

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1
        finally:
            self.log_file.close()


# An MCS client of its own ----------------------------------------------------------------------------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class Mcs:
    """Blocking TLS client; counts frames both ways (the login exchange being 1 on each side)."""

    def __init__(self, fake: Fake, pb):
        raw = socket.create_connection(("127.0.0.1", fake.ready["mcs_port"]), timeout=10)
        self.sock = fake.ssl.wrap_socket(raw, server_hostname="127.0.0.1")
        self.pb = pb
        self.buf = b""
        self.sent = 0
        self.received = 0

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                chunk = b""
            if not chunk:
                return False
            self.buf += chunk
        return True

    def _take(self, n: int):
        if not self._fill(n):
            return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def version(self) -> int:
        return self._take(1)[0]

    def recv(self):
        """(tag, body), or None at end of stream."""
        head = self._take(1)
        if head is None:
            return None
        length, shift = 0, 0
        while True:
            byte = self._take(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        self.received += 1
        return head[0], self._take(length)

    def send(self, tag: int, message) -> None:
        body = message.SerializeToString()
        self.sock.sendall(bytes([tag]) + varint(len(body)) + body)
        self.sent += 1

    def login(self, device, received_ids=()):
        """Sends version + LoginRequest; returns (server version, LoginResponse or None)."""
        req = self.pb.LoginRequest(id="chrome-63.0.3234.0", domain="mcs.android.com", user=str(device[0]),
                                   resource=str(device[0]), auth_token=str(device[1]),
                                   device_id=f"android-{device[0]:x}", auth_service=2, network_type=1,
                                   use_rmq2=True, adaptive_heartbeat=False)
        req.setting.add(name="new_vc", value="1")
        req.received_persistent_id.extend(received_ids)
        self.sock.sendall(bytes([41]))
        self.send(2, req)
        version = self.version()
        frame = self.recv()
        if frame is None or frame[0] != 3:
            return version, None
        return version, self.pb.LoginResponse.FromString(frame[1])

    def barrier(self, **ping_fields):
        """Pings and returns the frames that came before the HeartbeatAck and the ack itself."""
        self.send(0, self.pb.HeartbeatPing(**ping_fields))
        before = []
        while True:
            frame = self.recv()
            if frame is None:
                raise RuntimeError("connection ended while waiting for a HeartbeatAck")
            if frame[0] == 1:
                return before, self.pb.HeartbeatAck.FromString(frame[1])
            before.append(frame)

    def data(self, frame):
        if frame is None or frame[0] != 8:
            raise RuntimeError(f"expected a DataMessageStanza, got {frame and frame[0]}")
        return self.pb.DataMessageStanza.FromString(frame[1])

    def iq_ack(self, extension_id: int, data: bytes = b"", **fields) -> None:
        iq = self.pb.IqStanza(type=self.pb.IqStanza.SET, id="", **fields)
        iq.extension.id = extension_id
        iq.extension.data = data
        self.send(7, iq)

    def close(self) -> None:
        self.sock.close()


# The application server -----------------------------------------------------------------------------------------

class Sender:
    """POSTs a push: with `webpushd send`, or in Python. `webpushd send` without --ca-file cannot trust the fake's
    CA, so it then goes through the fake's plain-HTTP port (--http-port)."""

    def __init__(self, fake: Fake, webpushd, workdir: pathlib.Path):
        self.fake = fake
        self.webpushd = webpushd
        self.workdir = workdir
        self.count = 0
        self.base_url = fake.ready["http_base_url"]
        self.ca_args = []
        if webpushd:
            help_text = subprocess.run([webpushd, "send", "--help"], capture_output=True, text=True,
                                       check=False).stdout
            if "--ca-file" in help_text:  # a send that can trust the fake's CA talks HTTPS like a real sender
                self.base_url, self.ca_args = fake.ready["base_url"], ["--ca-file", fake.ready["ca_file"]]

    def send(self, token: str, keys, payload: bytes, encoding: str, vapid=None):
        """(status, Location) of a push of payload to /fcm/send/<token>; vapid is a private key or None."""
        path = "/fcm/send/" + urllib.parse.quote(token, safe=":")
        if self.webpushd:
            return self._webpushd(path, keys, payload, encoding, vapid)
        if encoding == "aes128gcm":
            body, headers = wp.encrypt_aes128gcm(keys.public, keys.auth, payload), {}
        else:
            body, encryption, crypto_key = wp.encrypt_aesgcm(keys.public, keys.auth, payload)
            headers = {"Encryption": encryption, "Crypto-Key": crypto_key}
        headers.update({"TTL": "60", "Content-Encoding": encoding, "Content-Type": "application/octet-stream"})
        if vapid is not None:
            headers["Authorization"] = wp.vapid_header(vapid, self.fake.ready["base_url"])
        status, resp_headers, _ = self.fake.request("POST", path, body, headers)
        return status, resp_headers.get("location", "")

    def _webpushd(self, path, keys, payload, encoding, vapid):
        self.count += 1
        sub = self.workdir / f"sub{self.count}.json"
        sub.write_text(json.dumps({"endpoint": self.base_url + path,
                                   "keys": {"p256dh": wp.b64e(keys.public), "auth": wp.b64e(keys.auth)}}))
        cmd = [self.webpushd, "send", str(sub), "--payload", payload.decode(), "--encoding", encoding, *self.ca_args]
        if vapid is not None:
            key_file = self.workdir / f"vapid{self.count}.pem"
            wp.write_pem(vapid, key_file)
            cmd += ["--vapid-key-file", str(key_file), "--vapid-subject", "mailto:selftest@localhost"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        lines = done.stdout.splitlines()
        if not lines or not lines[0].isdigit():
            raise RuntimeError(f"webpushd send printed {done.stdout!r}, stderr {done.stderr!r}")
        location = next((line.split(": ", 1)[1] for line in lines if line.startswith("Location: ")), "")
        return int(lines[0]), location


# The checks -----------------------------------------------------------------------------------------------------

class SelfTest:
    def __init__(self, fake, pb, sender, check):
        self.fake, self.pb, self.sender, self.check = fake, pb, sender, check
        self.device = None
        self.keys = wp.UserAgentKeys()
        self.vapid = ec.generate_private_key(ec.SECP256R1())
        self.sender_key = wp.b64e(wp.public_bytes(self.vapid))

    def checkin(self, android_id=0, token=0):
        req = self.pb.checkin.AndroidCheckinRequest(version=3, user_serial_number=0)
        req.checkin.type = 3  # DEVICE_CHROME_BROWSER
        req.checkin.chrome_build.platform = 3
        req.checkin.chrome_build.chrome_version = "63.0.3234.0"
        req.checkin.chrome_build.channel = 1
        if android_id:
            req.id, req.security_token = android_id, token
        status, _, body = self.fake.request("POST", "/checkin", req.SerializeToString(),
                                            {"Content-Type": "application/x-protobuf"})
        if status != 200:
            return status, None
        resp = self.pb.checkin.AndroidCheckinResponse.FromString(body)
        return status, (resp.android_id, resp.security_token)

    def identity(self) -> None:
        check = self.check
        status, device = self.checkin()
        check.require("checkin: a new identity", status == 200 and device and device[0] and device[1], str(status))
        check("checkin: android id fits int64, token uses 64 bits", device[0] < 2**63 and device[1] >= 2**63)
        self.device = device
        check("checkin: known id+token gets the same identity", self.checkin(*device) == (200, device))
        check("checkin: wrong token refused", self.checkin(device[0], device[1] ^ 1)[0] == 401)
        status = self.fake.request("POST", "/checkin", b"\xff\xff\xff", {})[0]
        check("checkin: garbage body refused", status == 400, str(status))
        checkins = self.fake.stats()["checkins"]
        check("stats: checkins counted (not the unparseable one)", checkins == 3, str(checkins))

    def register3(self, auth=None, **extra):
        form = {"app": APP, "X-subtype": SUBTYPE, "device": str(self.device[0]), "sender": self.sender_key}
        form.update(extra)
        headers = {"Authorization": auth or f"AidLogin {self.device[0]}:{self.device[1]}",
                   "Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = self.fake.request("POST", "/c2dm/register3", urllib.parse.urlencode(form).encode(), headers)
        return status, body.decode()

    def firebase(self, path, value, auth=None, key="fake-api-key"):
        headers = {"x-goog-api-key": key, "Content-Type": "application/json"}
        if auth:
            headers["x-goog-firebase-installations-auth"] = auth
        status, _, body = self.fake.request("POST", f"/v1/projects/fake-project/{path}", json.dumps(value).encode(),
                                            headers)
        return status, json.loads(body)

    def registration(self) -> None:
        check = self.check
        status, body = self.register3(auth=f"AidLogin {self.device[0]}:{self.device[1] ^ 1}")
        check("register3: bad AidLogin refused", status == 401 and "Error=AUTHENTICATION_FAILED" in body, body)
        self.fake.control("fail-registrations", {"count": 1})
        status, body = self.register3()
        check("register3: fail-registrations knob", body == "Error=PHONE_REGISTRATION_ERROR", body)
        status, body = self.register3()
        check.require("register3: token", status == 200 and body.startswith("token="), body)
        self.gcm_token = body[len("token="):]
        installation = {"appId": "1:123:web:abc", "authVersion": "FIS_v2", "fid": FID, "sdkVersion": "w:0.6.6"}
        status, body = self.firebase("installations", installation, key="wrong")
        check("installation: wrong API key gets 403 PERMISSION_DENIED",
              status == 403 and body.get("error", {}).get("status") == "PERMISSION_DENIED", str(body))
        status, body = self.firebase("installations", installation)
        check.require("installation: fid and auth token", status == 200 and body.get("fid") == FID
                      and body["authToken"]["expiresIn"] == "604800s", str(body))
        auth = body["authToken"]["token"]
        web = {"web": {"endpoint": f"https://fcm.googleapis.com/fcm/send/{self.gcm_token}",
                       "p256dh": wp.b64e(self.keys.public), "auth": wp.b64e(self.keys.auth),
                       "applicationPubKey": self.sender_key}}
        status, body = self.firebase("registrations", web, auth="not-a-token")
        check("fcm registration: bad installation auth refused", status == 401, str(status))
        status, body = self.firebase("registrations", web, auth=auth)
        check.require("fcm registration: token", status == 200 and body.get("token"), str(body))
        self.fcm_token = body["token"]
        check("fcm registration: FCM token differs from the GCM token", self.fcm_token != self.gcm_token)

    # MCS ----------------------------------------------------------------------------------------------------

    def connect(self, received_ids=()):
        conn = Mcs(self.fake, self.pb.mcs)
        version, response = conn.login(self.device, received_ids)
        ok = version == 41 and response is not None and not response.HasField("error")
        self.check.require("mcs: version 41 and a LoginResponse without error", ok, f"{version} {response}")
        return conn, response

    def push(self, conn, name, token, payload, encoding):
        status, location = self.sender.send(token, self.keys, payload, encoding, self.vapid)
        self.check.require(f"{name}: 201 with a Location", status == 201 and location, f"{status} {location!r}")
        stanza = conn.data(conn.recv())
        app = {a.key: a.value for a in stanza.app_data}
        self.check(f"{name}: category is the register3 app", stanza.category == APP, stanza.category)
        self.check(f"{name}: app_data subtype is the X-subtype", app.get("subtype") == SUBTYPE, str(app))
        self.check(f"{name}: from is the register3 sender", getattr(stanza, "from") == self.sender_key)
        self.check(f"{name}: content-encoding {encoding}", app.get("content-encoding") == encoding, str(app))
        self.check(f"{name}: persistent_id set", bool(stanza.persistent_id))
        if encoding == "aes128gcm":
            plain = wp.decrypt_aes128gcm(self.keys, stanza.raw_data)
        else:
            self.check(f"{name}: crypto-key dh= and encryption salt=",
                       "dh=" in app.get("crypto-key", "") and "salt=" in app.get("encryption", ""), str(app))
            plain = wp.decrypt_aesgcm(self.keys, stanza.raw_data, app["encryption"], app["crypto-key"])
        self.check(f"{name}: raw_data decrypts to the payload", plain == payload, repr(plain))
        return stanza.persistent_id

    def acked_via(self, pid):
        return next((a["via"] for a in self.fake.stats()["acks"] if a["persistent_id"] == pid), None)

    def login_refused(self) -> None:
        conn = Mcs(self.fake, self.pb.mcs)
        version, response = conn.login((self.device[0], self.device[1] ^ 1))
        self.check("mcs: wrong auth_token gets a LoginResponse with an error",
                   response is not None and response.error.code != 0, str(response))
        self.check("mcs: ... then the connection ends", conn.recv() is None)
        conn.close()
        conn = Mcs(self.fake, self.pb.mcs)
        conn.sock.sendall(bytes([40]))
        self.check("mcs: client version 40 refused (connection ends)", conn.recv() is None)
        conn.close()

    def acks(self) -> None:
        check = self.check
        conn, response = self.connect()
        check("mcs: LoginResponse carries heartbeat_config", response.heartbeat_config.interval_ms == 60000)
        a = self.push(conn, "push aes128gcm via GCM token", self.gcm_token, b"hello aes128gcm", "aes128gcm")
        b = self.push(conn, "push aesgcm via FCM token", self.fcm_token, b"hello aesgcm", "aesgcm")
        conn.iq_ack(12, self.pb.mcs.SelectiveAck(id=[a]).SerializeToString())
        conn.barrier()
        check("selective ack: acknowledged", self.acked_via(a) == "selective")
        conn.close()
        conn, _ = self.connect()
        before, _ = conn.barrier()
        ids = [conn.data(f).persistent_id for f in before]
        check("re-login: the unacked message is redelivered, the acked one is not", ids == [b], str(ids))
        conn.close()
        conn, _ = self.connect(received_ids=[b])
        before, _ = conn.barrier()
        check("login received_persistent_id: acknowledges", not before and self.acked_via(b) == "login")
        check("stats: the login's received_persistent_ids", self.fake.stats()["logins"][-1]["received_persistent_ids"]
              == [b])
        self.stream_acks(conn)
        conn.close()
        conn, _ = self.connect()
        before, _ = conn.barrier()
        check("re-login after stream acks: nothing redelivered", not before, str(len(before)))
        return conn

    def stream_acks(self, conn) -> None:
        check = self.check
        c = self.push(conn, "push for StreamAck", self.gcm_token, b"c", "aes128gcm")
        conn.iq_ack(13, last_stream_id_received=conn.received)
        conn.barrier()
        check("StreamAck with last_stream_id_received: acknowledges", self.acked_via(c) == "stream")
        d = self.push(conn, "push for a ping's last_stream_id_received", self.gcm_token, b"d", "aes128gcm")
        conn.barrier(last_stream_id_received=conn.received)
        check("stream_ack_mode any: a ping's last_stream_id_received acknowledges", self.acked_via(d) == "stream_id")
        self.fake.control("config", {"stream_ack_mode": "iq"})
        e = self.push(conn, "push in stream_ack_mode iq", self.gcm_token, b"e", "aes128gcm")
        conn.barrier(last_stream_id_received=conn.received)
        check("stream_ack_mode iq: a ping does not acknowledge", self.acked_via(e) is None)
        conn.iq_ack(13)
        conn.barrier()
        check("StreamAck without last_stream_id_received: acknowledges all sent", self.acked_via(e) == "stream")
        self.fake.control("config", {"stream_ack_mode": "any"})

    def heartbeats(self, conn) -> None:
        check = self.check
        _, ack = conn.barrier()
        check("heartbeat: ping answered, ack reports the server's count", ack.last_stream_id_received == conn.sent,
              f"{ack.last_stream_id_received} != {conn.sent}")
        self.fake.control("heartbeats", {"answer": False})
        seen = self.fake.stats()["heartbeats_received"]
        conn.send(0, self.pb.mcs.HeartbeatPing())
        deadline = time.monotonic() + 10
        while self.fake.stats()["heartbeats_received"] == seen and time.monotonic() < deadline:
            time.sleep(0.02)
        status, _ = self.sender.send(self.gcm_token, self.keys, b"held", "aes128gcm", self.vapid)
        held = [m for m in self.fake.stats()["messages"] if m["deliveries"] == 0 and not m["acked"]]
        check("silent: a push is accepted but not delivered", status == 201 and len(held) == 1, str(held))
        self.fake.control("heartbeats", {"answer": True})
        before, ack = conn.barrier()
        check("silent: the ping sent meanwhile was never answered", ack.last_stream_id_received == conn.sent,
              f"first ack reports {ack.last_stream_id_received}, last ping was frame {conn.sent}")
        ids = [conn.data(f).persistent_id for f in before]
        check("resumed: the held push is delivered", ids == [held[0]["persistent_id"]], str(ids))
        conn.iq_ack(12, self.pb.mcs.SelectiveAck(id=ids).SerializeToString())
        answer = self.fake.control("ping")
        frame = conn.recv()
        check("control/ping: the server sends a HeartbeatPing", answer["connections"] == 1 and frame[0] == 0,
              f"{answer} {frame}")
        conn.send(1, self.pb.mcs.HeartbeatAck())
        conn.barrier()
        check("control/ping: the client's HeartbeatAck is counted", self.fake.stats()["heartbeat_acks_received"] == 1)
        conn.sock.sendall(bytes([15, 2, 8, 1]))  # TalkMetadata, a tag nobody handles
        conn.barrier()
        check("unknown tag: ignored, connection alive", self.fake.stats()["unknown_tags"] == 1)

    def closing(self, conn) -> None:
        check = self.check
        self.fake.control("close")
        frame = conn.recv()
        check("control/close: a Close (tag 4) frame", frame is not None and frame[0] == 4, str(frame))
        check("control/close: then the connection ends", conn.recv() is None)
        conn.close()
        conn, _ = self.connect()
        self.fake.control("drop")
        check("control/drop: the connection ends without a Close", conn.recv() is None)
        conn.close()
        conn, _ = self.connect()
        conn.sock.sendall(bytes([8]) + varint(5 * 1024 * 1024))
        check("frame over 4 MiB: the connection ends", conn.recv() is None)
        conn.close()

    # The Web Push endpoint's refusals and unsubscription -----------------------------------------------------

    def raw_push(self, token, body=None, vapid=True, **headers):
        body = wp.encrypt_aes128gcm(self.keys.public, self.keys.auth, b"x") if body is None else body
        base = {"TTL": "60", "Content-Encoding": "aes128gcm"}
        if vapid:
            base["Authorization"] = wp.vapid_header(self.vapid, self.fake.ready["base_url"])
        base.update({k.replace("_", "-"): v for k, v in headers.items() if v is not None})
        for k in [k for k, v in headers.items() if v is None]:
            base.pop(k.replace("_", "-"), None)
        return self.fake.request("POST", "/fcm/send/" + token, body, base)[0]

    def refusals(self) -> None:
        check = self.check
        check("endpoint: unknown token 404", self.raw_push("nope") == 404)
        check("endpoint: restricted subscription without VAPID 403", self.raw_push(self.gcm_token, vapid=False) == 403)
        other = ec.generate_private_key(ec.SECP256R1())
        status, _ = self.sender.send(self.gcm_token, self.keys, b"other", "aes128gcm", other)
        check("endpoint: VAPID key not the applicationPubKey 403", status == 403, str(status))
        good = wp.vapid_header(self.vapid, self.fake.ready["base_url"])
        cut = good.index(", k=") - 10  # a character inside the signature
        bad = good[:cut] + ("B" if good[cut] == "A" else "A") + good[cut + 1:]
        check("endpoint: VAPID signature that does not verify 401",
              self.raw_push(self.gcm_token, Authorization=bad) == 401)
        wrong_aud = wp.vapid_header(self.vapid, "https://example.com")
        check("endpoint: VAPID aud of another origin 401",
              self.raw_push(self.gcm_token, Authorization=wrong_aud) == 401)
        check("endpoint: bad Urgency 400", self.raw_push(self.gcm_token, Urgency="soon") == 400)
        check("endpoint: missing TTL 400", self.raw_push(self.gcm_token, TTL=None) == 400)
        check("endpoint: body over 4096 bytes 413", self.raw_push(self.gcm_token, body=bytes(5000)) == 413)
        check("endpoint: truncated aes128gcm body 400", self.raw_push(self.gcm_token, body=bytes(30)) == 400)
        check("endpoint: unknown Content-Encoding 415", self.raw_push(self.gcm_token, Content_Encoding="gzip") == 415)
        check("endpoint: TTL 0 with no connection is accepted", self.raw_push(self.gcm_token, TTL="0") == 201)
        last = self.fake.stats()["messages"][-1]
        check("endpoint: ... and dropped, not queued", last["expired"] and last["deliveries"] == 0, str(last))

    def unsubscribe(self) -> None:
        status, body = self.register3(delete="true")
        self.check("register3 delete=true: deleted=<app id>", status == 200 and body == f"deleted={SUBTYPE}", body)
        self.check("endpoint: GCM token after unsubscribe 410", self.raw_push(self.gcm_token) == 410)
        self.check("endpoint: FCM token after unsubscribe 410", self.raw_push(self.fcm_token) == 410)


def run(args, check: Checks) -> None:
    with tempfile.TemporaryDirectory(prefix="fake_fcm_selftest_") as tmp:
        workdir = pathlib.Path(tmp)
        pb = protos.generate(protos.default_proto_dir(), workdir)
        fake = Fake(args.fake, workdir)
        try:
            sender = Sender(fake, args.webpushd, workdir)
            test = SelfTest(fake, pb, sender, check)
            how = f"{args.webpushd} send to {sender.base_url}" if args.webpushd else "Python"
            print(f"# fake_fcm at {fake.ready['base_url']}, MCS port {fake.ready['mcs_port']}; sender: {how}",
                  flush=True)
            test.identity()
            test.registration()
            test.login_refused()
            conn = test.acks()
            test.heartbeats(conn)
            test.closing(conn)
            test.refusals()
            test.unsubscribe()
        finally:
            status = fake.stop()
            check("SIGTERM: fake_fcm exits 0", status == 0, str(status))
            if check.failed:
                print(f"# fake_fcm's log:\n{fake.log_path.read_text()}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--webpushd", help="send with this webpushd binary (`webpushd send`) instead of Python")
    p.add_argument("--fake", type=pathlib.Path, default=HERE / "fake_fcm.py", help="the fake to test")
    args = p.parse_args()
    check = Checks()
    try:
        run(args, check)
    except Failed as e:
        print(f"# stopped after a failed prerequisite: {e}")
    except Exception as e:  # a crash is a failure with its reason, not a traceback only
        check("no unexpected error", False, f"{type(e).__name__}: {e}")
    print(f"# {check.passed} passed, {len(check.failed)} failed")
    return 0 if not check.failed and check.passed else 1


if __name__ == "__main__":
    sys.exit(main())
