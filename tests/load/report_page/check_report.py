#!/usr/bin/env python3
"""The loadtest HTML report in real headless Chromium (meson test report-in-chromium).

Renders the synthetic report with render-sample-report, then:

 (a) opens it over the DevTools protocol (--remote-debugging-pipe) and fails on any
     console message of level error, uncaught exception, or request for anything
     but the page itself. Only the events of the page's own DevTools session count,
     so Chromium's own log lines (failed look-ups of Google's hosts, refused
     connections) cannot fail the check. Two canary pages go first and must be
     caught — a console.error plus an uncaught exception, and a script the report's
     Content-Security-Policy blocks — so a listener that hears nothing fails too.
     The same session checks the layout: each chart drawn at a real size, the
     series strokes in distinct colours, nothing wider than the window;
 (b) reads the DOM after load (--dump-dom): the three chart ids, each with lines
     drawn, no <script> element, and the hostile server string shown as text;
 (c) saves a 1280x2000 screenshot (--screenshot) and checks it is a whole PNG of
     that size with something painted on it.

Exit status: 0 pass, 1 fail, 77 skip (no Chromium: scripts/setup installs it).
"""

import argparse
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

SKIP = 77
CHART_IDS = ("chart-latency-over-time", "chart-latency-distribution", "chart-connections")
WINDOW = (1280, 2000)
BROWSER_TIMEOUT_S = 30
# What the synthetic run's server string says; it must reach the reader as text.
HOSTILE_SERVER_TEXT = 'wss://push.example.test/<script>alert("pwned")</script>?a=1&b=2'


class CheckError(Exception):
    pass


def find_chromium():
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def base_flags(profile):
    # Without the background-networking flags Chromium fills its log with refused
    # connections; a fresh profile keeps runs independent of each other.
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={profile}",
    ]


def run_chromium(chromium, extra, url):
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        try:
            done = subprocess.run([chromium, *base_flags(profile), *extra, url], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=BROWSER_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise CheckError(f"chromium {' '.join(extra)} did not finish in {BROWSER_TIMEOUT_S} s") from e
    if done.returncode != 0:
        raise CheckError(f"chromium {' '.join(extra)} exited {done.returncode}:\n"
                         + done.stderr.decode(errors="replace")[-3000:])
    return done


# ---- (a) the DevTools protocol over a pipe ------------------------------------------


class DevTools:
    """Chromium with --remote-debugging-pipe: NUL-terminated JSON messages, read by
    the browser from its fd 3 and written to its fd 4."""

    def __init__(self, chromium, profile):
        to_browser_r, self.out = os.pipe()
        self.inp, from_browser_w = os.pipe()
        # Above 4 first, so that placing them on 3 and 4 cannot overwrite one another.
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def place_pipe():  # in the child, before exec: dup2 clears close-on-exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [chromium, *base_flags(profile), "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
            close_fds=False, preexec_fn=place_pipe)
        os.close(child_in)
        os.close(child_out)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + BROWSER_TIMEOUT_S

    def close(self):
        try:
            self.call("Browser.close")
        except CheckError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.out)
        os.close(self.inp)

    def browser_log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-3000:]

    def _receive(self):
        while b"\0" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise CheckError("Chromium did not answer over DevTools in time")
            ready, _, _ = select.select([self.inp], [], [], remaining)
            if ready:
                chunk = os.read(self.inp, 1 << 16)
                if not chunk:
                    raise CheckError("Chromium closed its DevTools pipe:\n" + self.browser_log())
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.out, data):]
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CheckError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, method, session):
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self._receive()

    def open(self, url):
        """Loads `url` in a new tab of its own; returns that tab's session."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable", session=session)
        self.call("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        # One more round trip: what the page logged while loading is in by now.
        self.call("Runtime.evaluate", {"expression": "document.readyState"}, session)
        return session

    def evaluate(self, session, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise CheckError(f"evaluating in the page failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def page_problems(self, session, page_url):
        """The error-level console messages, uncaught exceptions and foreign
        requests of one tab."""
        problems = []
        for event in self.events:
            if event.get("sessionId") == session:
                problem = describe_problem(event["method"], event.get("params", {}), page_url)
                if problem:
                    problems.append(problem)
        return problems


def describe_problem(method, params, page_url):
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        return f"console.{params['type']}: {args}"
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return "uncaught exception: " + details.get("exception", {}).get("description", details.get("text", ""))
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        return f"console ({entry.get('source')}): {entry.get('text')}"
    if method == "Network.requestWillBeSent":
        url = params.get("request", {}).get("url", "")
        if url != page_url and not url.startswith(("data:", "about:")):
            return f"request for {url}"
    if method == "Network.loadingFailed":
        return f"failed load: {params.get('errorText')} {params.get('blockedReason', '')}".rstrip()
    return None


CANARIES = {
    "canary-console.html": ("<!DOCTYPE html><title>canary</title>"
                            "<script>console.error('webpushd-canary-console')</script>"
                            "<script>throw new Error('webpushd-canary-throw')</script>",
                            ("webpushd-canary-console", "webpushd-canary-throw")),
    "canary-csp.html": ("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" "
                        "content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>canary</title>"
                        "<script>void 0</script>",
                        ("Content Security Policy",)),
}

# Per chart: its drawn size, the series' stroke colours; and the page's width.
LAYOUT_PROBE = """(() => {
  const charts = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    const strokes = [...svg.querySelectorAll('polyline.series')].map(p => getComputedStyle(p).stroke);
    charts[svg.id] = {width: box.width, height: box.height, strokes: [...new Set(strokes)],
                      lines: svg.querySelectorAll('polyline.series').length};
  }
  const page = document.documentElement;
  return {charts, scrollWidth: page.scrollWidth, scrollHeight: page.scrollHeight, innerWidth: window.innerWidth};
})()"""


def check_canaries(devtools, folder):
    for name, (html, expected) in CANARIES.items():
        path = folder / name
        path.write_text(html, encoding="utf-8")
        heard = "\n".join(devtools.page_problems(devtools.open(path.as_uri()), path.as_uri()))
        for marker in expected:
            if marker not in heard:
                raise CheckError(f"the console listener missed '{marker}' on {name}; it heard:\n{heard or '(nothing)'}")


def check_layout(layout):
    problems = []
    for chart_id in CHART_IDS:
        chart = layout["charts"].get(chart_id)
        if not chart or chart["width"] < 600 or chart["height"] < 200:
            problems.append(f"{chart_id} is not drawn at a readable size: {chart}")
        elif chart["lines"] >= 2 and len(chart["strokes"]) < 2:
            problems.append(f"{chart_id}: its series share one colour: {chart['strokes']}")
    if layout["scrollWidth"] > layout["innerWidth"]:
        problems.append(f"the page is wider ({layout['scrollWidth']} px) than the window ({layout['innerWidth']} px)")
    return problems


def check_console(chromium, report):
    with tempfile.TemporaryDirectory(prefix="report-devtools-") as profile:
        devtools = DevTools(chromium, profile)
        try:
            check_canaries(devtools, report.parent)
            url = report.as_uri()
            session = devtools.open(url)
            problems = devtools.page_problems(session, url)
            layout = devtools.evaluate(session, LAYOUT_PROBE)
            problems += check_layout(layout)
        finally:
            devtools.close()
    if problems:
        raise CheckError("the report in Chromium:\n  " + "\n  ".join(problems))
    return layout


# ---- (b) the DOM after load ---------------------------------------------------------


class ChartCounter(HTMLParser):
    """Counts, per chart id, the shapes with something to draw, and <script> elements."""

    def __init__(self):
        super().__init__()
        self.current = None
        self.drawn = {chart_id: 0 for chart_id in CHART_IDS}
        self.seen = set()
        self.scripts = 0
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "svg" and attrs.get("id") in self.drawn:
            self.current = attrs["id"]
            self.seen.add(self.current)
        elif self.current and tag in ("polyline", "polygon") and len((attrs.get("points") or "").split()) >= 2:
            self.drawn[self.current] += 1
        elif self.current and tag == "path" and (attrs.get("d") or "").strip():
            self.drawn[self.current] += 1

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None

    def handle_data(self, data):
        self.text.append(data)


def check_dom(chromium, report):
    dom = run_chromium(chromium, ["--dump-dom"], report.as_uri()).stdout.decode("utf-8")
    counter = ChartCounter()
    counter.feed(dom)
    problems = [f"no <svg id=\"{i}\" in the DOM" for i in CHART_IDS if i not in counter.seen]
    problems += [f"{i} has no polyline, polygon or path drawn" for i in counter.seen if counter.drawn[i] == 0]
    if counter.scripts:
        problems.append(f"the DOM has {counter.scripts} <script> element(s)")
    if HOSTILE_SERVER_TEXT not in "".join(counter.text):
        problems.append("the hostile server string is not shown as text")
    if problems:
        raise CheckError("the dumped DOM:\n  " + "\n  ".join(problems))
    return counter.drawn


# ---- (c) the screenshot -------------------------------------------------------------


def png_chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckError("the screenshot is not a PNG")
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise CheckError(f"the screenshot's {kind!r} chunk is corrupt")
        yield kind, body
        pos += 12 + length


def check_screenshot(chromium, report, png):
    png.unlink(missing_ok=True)
    run_chromium(chromium, [f"--screenshot={png}"], report.as_uri())
    if not png.is_file() or png.stat().st_size == 0:
        raise CheckError(f"no screenshot at {png}")
    chunks = list(png_chunks(png.read_bytes()))
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    if (width, height) != WINDOW or depth != 8 or colour not in (2, 6):
        raise CheckError(f"the screenshot is {width}x{height}, depth {depth}, colour type {colour}")
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    if len(pixels) != height * (1 + width * (3 if colour == 2 else 4)):
        raise CheckError("the screenshot's pixel data is incomplete")
    # Filtered rows are zero where the picture does not change: a blank page is
    # nearly all zeros, text and charts are not.
    painted = 1 - pixels.count(0) / len(pixels)
    if painted < 0.01:
        raise CheckError(f"the screenshot looks blank ({painted:.2%} of its filtered bytes are non-zero)")
    return painted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", required=True, help="the render-sample-report program")
    parser.add_argument("--out-dir", required=True, type=Path, help="where report.html and report.png go")
    args = parser.parse_args()
    chromium = find_chromium()
    if not chromium:
        print("SKIP: no chromium (scripts/setup installs it)")
        return SKIP
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report = (args.out_dir / "report.html").resolve()
    png = (args.out_dir / "report.png").resolve()
    try:
        subprocess.run([args.render, str(report)], check=True, timeout=60)
        layout = check_console(chromium, report)
        print("ok: no console errors, no requests, canaries caught, layout sound "
              f"(page {layout['scrollWidth']}x{layout['scrollHeight']} px)")
        drawn = check_dom(chromium, report)
        print("ok: DOM has the charts with shapes drawn: " + ", ".join(f"{k} {v}" for k, v in drawn.items()))
        painted = check_screenshot(chromium, report, png)
        print(f"ok: screenshot {png} ({png.stat().st_size} bytes, {painted:.1%} painted)")
    except (CheckError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
