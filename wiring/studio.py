"""The graph that ``langgraph dev`` (and LangGraph Platform) serves: see langgraph.json.

Compiled without a checkpointer (the server brings its own). It reaches Postgres and
MoltPe through services built from settings on the first run, so importing this module
connects to nothing.
"""

from __future__ import annotations

from graph.graph import build_builder
from wiring.services import default_services

builder = build_builder(default_services)
graph = builder.compile(name="support-refund-agent")
