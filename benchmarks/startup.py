"""How long ``refund-agent --help`` takes, against ``python -c "import pydantic"``.

Both are timed as fresh interpreters in the same run, interleaved (so a noisy machine
slows both alike), and the medians of ``--runs`` are compared. The goal is a ratio of
at most 2.5: the command line imports only typer at start, and each command imports
what it needs (LangGraph, langsmith, the sandbox, the HTTP server) when it runs.

    uv run python -m benchmarks.startup [--runs 5]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Final

from benchmarks._common import benchmark_parser, emit, progress, write_json

GOAL_RATIO: Final = 2.5
COMMANDS: Final = {
    "refund-agent --help": [sys.executable, "-m", "cli", "--help"],
    'python -c "import pydantic"': [sys.executable, "-c", "import pydantic"],
}


def time_once(argv: list[str]) -> float:
    """Seconds one fresh process takes to run ``argv`` to its end."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, float]:
    """Median seconds of each command over ``runs`` interleaved runs (after one warm-up)."""
    for argv in COMMANDS.values():  # warm the file-system cache
        time_once(argv)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for r in range(runs):
        progress(f"run {r + 1}/{runs}")
        for name, argv in COMMANDS.items():
            samples[name].append(time_once(argv))
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> None:
    """Measure and print both medians and their ratio."""
    parser = benchmark_parser("benchmarks.startup", __doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    options = parser.parse_args(argv)
    medians = measure(max(1, options.runs))
    cli, baseline = medians["refund-agent --help"], medians['python -c "import pydantic"']
    for name, seconds in medians.items():
        emit(f"{name}: {seconds * 1000:.0f} ms (median of {options.runs})")
    ratio = cli / baseline if baseline else float("nan")
    verdict = "within" if ratio <= GOAL_RATIO else "above"
    emit(f"ratio: {ratio:.2f}x ({verdict} the goal of {GOAL_RATIO}x)")
    write_json(options.json, {"runs": options.runs, "median_s": medians, "ratio": ratio})


if __name__ == "__main__":
    main()
