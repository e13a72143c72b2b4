"""Every command's help reads cleanly, and ``refund-agent --help`` stays light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("langgraph", "langsmith", "langchain_core", "moltpe_sandbox", "fastapi", "server")


def command_paths() -> Iterator[list[str]]:
    """Every command and sub-command, as the arguments that reach it."""

    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(get_command(app), [])


PATHS = list(command_paths())


def test_every_command_is_reached() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"db status", "db stop", "audit tail", "config", "orders import"} <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "refund-agent")
def test_help_has_no_defects(path: list[str]) -> None:
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": "100"}, prog_name="refund-agent"
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Usage: refund-agent" in text
    assert not re.search(r"<[a-z][^>]*>", text), f"a <type> placeholder:\n{text}"
    assert "`" not in text, f"raw backticks:\n{text}"
    stray = re.search(r"\S [.,;:)](?=\s|$)", text)  # "per scenario ." where a default was
    assert not stray, f"a stray space before punctuation:\n{text}"
    assert "[default: ]" not in text and "[default:]" not in text
    if "Commands:" in text:
        listing = text.split("Commands:")[1]
        assert "..." not in listing, f"a truncated command summary:\n{text}"


def test_cli_main_imports_nothing_heavy() -> None:
    """Importing the command line (and its --help) loads no agent, sandbox or server."""
    code = (
        "import json, sys\n"
        "import cli.main\n"
        "at_import = sorted(sys.modules)\n"
        "try:\n"
        "    cli.main.app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps({'import': at_import, 'help': sorted(sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    for moment, modules in loaded.items():
        heavy = sorted({m for m in modules if m.split(".")[0] in HEAVY})
        assert not heavy, f"{moment}: {heavy}"


def test_the_sandbox_default_key_matches_the_sandbox() -> None:
    from cli.sandbox_cmd import SANDBOX_API_KEY
    from moltpe_sandbox import SANDBOX_API_KEY as real

    assert real == SANDBOX_API_KEY


def test_a_bad_setting_is_an_error_naming_it_not_a_traceback(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ORDER_ID_FORMAT": "S O-###",
        "REFUND_PER_TX_CAP": "lots",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "setting ORDER_ID_FORMAT:" in done.stderr and "position 2" in done.stderr
    assert "setting REFUND_PER_TX_CAP: not an amount" in done.stderr
