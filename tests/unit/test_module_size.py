"""Every module of graph/ and server/ is small enough to hold in one's head.

Past 500 lines a module is two concerns (one graph node's helpers beside another's, a
workflow beside its routes): split it by concern rather than raising the limit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graph", "server")
MAX_LINES = 500


def lines_of(path: Path) -> int:
    """The number of lines in ``path`` as an editor counts them."""
    return len(path.read_text(encoding="utf-8").splitlines())


def oversized(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, int]:
    """Modules under ``packages`` of ``root`` longer than :data:`MAX_LINES`, with their length."""
    found: dict[str, int] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if (count := lines_of(path)) > MAX_LINES:
                found[str(path.relative_to(root))] = count
    return found


def test_no_module_of_graph_or_server_is_over_the_limit() -> None:
    assert (ROOT / "graph" / "graph.py").is_file()  # an empty scan would prove nothing
    assert oversized(ROOT) == {}


@pytest.mark.parametrize(("count", "too_long"), [(MAX_LINES, False), (MAX_LINES + 1, True)])
def test_the_check_fails_for_a_module_that_grows_past(
    tmp_path: Path, count: int, too_long: bool
) -> None:
    module = tmp_path / "graph" / "deep" / "grown.py"
    module.parent.mkdir(parents=True)
    module.write_text("x = 1\n" * count, encoding="utf-8")
    assert ("graph/deep/grown.py" in oversized(tmp_path)) is too_long
