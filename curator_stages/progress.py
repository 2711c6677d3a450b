"""What a curation run tells a person while it works: a line per step, and while the input is read, how much of it
is done and an estimate of the time left (from the readers' own counts, by bytes)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path


def say(message: str) -> None:
    print(f"[curate] {message}", file=sys.stderr, flush=True)


class ReadProgress:
    """Polls the readers' count files in a thread; prints at most every `every` seconds (a TTY line is rewritten)."""

    def __init__(self, counts_path: str, total_bytes: int, every: float = 5.0) -> None:
        self.counts, self.total, self.every = Path(counts_path), total_bytes, every
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ReadProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if sys.stderr.isatty():
            print(file=sys.stderr)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            records, done = 0, 0
            for path in list(self.counts.glob("*.json")):
                try:
                    counts = json.loads(path.read_text())
                except (OSError, ValueError):  # being written
                    continue
                records += counts["records"]
                done += counts.get("bytes", 0)
            if not records:
                continue
            elapsed = time.time() - self.started
            line = f"[curate] read {records:,} records"
            if self.total and done:
                share = min(1.0, done / self.total)
                eta = elapsed * (1 - share) / share
                line += f", {share:.0%} of the input ({done / elapsed / 1e6:.2f} MB/s), about {eta:.0f} s left to read"
            print(("\r" + line) if sys.stderr.isatty() else line, end="" if sys.stderr.isatty() else "\n",
                  file=sys.stderr, flush=True)
