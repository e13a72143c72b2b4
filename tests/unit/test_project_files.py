"""Files beside the code: .env.example, LICENSE, what .ci/run prints about the test server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dotenv import dotenv_values

from core.settings import Settings
from tests.pg import describe_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")
SETTING_LINE = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$", re.M)


def example_values() -> dict[str, str]:
    """The example's settings, as they would be read once uncommented."""
    lines = "\n".join(f"{m.group(1)}={m.group(2)}" for m in SETTING_LINE.finditer(EXAMPLE))
    from io import StringIO

    return {k: v or "" for k, v in dotenv_values(stream=StringIO(lines)).items()}


def test_env_example_lists_every_setting_once_with_a_comment() -> None:
    names = [m.group(1) for m in SETTING_LINE.finditer(EXAMPLE)]
    assert sorted(names) == sorted(n.upper() for n in Settings.model_fields)
    assert len(names) == len(set(names))
    lines = EXAMPLE.splitlines()
    for index, line in enumerate(lines):
        if SETTING_LINE.match(line):
            above = lines[index - 1]
            assert above.startswith("# ") and not SETTING_LINE.match(above), line


def test_env_example_defaults_are_the_code_defaults() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name, value in example_values().items():
        field = name.lower()
        if value == "":
            # Unset in the example: the code's default is None, or computed (a folder).
            info = Settings.model_fields[field]
            assert getattr(defaults, field) is None or info.default_factory is not None, name
            continue
        given = Settings(_env_file=None, **{field: value})  # type: ignore[arg-type]
        assert getattr(given, field) == getattr(defaults, field), name


def test_copying_the_example_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    env = tmp_path / ".env"
    env.write_text(EXAMPLE, encoding="utf-8")
    assert Settings(_env_file=env) == Settings(_env_file=None)  # type: ignore[call-arg]


def test_license_is_mit_as_pyproject_says() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "support-refund-agent contributors" in text
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres@127.0.0.1:5432/postgres", "127.0.0.1:5432/postgres"),
        (
            "postgresql://ci:hunter2@db.ci.internal:6543/tests?sslmode=require",
            "db.ci.internal:6543/tests",
        ),
        ("host=pg.example port=5433 user=app password=hunter2 dbname=ci", "pg.example:5433/ci"),
        ("postgresql:///postgres?host=/var/run/postgresql", "/var/run/postgresql:5432/postgres"),
    ],
)
def test_ci_names_the_real_test_server_without_its_password(url: str, shown: str) -> None:
    assert describe_server(url) == shown
    assert "hunter2" not in describe_server(url)
    assert "check TEST_DATABASE_URL" in describe_server("not a url password=hunter2")


def test_ci_prints_the_described_server_and_the_prefix() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "python -m tests.pg describe" in script
    assert "TEST_DATABASE_PREFIX" in script
    assert 'echo "tests use the server at 127.0.0.1:5432"' not in script


def test_test_database_names_take_the_configured_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pg import database_prefix

    monkeypatch.delenv("TEST_DATABASE_PREFIX", raising=False)
    assert database_prefix() == "test"
    monkeypatch.setenv("TEST_DATABASE_PREFIX", "ci_ops")
    assert database_prefix() == "ci_ops"
    monkeypatch.setenv("TEST_DATABASE_PREFIX", "  ")
    assert database_prefix() == "test"
