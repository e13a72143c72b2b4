"""The README's configuration table and commands match the code."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from cli.main import app
from core.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in README, f"{name.upper()} missing from the README"


def test_every_command_is_documented() -> None:
    root = get_command(app)
    assert hasattr(root, "commands")
    for name, command in root.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for sub in subcommands:
                assert f"{name} {sub}" in README, f"refund-agent {name} {sub} missing"
        else:
            assert f"refund-agent {name}" in README, f"refund-agent {name} missing"


def test_quick_start_commands_are_shown() -> None:
    assert "uv run refund-agent demo" in README
    assert "uv run pytest" in README
