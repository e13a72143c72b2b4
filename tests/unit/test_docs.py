"""The README's configuration table and commands match the code."""

from __future__ import annotations

import importlib
import re
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


def test_the_readme_runs_the_tests_as_ci_does() -> None:
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    [command] = [line.strip() for line in ci.splitlines() if line.startswith("uv run pytest")]
    shown = {
        line.split("#")[0].strip()
        for line in README.splitlines()
        if line.startswith("uv run pytest")  # the commands in the README's code blocks
    }
    assert shown == {command}, (shown, command)


DOCS = Path(__file__).resolve().parents[2] / "docs"
DEV_ONLY_SETTINGS = {"REFUND_AGENT_HOME", "MOLTPE_SANDBOX_ADMIN_KEY"}


def test_the_production_guide_covers_every_setting_that_matters() -> None:
    assert "(docs/PRODUCTION.md)" in README
    guide = (DOCS / "PRODUCTION.md").read_text()
    for name in Settings.model_fields:
        if name.upper() not in DEV_ONLY_SETTINGS:
            assert f"`{name.upper()}`" in guide or name.upper() in guide, name.upper()
    for topic in ("FORWARDED_ALLOW_IPS", "wiring/studio.py:graph", ".env.example", "newer than"):
        assert topic in guide


def test_the_orders_guide_documents_every_column() -> None:
    from tools.order_import import ORDER_COLUMNS, REQUIRED_COLUMNS

    assert "(docs/ORDERS.md)" in README
    guide = (DOCS / "ORDERS.md").read_text()
    for column in ORDER_COLUMNS:
        required = "yes" if column in REQUIRED_COLUMNS else "no"
        assert f"| `{column}` | {required} |" in guide, column
    assert "ORDERS_SOURCE_QUERY" in guide and "%(order_id)s" in guide


ARCHITECTURE = (DOCS / "ARCHITECTURE.md").read_text()
PACKAGES = (
    "core",
    "persistence",
    "tools",
    "graph",
    "wiring",
    "server",
    "cli",
    "evals",
    "benchmarks",
    "moltpe_sandbox",
)
DOTTED = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.\w+)+$")


def section(title: str) -> str:
    """The text of one ``## title`` section of the architecture guide."""
    start = ARCHITECTURE.index(f"## {title}\n")
    end = ARCHITECTURE.find("\n## ", start + 1)
    return ARCHITECTURE[start : end if end != -1 else None]


def resolve(dotted: str) -> object:
    """The object a dotted name denotes: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(dotted)


def test_the_layout_covers_every_package() -> None:
    layout = section("Layout and dependency direction")
    root = DOCS.parent
    packages = sorted(p.parent.name for p in root.glob("*/__init__.py"))
    assert set(PACKAGES) <= set(packages)
    for package in [*packages, "tests"]:
        assert f"\n{package}/" in layout, f"{package}/ missing from the layout"


def test_every_name_in_the_where_does_x_live_map_exists() -> None:
    table = section("Where does X live")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    names = [n for n in re.findall(r"`([^`]+)`", table) if DOTTED.match(n)]
    assert len(rows) > 20 and len(names) > 40
    for row in rows[1:]:  # every rule names at least one real module or function
        assert any(DOTTED.match(n) for n in re.findall(r"`([^`]+)`", row)), row
    missing = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, "\n".join(missing)
