"""Where the gateway's time goes under load: py-spy samples, summed by function.

:func:`record` runs a load in the background, samples the gateway process with ``py-spy record``
(raw, collapsed stacks) while it runs, and returns the functions with the largest share of the
samples, inclusive (the function and what it calls) and self (the function's own code).
"""

import collections
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOP = 40
# Frames every sample of the event loop passes through (start-up, the loop itself): not news.
ROOTS = ("typer/", "_click/", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py",
         "asyncio/runners.py", "asyncio/base_events.py", "asyncio/events.py", "portgate:",
         "gateway/cli/main.py", "threading.py", "futures/thread.py",
         "bench/variant.py")  # fmt: skip


def record(
    server: Any, load: Callable[[], Any], *, seconds: float, rate: int = 200
) -> dict[str, Any]:
    py_spy = Path(sys.executable).parent / "py-spy"
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    time.sleep(1.5)  # past the start of the load
    with tempfile.NamedTemporaryFile(suffix=".txt") as out:
        command = [str(py_spy), "record", "--pid", str(server.process.pid), "--duration",
                   str(int(seconds)), "--rate", str(rate), "--format", "raw", "--output",
                   out.name, "--nonblocking"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        thread.join()
        if done.returncode != 0:
            return {"error": done.stderr.strip()[-500:]}
        return summarise(Path(out.name).read_text())


def summarise(raw: str) -> dict[str, Any]:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            if not frame.startswith(ROOTS):
                inclusive[frame] += samples
        own[frames[-1]] += samples
    share = lambda n: round(100 * n / max(total, 1), 1)  # noqa: E731
    return {
        "samples": total,
        "inclusive": [(share(n), f) for f, n in inclusive.most_common(TOP)],
        "self": [(share(n), f) for f, n in own.most_common(TOP // 2)],
    }


def _frame(frame: str) -> str:
    """``function (path/to/module.py:12)`` -> ``package/module.py:function``."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    return f"{'/'.join(path.split('/')[-2:])}:{name}"
