"""What the benchmark scripts share: percentiles and a child's stdout read on a thread."""

import json
import queue
import threading
import time


def percentile(sorted_ms, p):
    """The nearest-rank percentile p (0-100) of an ascending list."""
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100 * len(sorted_ms) + 0.5)) - 1)]


def print_percentiles(sorted_ms):
    """p50, p90, p99 and max of an ascending list of milliseconds, one line each."""
    for p in (50, 90, 99):
        print(f"  p{p:<3} {percentile(sorted_ms, p):7.2f} ms")
    print(f"  max  {sorted_ms[-1]:7.2f} ms")


class Lines:
    """A child's stdout lines, read on a thread, taken with deadlines."""

    def __init__(self, stream):
        self.q = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.q.put(line)

    def take(self, timeout=20.0):
        return self.q.get(timeout=timeout)

    def json(self, key, value, timeout=20.0):
        """The next JSON line whose `key` is `value`; other lines are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            e = json.loads(self.take(max(0.01, deadline - time.monotonic())))
            if e.get(key) == value:
                return e
