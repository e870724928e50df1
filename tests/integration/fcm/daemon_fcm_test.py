#!/usr/bin/python3
"""webpushd's FCM link end to end against fake_fcm.py: `webpushd run` with an [fcm] section pointing at the fake,
`subscribe --service fcm`, two messages (aes128gcm and aesgcm) sent with `webpushd send`, both decrypted into the
--jsonl file, the fake's stats showing one checkin and both messages acknowledged. Exit status 0 only if all passed.

    daemon_fcm_test.py --webpushd PATH [--fake PATH]
"""

import argparse
import json
import os
import pathlib
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
DEADLINE_S = 30


def wait_for(what: str, predicate, proc=None):
    """Polls `predicate` until it returns a true value (returned) or the deadline passes (an error naming `what`)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not within {DEADLINE_S} s")


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -1


def jsonl_payloads(path: pathlib.Path) -> list:
    if not path.exists():
        return []
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e.get("payload") for e in events if e.get("type") == "message"]


def run(args, work: pathlib.Path) -> None:
    ready_file = work / "ready.json"
    fake_log = open(work / "fake_fcm.log", "wb")
    fake = subprocess.Popen([sys.executable, str(args.fake), "--cert-dir", str(work / "certs"), "--ready-file",
                             str(ready_file)], stdout=subprocess.DEVNULL, stderr=fake_log)
    daemon = None
    try:
        wait_for("fake_fcm ready", ready_file.exists, fake)
        ready = json.loads(ready_file.read_text())
        ca = str((work / "certs" / "ca.pem") if not os.path.isabs(ready["ca_file"]) else ready["ca_file"])
        config = work / "config.toml"
        config.write_text(f'[fcm]\nproject_id = "{ready["project_id"]}"\napp_id = "1:1234567890:web:0123abcd"\n'
                          f'api_key = "{ready["api_key"]}"\nbase_url = "{ready["base_url"]}"\n'
                          f'mcs = "127.0.0.1:{ready["mcs_port"]}"\nheartbeat_interval = 60\n')
        state = work / "state"
        jsonl = work / "events.jsonl"
        base = [args.webpushd, "--state-dir", str(state)]
        env = dict(os.environ, XDG_RUNTIME_DIR=str(work), XDG_CONFIG_HOME=str(work))
        daemon_log = open(work / "daemon.log", "wb")
        # The autopush side points at a closed loopback port: it retries, the FCM side runs regardless.
        daemon = subprocess.Popen(base + ["--config", str(config), "--server", "ws://127.0.0.1:9/", "run",
                                          "--no-notify", "--no-unifiedpush", "--ca-file", ca, "--jsonl", str(jsonl)],
                                  stdout=subprocess.DEVNULL, stderr=daemon_log, env=env)
        wait_for("control socket", (state / "control.sock").exists, daemon)

        sub = subprocess.run(base + ["subscribe", "--service", "fcm", "--name", "fcm-e2e"], env=env,
                             capture_output=True, text=True, timeout=DEADLINE_S)
        if sub.returncode != 0:
            raise RuntimeError(f"subscribe --service fcm: exit {sub.returncode}: {sub.stderr.strip()}")
        subscription = json.loads(sub.stdout)
        if not subscription["endpoint"].startswith(ready["base_url"] + "/fcm/send/"):
            raise RuntimeError(f"endpoint not the fake's: {subscription['endpoint']}")
        print("PASS subscribe --service fcm", flush=True)
        sub_file = work / "subscription.json"
        sub_file.write_text(sub.stdout)

        sent = {"aes128gcm": "fcm payload one (aes128gcm)", "aesgcm": "fcm payload two (aesgcm)"}
        for encoding, payload in sent.items():
            s = subprocess.run([args.webpushd, "send", str(sub_file), "--payload", payload, "--encoding", encoding,
                                "--ca-file", ca], env=env, capture_output=True, text=True, timeout=DEADLINE_S)
            if s.returncode != 0:
                raise RuntimeError(f"send {encoding}: exit {s.returncode}: {s.stderr.strip()} {s.stdout.strip()}")
        wait_for("both payloads in the jsonl file", lambda: set(sent.values()) <= set(jsonl_payloads(jsonl)), daemon)
        print("PASS both messages decrypted into --jsonl", flush=True)

        context = ssl.create_default_context(cafile=ca)

        def acked_stats():
            with urllib.request.urlopen(ready["base_url"] + "/control/stats", context=context, timeout=10) as r:
                stats = json.loads(r.read())
            return stats if stats["pushes"] == 2 and len(stats["acked"]) == 2 else None

        stats = wait_for("the fake's stats showing both messages acked", acked_stats, daemon)
        if stats["checkins"] != 1:
            raise RuntimeError(f"expected one checkin, the fake saw {stats['checkins']}")
        print("PASS one checkin, both messages acknowledged", flush=True)

        status = subprocess.run(base + ["status", "--json"], env=env, capture_output=True, text=True,
                                timeout=DEADLINE_S)
        # Exit 1: the autopush side is not connected (by design here); the JSON is printed all the same.
        fcm = json.loads(status.stdout).get("fcm") if status.stdout.strip() else None
        if not fcm or fcm["counters"]["received"] != 2 or not fcm["device_known"]:
            raise RuntimeError(f"status --json: fcm member wrong: {status.stdout.strip()} {status.stderr.strip()}")
        print("PASS status --json has the fcm member", flush=True)
    finally:
        if daemon is not None:
            code = stop(daemon)
            if code != 0:
                print(f"# webpushd run exited {code}; its log:\n{(work / 'daemon.log').read_text()}", flush=True)
        stop(fake)
        fake_log.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--webpushd", required=True, help="the webpushd binary")
    p.add_argument("--fake", type=pathlib.Path, default=HERE / "fake_fcm.py", help="the fake FCM stack")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="webpushd-fcm-") as tmp:
        work = pathlib.Path(tmp)
        try:
            run(args, work)
        except Exception as e:  # a failure with its reason and the logs, not a traceback only
            print(f"FAIL {type(e).__name__}: {e}", flush=True)
            for log in ("daemon.log", "fake_fcm.log"):
                if (work / log).exists():
                    print(f"# {log}:\n{(work / log).read_text()}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
