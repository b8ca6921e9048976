"""Wall-clock latency of one question: `pdqa ask` vs the plain LlamaIndex script (median of N).

Usage: python bench/latency.py [N]   (from the project root, after `make setup`)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "Who wrote the Innovation in Action report?"
BIN = Path(sys.executable).parent


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as persist:
        plain = [str(BIN / "python"), "bench/llamaindex_plain.py", persist, QUESTION]
        subprocess.run(plain, check=True, capture_output=True)  # build and persist once
        results = {
            "pdqa ask": median_seconds([str(BIN / "pdqa"), "ask", QUESTION], runs),
            "plain LlamaIndex + sentence-transformers (retrieval only)": median_seconds(plain, runs),
        }
    for name, seconds in results.items():
        print(f"{name}: median {seconds:.2f} s over {runs} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
