"""What the daemon's FCM tests and the FCM benchmark share: fake_fcm.py started on loopback with its controls, and
`webpushd run` configured for it ([fcm] base_url/mcs, --ca-file) with `subscribe --service fcm` and `send`.

    with FakeFcm(work) as fake, Daemon(webpushd, work, fake) as daemon:
        sub = daemon.subscribe("name")
        daemon.send(sub, "payload")
        wait_for("delivered", lambda: "payload" in daemon.payloads(), daemon.proc)
"""

import json
import os
import pathlib
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
DEADLINE_S = 30


def wait_for(what: str, predicate, proc=None, deadline_s: float = DEADLINE_S):
    """Polls `predicate` until it returns a true value (returned) or the deadline passes (an error naming `what`)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"{what}: not within {deadline_s} s")


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM, then SIGKILL after 10 s; the exit status (-1 when it had to be killed)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -1


def jsonl_events(path: pathlib.Path, kind: str = "message") -> list:
    """The events of one type in a --jsonl file (a last line still being written is left out)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("type") == kind:
            events.append(event)
    return events


class FakeFcm:
    """fake_fcm.py on 127.0.0.1 (free ports), its throw-away CA in WORK/certs, its log in WORK/fake_fcm.log."""

    def __init__(self, work: pathlib.Path, fake: pathlib.Path = HERE / "fake_fcm.py", extra=()):
        self.work = work
        ready_file = work / "fake_ready.json"
        self.log_file = open(work / "fake_fcm.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(fake), "--cert-dir", str(work / "certs"), "--ready-file",
                                      str(ready_file), *extra], stdout=subprocess.DEVNULL, stderr=self.log_file)
        try:
            wait_for("fake_fcm ready", ready_file.exists, self.proc)
        except Exception:
            self.close()
            raise
        self.ready = json.loads(ready_file.read_text())
        self.ca = self.ready["ca_file"]
        self.base_url = self.ready["base_url"]
        self.context = ssl.create_default_context(cafile=self.ca)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        stop(self.proc)
        self.log_file.close()

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base_url + "/control/stats", context=self.context, timeout=10) as r:
            return json.loads(r.read())

    def control(self, action: str, body: dict = None) -> dict:
        """POSTs to /control/ACTION (heartbeats, close, drop, ping, fail-logins, config, ...); its JSON answer."""
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(f"{self.base_url}/control/{action}", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.context, timeout=10) as r:
            return json.loads(r.read())

    def config_toml(self, heartbeat_interval: float = 60) -> str:
        r = self.ready
        return (f'[fcm]\nproject_id = "{r["project_id"]}"\napp_id = "1:1234567890:web:0123abcd"\n'
                f'api_key = "{r["api_key"]}"\nbase_url = "{r["base_url"]}"\n'
                f'mcs = "127.0.0.1:{r["mcs_port"]}"\nheartbeat_interval = {heartbeat_interval}\n')


class Daemon:
    """`webpushd run` against a FakeFcm: state in WORK/state, messages in WORK/events.jsonl (or on its stdout with
    jsonl="-"), its log appended to WORK/daemon.log. The autopush side points at a closed loopback port: it
    retries, the FCM side runs regardless."""

    def __init__(self, webpushd: str, work: pathlib.Path, fake: FakeFcm, heartbeat_interval: float = 60,
                 run_args=(), jsonl: str = None):
        self.webpushd = webpushd
        self.work = work
        self.fake = fake
        self.state = work / "state"
        self.jsonl = pathlib.Path(jsonl) if jsonl not in (None, "-") else work / "events.jsonl"
        self.jsonl_arg = jsonl or str(self.jsonl)
        self.config = work / "config.toml"
        self.config.write_text(fake.config_toml(heartbeat_interval))
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(work), XDG_CONFIG_HOME=str(work))
        self.base = [webpushd, "--state-dir", str(self.state)]
        self.run_args = list(run_args)
        self.proc = None
        self.log = None
        self.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> None:
        """Starts `webpushd run` (again) and waits for its control socket."""
        self.log = open(self.work / "daemon.log", "ab")
        sock = self.state / "control.sock"
        if sock.exists():
            sock.unlink()
        stdout = subprocess.PIPE if self.jsonl_arg == "-" else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.base + ["--config", str(self.config), "--server", "ws://127.0.0.1:9/",
                                                  "run", "--no-notify", "--no-unifiedpush", "--ca-file", self.fake.ca,
                                                  "--jsonl", self.jsonl_arg, *self.run_args],
                                     stdout=stdout, stderr=self.log, env=self.env)
        wait_for("the daemon's control socket", sock.exists, self.proc)

    def stop(self) -> int:
        """SIGTERM; the exit status."""
        code = stop(self.proc) if self.proc is not None else 0
        if self.log is not None:
            self.log.close()
            self.log = None
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown at all."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        self.log = None

    def log_text(self) -> str:
        path = self.work / "daemon.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(self.base + list(args), env=self.env, capture_output=True, text=True,
                                timeout=DEADLINE_S)
        if check and result.returncode != 0:
            raise RuntimeError(f"webpushd {' '.join(args)}: exit {result.returncode}: {result.stderr.strip()}")
        return result

    def subscribe(self, name: str) -> pathlib.Path:
        """`subscribe --service fcm --name NAME`; the PushSubscription JSON's file."""
        sub = self.cli("subscribe", "--service", "fcm", "--name", name)
        subscription = json.loads(sub.stdout)
        if not subscription["endpoint"].startswith(self.fake.base_url + "/fcm/send/"):
            raise RuntimeError(f"endpoint not the fake's: {subscription['endpoint']}")
        path = self.work / f"{name}.subscription.json"
        path.write_text(sub.stdout)
        return path

    def send_command(self, sub_file: pathlib.Path, payload: str, encoding: str = "aes128gcm") -> list:
        return [self.webpushd, "send", str(sub_file), "--payload", payload, "--encoding", encoding,
                "--ca-file", self.fake.ca]

    def send(self, sub_file: pathlib.Path, payload: str, encoding: str = "aes128gcm") -> None:
        """`webpushd send` as the application server; raises unless the fake accepted the message."""
        s = subprocess.run(self.send_command(sub_file, payload, encoding), env=self.env, capture_output=True,
                           text=True, timeout=DEADLINE_S)
        if s.returncode != 0:
            raise RuntimeError(f"send {encoding}: exit {s.returncode}: {s.stderr.strip()} {s.stdout.strip()}")

    def payloads(self) -> list:
        """Every message payload in the --jsonl file, in file order (duplicates kept)."""
        return [e.get("payload") for e in jsonl_events(self.jsonl)]
