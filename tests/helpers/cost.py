"""CPU cost compared with a baseline measured in the same test, never a wall-clock limit.

"Stays quick" on a shared two-core machine cannot be a number of seconds. What a test
can say deterministically enough is that hostile input costs about what plain input of
the same size costs: linear work keeps the ratio near 1, a super-linear pattern makes it
hundreds or thousands. CPU time of the calling thread (``time.thread_time``) ignores
time spent waiting for the machine and the work of other threads of the test process
(servers and loops left by earlier tests, which once failed a check under load); the
functions measured do their work in the calling thread. A sample over the limit is
measured again (best of three) before it fails, so a pause of the collector does not
fail the test, while a real blow-up recurs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

RATIO = 25  # linear work stays near 1; the slow patterns this guards against: thousands
FLOOR = 1e-4  # seconds: below this the baseline is timer resolution, not work


def cpu_seconds(
    fn: Callable[[Any], object], arg: Any, rounds: int = 3, *, best: bool = False
) -> float:
    """CPU seconds ``fn(arg)`` takes: the median of ``rounds`` runs (or the best)."""
    samples = []
    for _ in range(rounds):
        start = time.thread_time()
        fn(arg)
        samples.append(time.thread_time() - start)
    return min(samples) if best else statistics.median(samples)


def same_size_as(text: str, plain: str) -> str:
    """``plain`` repeated and cut to the length of ``text``."""
    return (plain * (len(text) // max(len(plain), 1) + 1))[: len(text)]


def assert_costs_about_as_much(
    fn: Callable[[Any], object], hostile: Any, plain: Any, *, ratio: float = RATIO
) -> None:
    """``fn(hostile)`` costs at most ``ratio`` times ``fn(plain)`` in CPU time."""
    fn(plain)  # warm caches (language models, compiled patterns)
    baseline = max(cpu_seconds(fn, plain), FLOOR)
    limit = ratio * baseline
    spent = cpu_seconds(fn, hostile, rounds=1)
    if spent > limit:  # a pause of the machine or the collector, or a real blow-up:
        spent = min(spent, cpu_seconds(fn, hostile, rounds=3, best=True))  # it must recur
    assert spent <= limit, f"{spent:.4f}s of CPU vs {baseline:.4f}s for plain input"
