"""``python -m bench.rss COMMAND...``: run one command and print its wall time and peak memory as JSON.

A process of its own, so ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the peak resident set of that command
alone (the harness's other children -- servers, set-up commands -- are not its children).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    started = time.perf_counter()
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"seconds": round(seconds, 3), "peak_mb": round(peak_kb / 1024, 1), "returncode": done.returncode,
                      "stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}))


if __name__ == "__main__":
    main()
