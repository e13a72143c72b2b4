"""What every command shares: consoles, running a coroutine, the storage of a command.

Light on purpose: ``refund-agent --help`` imports this module, so it imports nothing
heavier than the standard library and typer. Rich consoles, settings and the storage
layer are imported when a command first needs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from core.settings import Settings
    from persistence.runtime import Storage

T = TypeVar("T")


class Options:
    """Root options, set by the ``refund-agent`` callback before any command runs."""

    verbose: bool = False


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    """A (sub-)command group with the project's help style: plain text, fast.

    Typer's rich help renders ``[...]`` in help texts as markup (eating ``[default:
    ...]``), shows ``<bool>``-style placeholders and imports rich on every ``--help``;
    click's plain formatter has none of that.
    """
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        **kwargs,
    )


def out() -> Console:
    """The console for results (stdout), sized for the terminal of this moment."""
    from rich.console import Console

    return Console()


def err() -> Console:
    """The console for progress, notes and errors (stderr)."""
    from rich.console import Console

    return Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; return the exit to raise."""
    from rich.markup import escape

    err().print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine, turning known set-up failures into clear errors (exit 2)."""
    import asyncio

    from core.errors import ConfigurationError
    from persistence.embedded import EmbeddedPostgresError

    async def _main() -> T:
        return await coro

    try:
        return asyncio.run(_main())
    except (EmbeddedPostgresError, ConfigurationError, OSError) as exc:
        raise fail(str(exc)) from None


def settings() -> Settings:
    """The effective settings (read once)."""
    from core.settings import get_settings

    return get_settings()


def announce_database(url: str, settings: Settings) -> None:
    """With ``--verbose``, name the embedded server's URL on stderr (never otherwise)."""
    if Options.verbose and settings.database_url is None:
        err().print(f"[dim]embedded PostgreSQL: {url}[/dim]", soft_wrap=True, highlight=False)


async def with_storage(
    settings: Settings, work: Callable[[Storage], Awaitable[T]], *, migrations: bool = True
) -> T:
    """Open the storage (embedded server started if needed), run ``work``, close it."""
    from persistence.runtime import open_storage

    storage = await open_storage(settings, run_migrations=migrations)
    announce_database(storage.url, settings)
    try:
        return await work(storage)
    finally:
        await storage.close()
