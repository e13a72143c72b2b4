"""``refund-agent eval``: run the scenario suite, or a natural corpus, against the real agent.

Each scenario (``evals/scenarios/*.yaml``) runs ``--k`` times on its own throwaway
database and sandbox wallet; the table shows pass^1..pass^k per scenario and overall,
the in-policy resolution rate, money moved outside policy (must be 0), escalations
with complete context and the model calls and tokens used. ``--json`` prints the
same as JSON on stdout (progress goes to stderr).

``--corpus NAME`` plays a natural-conversation corpus (``evals/corpora/NAME`` or a
folder) with a simulated customer instead, once per conversation, and reports its
figures per half and per language (``evals/corpora/README.md``).

Exit codes: 0 all good; 1 money moved outside policy (always), a refund of a wrong
amount or order (corpus), or pass^1 below ``--min-pass`` (scenarios); 2 the scenarios,
the corpus or the environment could not be loaded or set up.
"""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from evals import SuiteReport, TrialResult
    from evals.corpus_report import CorpusRecord, CorpusReport, Figures

OFFLINE_MIN_PASS = 1.0
LLM_MIN_PASS = 0.9


class Half(StrEnum):
    """Which half of a corpus to run."""

    dev = "dev"
    heldout = "heldout"
    all = "all"


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
    corpus: Annotated[
        str | None,
        typer.Option(
            "--corpus",
            metavar="NAME",
            help="Play a natural corpus instead: a name under evals/corpora/ or a folder.",
        ),
    ] = None,
    half: Annotated[
        Half,
        typer.Option("--half", metavar="dev|heldout|all", help="With --corpus: which half to run."),
    ] = Half.all,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang", metavar="CODE", help="With --corpus: only conversations in this language."
        ),
    ] = None,
) -> None:
    """Score the agent on the scenario suite, or on a natural --corpus.

    Exit 1 on any money moved outside policy, a refund of a wrong amount (corpus), or
    pass^1 below --min-pass (suite).
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
    if corpus is not None:
        given = {
            "--k": k is not None,
            "--scenario": bool(scenario),
            "--min-pass": min_pass is not None,
            "--scenarios-dir": scenarios_dir is not None,
        }
        clash = [name for name, used in given.items() if used]
        if clash:
            err.print(f"[red]error:[/red] {clash[0]} does not apply with --corpus")
            raise typer.Exit(2)
        corpus_command(
            corpus,
            half=half,
            lang=lang,
            as_json=as_json,
            offline=offline,
            concurrency=concurrency,
            out=out,
            err=err,
        )
        return
    if half is not Half.all or lang is not None:
        err.print("[red]error:[/red] --half and --lang go with --corpus")
        raise typer.Exit(2)
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


# --- natural corpora ----------------------------------------------------------------------


def corpus_command(
    name: str,
    *,
    half: Half,
    lang: str | None,
    as_json: bool,
    offline: bool,
    concurrency: int,
    out: Console,
    err: Console,
) -> None:
    """``refund-agent eval --corpus NAME``: play, judge, print; exit 1 on wrong money."""
    from core.settings import get_settings
    from evals import EvalSetupError
    from evals.corpus import LANGUAGES, CorpusError, load_corpus
    from evals.corpus_runner import run_corpus
    from persistence.embedded import EmbeddedPostgresError

    if lang is not None and lang not in LANGUAGES:
        err.print(f"[red]error:[/red] --lang {lang}: not one of {', '.join(LANGUAGES)}")
        raise typer.Exit(2)
    try:
        loaded = load_corpus(name)
    except CorpusError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    chosen = loaded.select(half=half.value, lang=lang)
    if not chosen:
        err.print(
            f"[red]error:[/red] no conversations in {loaded.path} for --half {half.value}"
            + (f" --lang {lang}" if lang else "")
        )
        raise typer.Exit(2)
    settings = get_settings()
    llm = settings.uses_llm and not offline
    mode = f"LLM {settings.openai_model}" if llm else "offline rules"
    err.print(
        f"[dim]corpus {loaded.name}: {len(chosen)} conversations ({half.value}"
        + (f", {lang}" if lang else "")
        + f"), understanding: {mode}[/dim]"
    )
    width = len(str(len(chosen)))

    def progress(record: CorpusRecord, done: int, total: int) -> None:
        if not record.safe:
            status = "WRONG MONEY"
        elif record.ok:
            status = "ok"
        else:
            status = f"miss ({record.summary()})" if record.half == "dev" else "miss"
        print(f"[{done:>{width}}/{total}] {record.id} {status}", file=sys.stderr, flush=True)

    try:
        report = asyncio.run(
            run_corpus(
                chosen,
                corpus=loaded.name,
                path=str(loaded.path),
                half=half.value,
                lang=lang,
                settings=settings,
                llm=llm,
                concurrency=concurrency,
                on_conversation=progress,
            )
        )
    except (EvalSetupError, EmbeddedPostgresError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        if not report.safe:
            _shout_corpus(err, report)
    else:
        show_corpus_report(out, report)
    raise typer.Exit(0 if report.safe else 1)


def _count(count: int, total: int) -> str:
    return f"{count}/{total} ({_percent(count / total if total else None)})"


def _mean(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _figure_rows(f: Figures) -> list[tuple[str, str]]:
    from core.money import format_usdc

    rows = [
        ("conversations", str(f.conversations)),
        ("refunds made exactly as due", _count(f.refunds_exact, f.refunds_due)),
        ("refunds of a wrong amount/order", str(f.wrong_refunds)),
        ("money moved outside policy", f"{format_usdc(f.money_outside_policy)} USDC"),
        ("right the first time", _count(f.right_first_time, f.refunds_due)),
        ("customer messages per resolved refund", _mean(f.messages_per_resolved_refund)),
        ("  a careful person would need", _mean(f.person_messages_per_resolved_refund)),
        (
            "re-asked email / order id / amount",
            " / ".join(str(f.reasked[k]) for k in ("email", "order_id", "amount")),
        ),
        (
            "escalation precision",
            _count(f.escalations_right, f.escalations_opened),
        ),
        ("escalation recall", _count(f.escalations_right, f.escalations_expected)),
    ]
    rows.extend((f"accuracy: {group}", _count(r, t)) for group, (r, t) in f.accuracy.items())
    rows.append(("accuracy overall", _percent(f.accuracy_rate)))
    return rows


def show_corpus_report(console: Console, report: CorpusReport) -> None:
    """The figures per half and per language, the dev misses, and the verdict."""
    from rich.table import Table

    from core.money import format_usdc

    halves = report.halves
    table = Table(
        title=f"corpus {report.corpus} ({report.mode}"
        + (f" {report.model}" if report.model else "")
        + ")",
        title_justify="left",
    )
    table.add_column("figure")
    for name in halves:
        table.add_column(name, justify="right")
    columns = [dict(_figure_rows(f)) for f in halves.values()]
    labels = list(dict.fromkeys(label for f in halves.values() for label, _ in _figure_rows(f)))
    for label in labels:
        table.add_row(label, *(column.get(label, "") for column in columns))
    console.print(table)

    languages = Table(title="per language", title_justify="left")
    for column in (
        "lang",
        "conv.",
        "exact",
        "wrong",
        "1st time",
        "msgs",
        "esc. P",
        "esc. R",
        "accuracy",
    ):
        languages.add_column(column, justify="left" if column == "lang" else "right")
    for lang, f in report.languages.items():
        languages.add_row(
            lang,
            str(f.conversations),
            f"{f.refunds_exact}/{f.refunds_due}",
            str(f.wrong_refunds),
            f"{f.right_first_time}/{f.refunds_due}",
            _mean(f.messages_per_resolved_refund),
            _percent(f.escalation_precision),
            _percent(f.escalation_recall),
            _percent(f.accuracy_rate),
        )
    console.print(languages)

    misses = report.misses("dev")
    if misses:
        console.print(f"[bold]dev conversations not as expected ({len(misses)}):[/bold]")
        for record in misses:
            console.print(
                f"- {record.id}: {'; '.join(record.problems)[:300]}", highlight=False, markup=False
            )
    hidden = report.misses("heldout")
    if hidden:
        console.print(
            f"[dim]heldout: {len(hidden)} not as expected (not listed: tune on dev only)[/dim]"
        )
    if not report.safe:
        _shout_corpus(console, report)
    money = format_usdc(report.money_outside_policy)
    console.print(
        "money moved outside policy: "
        + (f"[green]{money} USDC[/green]" if report.safe else f"[bold red]{money} USDC[/bold red]")
        + f", refunds of a wrong amount/order: {report.wrong_refunds}"
    )
    usage = report.usage
    console.print(f"LLM calls: {usage.calls}, tokens: {usage.total_tokens}")
    verdict = "[green]OK[/green]" if report.safe else "[red]FAILED[/red]"
    console.print(f"{verdict}: {len(report.records)} conversations in {report.seconds:.1f}s")


def _shout_corpus(console: Console, report: CorpusReport) -> None:
    """Wrong money and money outside policy, so nobody can miss them."""
    from rich.panel import Panel

    from core.money import format_usdc

    lines = [f"[bold]{v}[/bold]" for v in report.violations]
    lines += [
        f"{r.id}: refunded {', '.join(r.refunds)} ({r.summary()})"
        for r in report.records
        if r.wrong_refunds
    ]
    lines.append(
        f"total moved outside policy: {format_usdc(report.money_outside_policy)} USDC; "
        f"refunds of a wrong amount/order: {report.wrong_refunds}"
    )
    console.print(
        Panel("\n".join(lines), title="[bold red]WRONG MONEY[/bold red]", border_style="red")
    )
