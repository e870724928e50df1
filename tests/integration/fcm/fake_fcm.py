#!/usr/bin/python3
"""A fake of Chrome's push service (FCM) on 127.0.0.1 for webpushd's integration tests.

One HTTPS port serves checkin (/checkin), GCM registration (/c2dm/register3), Firebase installations and
registrations (/v1/projects/<project>/installations, .../registrations), the Web Push endpoint
(/fcm/send/<token>) and the test controls (/control/...); a second TLS port speaks MCS. The certificate comes from
a throw-away CA written to --cert-dir (ca.pem is what a client trusts). When both listen, a JSON line
{https_port, mcs_port, ca_file, base_url, ...} goes to stdout and to --ready-file. One log line per event on
stderr. SIGTERM or SIGINT ends it with exit status 0.

    fake_fcm.py --cert-dir DIR [--port 0] [--mcs-port 0] [--api-key KEY] [--project-id ID] [--ready-file FILE]
"""

import argparse
import asyncio
import json
import os
import pathlib
import signal
import ssl
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from fakefcm import certs, protos  # noqa: E402
from fakefcm.httpd import HttpServer  # noqa: E402
from fakefcm.mcs import McsServer  # noqa: E402
from fakefcm.model import Model  # noqa: E402
from fakefcm.routes import Routes  # noqa: E402


def log(text: str) -> None:
    print(f"fake_fcm: {text}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cert-dir", required=True, type=pathlib.Path, help="where ca.pem, server.pem, server.key go")
    p.add_argument("--port", type=int, default=0, help="HTTPS port (0: a free one)")
    p.add_argument("--mcs-port", type=int, default=0, help="MCS TLS port (0: a free one)")
    p.add_argument("--http-port", type=int, default=-1,
                   help="also serve the HTTP API in plain HTTP on this port (0: a free one; default: off)")
    p.add_argument("--api-key", default="fake-api-key", help="the Firebase Web API key to accept")
    p.add_argument("--project-id", default="fake-project", help="the Firebase project id to accept")
    p.add_argument("--heartbeat-interval-ms", type=int, default=0,
                   help="heartbeat_config.interval_ms in LoginResponse (0: none)")
    p.add_argument("--ready-file", type=pathlib.Path, help="write the ready JSON here once listening")
    p.add_argument("--proto-dir", type=pathlib.Path, default=protos.default_proto_dir(),
                   help="Chromium's .proto files (default: src/fcm/proto of this tree)")
    return p.parse_args(argv)


def tls_context(paths, alpn) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["cert"], paths["key"])
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def write_ready(path, ready: dict) -> None:
    text = json.dumps(ready)
    print(text, flush=True)
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, path)


async def serve(args, pb, paths) -> None:
    model = Model(args.api_key, args.project_id, args.heartbeat_interval_ms, log)
    mcs = McsServer(model, pb)
    model.mcs = mcs
    routes = Routes(model, pb)
    https = HttpServer(routes, log, "https")
    servers = [await https.start(args.port, tls_context(paths, ["http/1.1"])),
               await mcs.start(args.mcs_port, tls_context(paths, None))]
    ready = {"https_port": https.port, "mcs_port": mcs.port, "mcs_host": "127.0.0.1", "ca_file": str(paths["ca"]),
             "base_url": f"https://127.0.0.1:{https.port}", "api_key": args.api_key,
             "project_id": args.project_id, "pid": os.getpid()}
    if args.http_port >= 0:
        plain = HttpServer(routes, log, "http")
        servers.append(await plain.start(args.http_port, None))
        ready.update({"http_port": plain.port, "http_base_url": f"http://127.0.0.1:{plain.port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    write_ready(args.ready_file, ready)
    log(f"listening https={https.port} mcs={mcs.port} http={ready.get('http_port', 'off')}")
    await stop.wait()
    log("stopping")
    for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal during shutdown is ignored, not fatal
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)
    mcs.drop_all()
    for server in servers:
        server.close()


def main(argv) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fake_fcm_pb_") as out:
        try:
            pb = protos.generate(args.proto_dir, pathlib.Path(out))
            paths = certs.make(args.cert_dir)
        except (RuntimeError, OSError) as e:
            log(f"cannot start: {e}")
            return 1
        try:
            asyncio.run(serve(args, pb, paths))
        except OSError as e:
            log(f"cannot listen: {e}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
