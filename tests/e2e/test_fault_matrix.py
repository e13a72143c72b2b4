"""The fault matrix at a small size: every fault once, and nothing paid twice, unrecorded or lost.

``benchmarks/fault_matrix.py`` runs a refund turn through each fault (MoltPe 5xx, a lost
answer, ``serve`` SIGKILLed while MoltPe holds the refund and at a random moment of the
turn, the database restarted, every connection cut) against a PostgreSQL, sandbox and
``serve`` of its own, then lets the reconciler settle what is left and counts what must be
zero.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.fault_matrix import FAULTS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_each_fault_once_pays_once_records_everything_and_loses_no_turn(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.fault_matrix",
            "--trials",
            str(len(FAULTS)),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    counts = result["counts"]
    assert counts["paid_twice"] == 0
    assert counts["paid_unrecorded"] == 0
    assert counts["lost_turns"] == 0
    assert counts["unsettled"] == 0
    assert counts["customers_not_told"] == 0
    assert counts["budget_days_off"] == 0
    assert counts["audit_problems"] == 0
    # Every trial was a due refund, and each fault really ran.
    assert counts["refunds_paid"] == len(FAULTS)
    assert {key.split(":")[0] for key in result["outcomes"]} == set(FAULTS)
