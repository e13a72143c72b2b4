"""Each benchmark runs its smallest configuration and yields figures of the expected shape.

These start a throwaway database and a sandbox process like the benchmarks do, so they
need Postgres (``TEST_DATABASE_URL`` or the embedded server). They never look at timings.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks import (
    checkpoint_size,
    concurrency,
    http_overhead,
    llm_calls,
    scale_out,
    turn_overhead,
)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


async def test_turn_overhead_smoke(pg_admin: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = await turn_overhead.run(
        turn_overhead.Options(conversations=2, warmup=1), admin=pg_admin
    )
    assert set(result["turns"]) == {"ask", "refund"}
    for turn in ("ask", "refund"):
        per = result["turns"][turn]
        for subject in ("agent", "bare", "raw"):
            assert {"p50_ms", "p99_ms", "mean_ms", "statements", "transactions"} <= set(
                per[subject]
            )
            assert _number(per[subject]["p50_ms"])
            assert per[subject]["statements"] > 0
        assert {"agent/bare p50", "agent/raw p99", "statements agent/raw"} <= set(per["ratios"])
    assert {"nproc", "postgres", "langgraph"} <= set(result["machine"])
    turn_overhead.report(result)
    assert "refund turn" in capsys.readouterr().out


async def test_http_overhead_smoke(pg_admin: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = await http_overhead.run(http_overhead.Options(conversations=1), admin=pg_admin)
    for path in ("graph", "http"):
        for turn in ("ask", "refund"):
            assert result["turns"][path][turn]["n"] == 1
            assert _number(result["turns"][path][turn]["p50_ms"])
    assert set(result["http_added_p50_ms"]) == {"ask", "refund"}
    http_overhead.report(result)
    assert "HTTP layer: at most" in capsys.readouterr().out


async def test_llm_calls_smoke(pg_admin: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = await llm_calls.run(llm_calls.Options(conversations=1, delay_ms=1), admin=pg_admin)
    per = result["per_resolved_refund"]
    assert set(per) == {"two_turn", "one_shot", "overall"}
    for group in per.values():
        for subject in ("agent", "react"):
            figures = group[subject]
            assert {"calls", "input_tokens", "output_tokens", "wall_s", "resolved"} <= set(figures)
            assert figures["resolved"] == figures["conversations"] > 0
    # The ReAct agent asks its model every step; the agent only about a message the rules
    # do not read word for word: the two-turn opening names a product, the one-shot
    # message is all facts and refund words.
    for group, agent_calls in (("two_turn", 1), ("one_shot", 0)):
        assert per[group]["react"]["calls"] > 0 and per[group]["react"]["input_tokens"] > 0
        assert per[group]["agent"]["calls"] == agent_calls
    assert per["two_turn"]["agent"]["input_tokens"] > 0
    assert set(result["ratios_react_over_agent"]["overall"]) == {
        "calls",
        "input_tokens",
        "output_tokens",
        "wall_s",
    }
    llm_calls.report(result)
    assert "react/agent" in capsys.readouterr().out


async def test_concurrency_smoke(pg_admin: str, capsys: pytest.CaptureFixture[str]) -> None:
    options = concurrency.Options(levels=(1, 2), rounds=1, min_conversations=2, pool_size=4)
    result = await concurrency.run(options, admin=pg_admin)
    assert set(result["levels"]) == {"1", "2"}
    for per in result["levels"].values():
        for variant in ("stock", "unlocked", "bare"):
            figures = per[variant]
            assert {
                "turns",
                "turns_per_s",
                "p99_ms",
                "saver_lock_wait_share",
                "db_busy_by_state",
            } <= set(figures)
            assert figures["turns"] > 0
            assert _number(figures["turns_per_s"])
        assert {
            "throughput unlocked/stock",
            "p99 stock/unlocked",
            "throughput agent stock/bare stock",
        } <= set(per["ratios"])
        assert _number(per["ratios"]["throughput agent stock/bare stock"])
        assert _number(per["stock"]["p99_over_p50"])
    assert result["ratio_vs_bare_stock_at_32"] is None  # 32 was not measured
    assert result["ratio_stock_saver_vs_bare_stock_at_32"] is None
    concurrency.report(result)
    assert "concurrent" in capsys.readouterr().out


async def test_checkpoint_size_smoke(pg_admin: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = await checkpoint_size.run(
        checkpoint_size.Options(turns=3, conversations=1), admin=pg_admin
    )
    assert set(result["modes"]) == {"exit", "sync"}
    for data in result["modes"].values():
        assert set(data["turns"]) == {"1", "3"}
        for entry in data["turns"].values():
            assert {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "total"} <= set(entry)
            assert entry["total"]["stored"] > 0
            assert entry["checkpoints"]["rows"] > 0
        assert any(c["channel"] == "messages" for c in data["blobs_by_channel_at_last_turn"])
    assert {"stored_bytes", "rows"} <= set(result["ratios_sync_over_exit_at_last_turn"])
    checkpoint_size.report(result)
    assert "checkpoint_blobs" in capsys.readouterr().out


async def test_scale_out_smoke(pg_admin: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Real child processes on the shared database and sandbox: every conversation refunds.
    result = await scale_out.run(
        scale_out.Options(rounds=1, concurrency=2, conversations=2, pool_size=2), admin=pg_admin
    )
    legs = {leg["processes"]: leg for leg in result["legs"]}
    assert set(legs) == {1, 2}
    for leg in legs.values():
        assert leg["turns"] == 4  # two two-turn conversations, each ending in a refund
        assert _number(leg["turns_per_s"]) and leg["turns_per_s"] > 0
    assert len(result["two_over_one"]) == 1 and _number(result["two_over_one_median"])
    scale_out.report(result)
    assert "two processes / one" in capsys.readouterr().out


@pytest.mark.parametrize(
    "module",
    [turn_overhead, llm_calls, concurrency, checkpoint_size, http_overhead, scale_out],
    ids=lambda m: m.__name__,
)
def test_defaults_parse(module: Any) -> None:
    options, json_file = module.parse_args([])
    assert options == module.Options()
    assert json_file is None


def test_options_come_from_the_shared_command_line() -> None:
    options, json_file = checkpoint_size.parse_args(
        ["--durability", "sync", "--prune-every", "0", "--json", "out.json"]
    )
    assert options == checkpoint_size.Options(modes=("sync",), prune_every=0)
    assert json_file == "out.json"
    with pytest.raises(SystemExit):  # argparse's answer to a bad value: usage, exit 2
        concurrency.parse_args(["--levels", "0"])
