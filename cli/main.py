"""``refund-agent``: set up, inspect and run the support refund agent.

Start-up stays light: this module and the command groups it registers import only
typer and the standard library at import time. Everything a command needs (settings,
the database, LangGraph, the sandbox, the HTTP server) is imported inside that
command, so ``refund-agent --help`` never loads the agent.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli._common import Options, fail, new_app, run, settings
from cli.audit_cmd import audit_app
from cli.config_cmd import config
from cli.db_cmd import db_app
from cli.eval_cmd import eval_command
from cli.ops import refunds_app, wallet_app
from cli.orders_cmd import orders_app
from cli.sandbox_cmd import sandbox

app = new_app(
    "A support agent that refunds USDC through MoltPe within policy and escalates the rest."
)
app.add_typer(db_app, name="db")
app.add_typer(orders_app, name="orders")
app.add_typer(audit_app, name="audit")
app.add_typer(refunds_app, name="refunds")
app.add_typer(wallet_app, name="wallet")
app.command(name="config")(config)
app.command(name="sandbox")(sandbox)
app.command(name="eval")(eval_command)


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log what happens, and name the embedded database's URL."
        ),
    ] = False,
) -> None:
    import logging

    Options.verbose = verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo database instead of dropping it.")
    ] = False,
) -> None:
    """Run the guide's four scenarios end to end.

    On local defaults (embedded PostgreSQL, the sandbox); exit 1 if any fails.
    """
    from cli._common import out
    from cli.demo import run_demo

    ok = run(run_demo(settings(), out(), keep=keep))
    raise typer.Exit(0 if ok else 1)


@app.command()
def chat(
    thread: Annotated[
        str | None, typer.Option("--thread", metavar="ID", help="Continue this conversation.")
    ] = None,
    customer_email: Annotated[
        str | None,
        typer.Option(
            "--as", metavar="EMAIL", help="Act as a customer already signed in with this email."
        ),
    ] = None,
) -> None:
    """Talk to the agent in the terminal.

    Conversations are checkpointed in Postgres and can be resumed with --thread.
    """
    from cli._common import out
    from cli.chat import run_chat

    run(run_chat(settings(), out(), thread_id=thread, customer_email=customer_email))


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the HTTP API, the web chat and the review console.

    The customer web chat is at /, the review console at /review, the API docs at /docs.
    """
    import logging

    from core import logs
    from server.app import create_app
    from server.runner import serve as serve_app

    current = settings()
    logs.configure(current.log_format)
    logger = logging.getLogger("server.app")
    logger.setLevel(logging.INFO)
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    urls = {"chat": f"{base}/", "review": f"{base}/review", "docs": f"{base}/docs"}
    logger.info(
        "serving: customer chat %s  review console %s  API docs %s",
        *urls.values(),
        extra={"urls": urls},
    )
    if not current.reviewers():
        logger.warning(
            "REVIEWER_TOKENS is not set: the review console will refuse every token "
            "(e.g. REVIEWER_TOKENS='dana:choose-a-long-secret')"
        )
    serve_app(create_app(settings=current), host=host, port=port)


def main() -> None:
    """Console-script entry point; a bad setting is an error naming it, not a traceback."""
    try:
        app()
    except Exception as exc:
        from pydantic import ValidationError  # here: `--help` must not pay for the import

        if not isinstance(exc, ValidationError) or exc.title != "Settings":
            raise
        for problem in exc.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper()
            reason = str(problem["msg"]).removeprefix("Value error, ")
            fail(f"setting {name}: {reason} (got {problem.get('input')!r})")
        raise SystemExit(2) from None
