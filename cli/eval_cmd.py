"""``refund-agent eval``: run the scenario suite against the real agent and score it.

Each scenario (``evals/scenarios/*.yaml``) runs ``--k`` times on its own throwaway
database and sandbox wallet; the table shows pass^1..pass^k per scenario and overall,
the in-policy resolution rate, money moved outside policy (must be 0), escalations
with complete context and the model calls and tokens used. ``--json`` prints the
same as JSON on stdout (progress goes to stderr).

Exit codes: 0 all good; 1 money moved outside policy (always) or pass^1 below
``--min-pass``; 2 the scenarios or the environment could not be loaded or set up.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from evals import SuiteReport, TrialResult

OFFLINE_MIN_PASS = 1.0
LLM_MIN_PASS = 0.9


def eval_command(
    k: Annotated[
        int | None,
        typer.Option(
            "--k",
            min=1,
            max=100,
            metavar="N",
            help="Trials per scenario [default: 1 offline, 4 LLM].",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            metavar="NAME",
            help="Only scenarios with this name or tag (shell patterns allowed; repeatable).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as JSON on stdout.")
    ] = False,
    min_pass: Annotated[
        float | None,
        typer.Option(
            "--min-pass",
            metavar="RATIO",
            min=0.0,
            max=1.0,
            help=f"Exit 1 when pass^1 is below this [default: {OFFLINE_MIN_PASS} offline, "
            f"{LLM_MIN_PASS} LLM].",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Use the offline rules even when OPENAI_API_KEY is set."),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", "-j", min=1, max=32, metavar="N", help="Trials run at once."),
    ] = 4,
    scenarios_dir: Annotated[
        Path | None,
        typer.Option(
            "--scenarios-dir",
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="Folder of scenario YAML files [default: the bundled suite].",
        ),
    ] = None,
) -> None:
    """Run the scenario suite and score it.

    Exit 1 on any money moved outside policy, or pass^1 below --min-pass.
    """
    # Imported here so that `refund-agent --help` does not load the agent.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from core.settings import get_settings
    from evals import EvalSetupError, ScenarioError, load_scenarios, run_suite, select_scenarios
    from persistence.embedded import EmbeddedPostgresError

    out = Console()
    err = Console(stderr=True)
    try:
        scenarios = select_scenarios(load_scenarios(scenarios_dir), scenario or [])
    except ScenarioError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    llm = settings.uses_llm and not offline
    threshold = min_pass if min_pass is not None else (LLM_MIN_PASS if llm else OFFLINE_MIN_PASS)
    trials = k if k is not None else (4 if llm else 1)
    mode = f"LLM {settings.openai_model}" if llm else "offline rules"
    err.print(f"[dim]{len(scenarios)} scenarios x {trials} trial(s), understanding: {mode}[/dim]")

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=err,
        transient=True,
    )
    task = progress.add_task("evaluating", total=len(scenarios) * trials, last="")

    def advance(trial: TrialResult) -> None:
        mark = "[green]pass[/green]" if trial.passed else "[red]FAIL[/red]"
        progress.update(task, advance=1, last=f"{mark} {trial.scenario}")

    try:
        with progress:
            report = asyncio.run(
                run_suite(
                    scenarios,
                    settings=settings,
                    k=trials,
                    llm=llm,
                    concurrency=concurrency,
                    on_trial=advance,
                )
            )
    except (EvalSetupError, EmbeddedPostgresError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    if as_json:
        print(json.dumps(report.as_dict(min_pass=threshold), indent=2, ensure_ascii=False))
        if not report.safe:
            _shout(err, report)
    else:
        show_report(out, report, threshold)
    raise typer.Exit(0 if report.ok(threshold) else 1)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def _shout(console: Console, report: SuiteReport) -> None:
    """Print the safety violations so nobody can miss them."""
    from rich.panel import Panel

    from core.money import format_usdc

    lines = [f"[bold]{v}[/bold]" for v in report.violations]
    lines.append(f"total moved outside policy: {format_usdc(report.money_outside_policy)} USDC")
    console.print(
        Panel(
            "\n".join(lines),
            title="[bold red]MONEY MOVED OUTSIDE POLICY[/bold red]",
            border_style="red",
        )
    )


def show_report(console: Console, report: SuiteReport, min_pass: float) -> None:
    """The results table, failures with their transcripts, and the overall metrics."""
    from rich.panel import Panel
    from rich.table import Table

    from core.money import format_usdc

    table = Table(title=f"scenario suite ({report.mode}, k={report.k})", title_justify="left")
    table.add_column("scenario")
    table.add_column("passed", justify="right")
    for j in range(1, report.k + 1):
        table.add_column(f"pass^{j}", justify="right")
    table.add_column("time", justify="right")
    table.add_column("problem")
    for result in report.scenarios:
        failing = [t for t in result.trials if not t.passed]
        first = failing[0].all_problems[0] if failing else ""
        style = "red" if result.violations else ("yellow" if failing else "")
        table.add_row(
            result.name,
            f"{result.passes}/{len(result.trials)}",
            *(_percent(result.pass_hat(j)) for j in range(1, report.k + 1)),
            f"{result.seconds:.1f}s",
            first[:90],
            style=style,
        )
    console.print(table)

    for result in report.scenarios:
        for trial in result.trials:
            if trial.passed:
                continue
            lines = [f"[red]- {p}[/red]" for p in trial.all_problems]
            for conversation in trial.conversations:
                if len(trial.conversations) > 1:
                    lines.append(f"[bold]{conversation.name}[/bold]")
                for turn in conversation.turns:
                    lines.append(f"[cyan]customer:[/cyan] {turn.say[:300]}")
                    lines.append(f"[green]agent:[/green] {turn.reply[:400]}")
            console.print(
                Panel(
                    "\n".join(lines),
                    title=f"{result.name}, trial {trial.trial + 1}",
                    title_align="left",
                    border_style="red",
                ),
                highlight=False,
            )

    if not report.safe:
        _shout(console, report)
    resolved, eligible = report.in_policy
    complete, tickets = report.escalations
    usage = report.usage
    hats = "  ".join(f"pass^{j} {_percent(report.pass_hat(j))}" for j in range(1, report.k + 1))
    money = format_usdc(report.money_outside_policy)
    console.print(f"[bold]{hats}[/bold]  (min-pass {min_pass:g})")
    console.print(
        f"in-policy resolution: {resolved}/{eligible} "
        f"({_percent(resolved / eligible if eligible else None)})"
    )
    console.print(
        "money moved outside policy: "
        + (f"[green]{money} USDC[/green]" if report.safe else f"[bold red]{money} USDC[/bold red]")
    )
    console.print(
        f"escalations with complete context: {complete}/{tickets} "
        f"({_percent(complete / tickets if tickets else None)})"
    )
    fallbacks = sum(t.fallbacks for t in report.trials)
    console.print(
        f"LLM calls: {usage.calls} ({usage.errors} failed, {fallbacks} rule fallbacks), tokens: "
        f"{usage.input_tokens} in + {usage.output_tokens} out = {usage.total_tokens}"
    )
    verdict = "[green]OK[/green]" if report.ok(min_pass) else "[red]FAILED[/red]"
    console.print(
        f"{verdict}: {len(report.trials)} trials of {len(report.scenarios)} scenarios "
        f"in {report.seconds:.1f}s"
    )
