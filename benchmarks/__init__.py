"""Benchmarks of the support refund agent: each one compares it with a baseline in-process.

Run one with ``uv run python -m benchmarks.<name> --help``; see ``benchmarks/README.md``.
They print figures and ratios and never assert on speed.
"""
