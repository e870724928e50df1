#!/usr/bin/python3
"""The daemon's FCM link under faults, against fake_fcm.py. Each case has its own fake and daemon:

  heartbeat-loss  the fake stops answering heartbeats; the daemon notices within heartbeat + timeout
                  (plus the first backoff), logs in again, and delivers once heartbeats are answered again
  server-close    the fake sends Close; the daemon logs in again and the next message arrives
  restart         SIGTERM and start again: no second checkin, the received persistent ids are presented at the
                  login, and messages the fake delivers again (it drops every ack meanwhile) reach no sink twice
  kill-burst      SIGKILL three times while a burst of 120 messages arrives, each time started again: every
                  message is in the jsonl file exactly once, and all are acknowledged

Exit status 0 only if every case passed.

    fcm_faults_test.py --webpushd PATH [--case NAME]...
"""

import argparse
import collections
import concurrent.futures
import json
import pathlib
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
from fcm_harness import Daemon, FakeFcm, wait_for  # noqa: E402

HEARTBEAT_S = 2
TIMEOUT_S = 2
# Short timeouts and backoff so that each case takes seconds.
RUN_ARGS = ["--request-timeout", str(TIMEOUT_S), "--backoff-initial", "0.2", "--backoff-max", "1"]


def logins_after(fake: FakeFcm, at_ms: int) -> list:
    return [login for login in fake.stats()["logins"] if login["ok"] and login["at_ms"] > at_ms]


def fcm_counters(daemon: Daemon) -> dict:
    """status --json's fcm.counters (exit 1 here: the autopush side is not connected by design)."""
    out = daemon.cli("status", "--json", check=False).stdout
    return json.loads(out).get("fcm", {}).get("counters", {}) if out.strip() else {}


def wait_delivered(daemon: Daemon, payloads) -> None:
    wanted = set(payloads)
    wait_for(f"{len(wanted)} payload(s) in the jsonl file", lambda: wanted <= set(daemon.payloads()), daemon.proc)


def wait_acked(fake: FakeFcm, count: int) -> dict:
    def acked():
        stats = fake.stats()
        return stats if len(stats["acked"]) >= count else None
    return wait_for(f"{count} message(s) acknowledged at the fake", acked)


def expect_once(daemon: Daemon, payloads) -> None:
    counts = collections.Counter(daemon.payloads())
    missing = [p for p in payloads if counts[p] == 0]
    twice = {p: n for p, n in counts.items() if n > 1}
    if missing or twice:
        raise RuntimeError(f"jsonl file: {len(missing)} missing (e.g. {missing[:3]}), twice or more: {twice}")


def heartbeat_loss(webpushd: str, work: pathlib.Path) -> None:
    with FakeFcm(work) as fake, Daemon(webpushd, work, fake, HEARTBEAT_S, RUN_ARGS) as daemon:
        sub = daemon.subscribe("hb")
        daemon.send(sub, "before the silence")
        wait_delivered(daemon, ["before the silence"])
        silent_at = int(time.time() * 1000)
        fake.control("heartbeats", {"answer": False})
        # The last heartbeat may have gone just before the silence: the next is due within the interval, then
        # the timeout runs; then the first backoff (0.2 s, jitter) and the new connection's TLS and login.
        bound_s = HEARTBEAT_S + TIMEOUT_S + 1.5
        wait_for("a new login after the heartbeats stopped", lambda: logins_after(fake, silent_at), daemon.proc,
                 deadline_s=bound_s + 10)
        took_s = (logins_after(fake, silent_at)[0]["at_ms"] - silent_at) / 1000
        if took_s > bound_s:
            raise RuntimeError(f"the dead link was noticed after {took_s:.1f} s, more than {bound_s} s")
        if "FCM disconnected: heartbeat timeout" not in daemon.log_text():
            raise RuntimeError("no 'FCM disconnected: heartbeat timeout' line in the daemon's log")
        print(f"PASS heartbeat loss noticed and a new login {took_s:.1f} s after the silence began "
              f"(heartbeat {HEARTBEAT_S} s + timeout {TIMEOUT_S} s)", flush=True)
        fake.control("heartbeats", {"answer": True})
        daemon.send(sub, "after the silence")
        wait_delivered(daemon, ["after the silence"])
        expect_once(daemon, ["before the silence", "after the silence"])
        print("PASS delivery resumes once heartbeats are answered", flush=True)


def server_close(webpushd: str, work: pathlib.Path) -> None:
    with FakeFcm(work) as fake, Daemon(webpushd, work, fake, run_args=RUN_ARGS) as daemon:
        sub = daemon.subscribe("close")
        wait_for("the first login", lambda: logins_after(fake, 0), daemon.proc)
        closed_at = int(time.time() * 1000)
        if fake.control("close")["connections"] != 1:
            raise RuntimeError("the fake had no MCS connection to close")
        wait_for("a new login after the server's Close", lambda: logins_after(fake, closed_at), daemon.proc)
        if "FCM disconnected: server closed the connection" not in daemon.log_text():
            raise RuntimeError("no 'FCM disconnected: server closed the connection' line in the daemon's log")
        daemon.send(sub, "after close")
        wait_delivered(daemon, ["after close"])
        print("PASS after the server's Close the daemon logs in again and receives", flush=True)


def restart(webpushd: str, work: pathlib.Path) -> None:
    with FakeFcm(work) as fake, Daemon(webpushd, work, fake, run_args=RUN_ARGS) as daemon:
        sub = daemon.subscribe("restart")
        first = [f"restart {i}" for i in range(5)]
        for payload in first:
            daemon.send(sub, payload)
        wait_delivered(daemon, first)
        received = [m["persistent_id"] for m in wait_acked(fake, len(first))["messages"]]
        if daemon.stop() != 0:
            raise RuntimeError("webpushd run did not exit 0 on SIGTERM")

        started_at = int(time.time() * 1000)
        daemon.start()
        login = wait_for("the login after the restart", lambda: logins_after(fake, started_at), daemon.proc)[0]
        stats = fake.stats()
        if stats["checkins"] != 1:
            raise RuntimeError(f"expected one checkin in all, the fake saw {stats['checkins']}")
        if not set(received) <= set(login["received_persistent_ids"]):
            raise RuntimeError(f"the login presented {login['received_persistent_ids']}, not all of {received}")
        print(f"PASS restart: no second checkin, the login presented the {len(received)} received ids", flush=True)

        # The fake drops every ack from here on, so after the next restart it delivers these again.
        fake.control("config", {"ignore_acks": True})
        second = [f"again {i}" for i in range(3)]
        for payload in second:
            daemon.send(sub, payload)
        wait_delivered(daemon, second)
        daemon.stop()
        daemon.start()

        def delivered_twice():
            again = [m for m in fake.stats()["messages"] if m["deliveries"] > 1]
            return again if len(again) >= len(second) else None
        redelivered = wait_for("the fake delivering the unacknowledged messages again", delivered_twice, daemon.proc)
        wait_for("the daemon counting the redelivered messages as duplicates",
                 lambda: fcm_counters(daemon).get("duplicates", 0) >= len(second), daemon.proc)
        expect_once(daemon, first + second)
        print(f"PASS {len(redelivered)} messages the fake delivered again reached the jsonl file once", flush=True)

        # The duplicates were acknowledged too: with acks heard again, the next login confirms them all.
        fake.control("config", {"ignore_acks": False})
        daemon.stop()
        daemon.start()
        wait_acked(fake, len(first) + len(second))
        expect_once(daemon, first + second)
        print("PASS the duplicates are acknowledged: the fake holds nothing unacknowledged", flush=True)


def kill_burst(webpushd: str, work: pathlib.Path) -> None:
    with FakeFcm(work) as fake, Daemon(webpushd, work, fake, run_args=RUN_ARGS) as daemon:
        sub = daemon.subscribe("burst")
        payloads = [f"burst {i:03d}" for i in range(120)]

        def send(payload):
            return subprocess.run(daemon.send_command(sub, payload), env=daemon.env, capture_output=True,
                                  timeout=60).returncode

        kills = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            sends = [pool.submit(send, p) for p in payloads]
            # Three kills: the first while the burst arrives, the others while the backlog the fake kept during
            # the downtime pours in after a restart.
            for threshold in (20, 50, 80):
                wait_for(f"{threshold} messages in the jsonl file", lambda: len(daemon.payloads()) >= threshold,
                         daemon.proc)
                daemon.kill()
                kills.append(len(daemon.payloads()))
                daemon.start()
            failed = sum(1 for s in sends if s.result() != 0)
        if failed:
            raise RuntimeError(f"{failed} sends failed at the fake")
        wait_acked(fake, len(payloads))
        wait_delivered(daemon, payloads)
        expect_once(daemon, payloads)
        again = sum(1 for m in fake.stats()["messages"] if m["deliveries"] > 1)
        print(f"PASS SIGKILL at {kills} of {len(payloads)} messages in the jsonl file: in the end each is there "
              f"exactly once ({again} delivered more than once by the fake)", flush=True)


CASES = {"heartbeat-loss": heartbeat_loss, "server-close": server_close, "restart": restart,
         "kill-burst": kill_burst}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--webpushd", required=True, help="the webpushd binary")
    p.add_argument("--case", action="append", choices=sorted(CASES), help="run only this case (repeatable)")
    args = p.parse_args()
    failures = 0
    for name in args.case or CASES:
        with tempfile.TemporaryDirectory(prefix=f"webpushd-fcm-{name}-") as tmp:
            work = pathlib.Path(tmp)
            try:
                CASES[name](args.webpushd, work)
            except Exception as e:  # a failure with its reason and the logs, not a traceback only
                failures += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                for log in ("daemon.log", "fake_fcm.log"):
                    if (work / log).exists():
                        print(f"# {log}:\n{(work / log).read_text(errors='replace')[-20000:]}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
