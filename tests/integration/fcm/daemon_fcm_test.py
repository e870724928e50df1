#!/usr/bin/python3
"""webpushd's FCM link end to end against fake_fcm.py: `webpushd run` with an [fcm] section pointing at the fake,
`subscribe --service fcm`, two messages (aes128gcm and aesgcm) sent with `webpushd send`, both decrypted into the
--jsonl file, the fake's stats showing one checkin and both messages acknowledged. Exit status 0 only if all passed.

    daemon_fcm_test.py --webpushd PATH
"""

import argparse
import json
import pathlib
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
from fcm_harness import Daemon, FakeFcm, wait_for  # noqa: E402


def run(webpushd: str, work: pathlib.Path) -> None:
    with FakeFcm(work) as fake, Daemon(webpushd, work, fake) as daemon:
        sub_file = daemon.subscribe("fcm-e2e")
        print("PASS subscribe --service fcm", flush=True)

        sent = {"aes128gcm": "fcm payload one (aes128gcm)", "aesgcm": "fcm payload two (aesgcm)"}
        for encoding, payload in sent.items():
            daemon.send(sub_file, payload, encoding)
        wait_for("both payloads in the jsonl file", lambda: set(sent.values()) <= set(daemon.payloads()), daemon.proc)
        print("PASS both messages decrypted into --jsonl", flush=True)

        def acked_stats():
            stats = fake.stats()
            return stats if stats["pushes"] == 2 and len(stats["acked"]) == 2 else None

        stats = wait_for("the fake's stats showing both messages acked", acked_stats, daemon.proc)
        if stats["checkins"] != 1:
            raise RuntimeError(f"expected one checkin, the fake saw {stats['checkins']}")
        print("PASS one checkin, both messages acknowledged", flush=True)

        status = daemon.cli("status", "--json", check=False)
        # Exit 1: the autopush side is not connected (by design here); the JSON is printed all the same.
        fcm = json.loads(status.stdout).get("fcm") if status.stdout.strip() else None
        if not fcm or fcm["counters"]["received"] != 2 or not fcm["device_known"]:
            raise RuntimeError(f"status --json: fcm member wrong: {status.stdout.strip()} {status.stderr.strip()}")
        print("PASS status --json has the fcm member", flush=True)

        maps = pathlib.Path(f"/proc/{daemon.proc.pid}/maps").read_text()
        for library in ("webpushd-fcm.so", "libprotobuf-lite"):
            if library not in maps:
                raise RuntimeError(f"{library} is not mapped into the daemon that runs FCM")
        print("PASS the FCM module and libprotobuf-lite are mapped once FCM runs", flush=True)

        listed = json.loads(daemon.cli("list", "--json").stdout)
        if [(s["name"], s["push_service"], s["server"].startswith("mcs://")) for s in listed] != [
                ("fcm-e2e", "fcm", True)]:
            raise RuntimeError(f"list --json: expected one fcm subscription on mcs://: {listed}")
        print("PASS list --json names the push service", flush=True)

        daemon.cli("unsubscribe", "fcm-e2e")
        stats = wait_for("the fake seeing both registrations deleted",
                         lambda: (lambda st: st if st["unregistrations"] == 1 and st["fcm_unregistrations"] == 1
                                  else None)(fake.stats()), daemon.proc)
        if json.loads(daemon.cli("list", "--json").stdout) != []:
            raise RuntimeError("list --json: the subscription is still there after unsubscribe")
        print("PASS unsubscribe deletes the subscription and its registrations at the fake", flush=True)
        code = daemon.stop()
        if code != 0:
            raise RuntimeError(f"webpushd run exited {code} on SIGTERM")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--webpushd", required=True, help="the webpushd binary")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="webpushd-fcm-") as tmp:
        work = pathlib.Path(tmp)
        try:
            run(args.webpushd, work)
        except Exception as e:  # a failure with its reason and the logs, not a traceback only
            print(f"FAIL {type(e).__name__}: {e}", flush=True)
            for log in ("daemon.log", "fake_fcm.log"):
                if (work / log).exists():
                    print(f"# {log}:\n{(work / log).read_text(errors='replace')}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
