"""The ``refund-agent`` command line."""
