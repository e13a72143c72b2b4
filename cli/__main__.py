"""``python -m cli``: the same as the ``refund-agent`` command."""

from cli.main import main

main()
