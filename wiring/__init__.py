"""Wiring: builds the services every other package acts through.

The only package allowed to import from all the others (graph, tools, persistence,
the sandbox): it opens the pool, starts the local MoltPe sandbox when no MoltPe key is
configured, creates the chat model, installs tracing, and compiles the graph for
``langgraph dev`` (:mod:`wiring.studio`). Nothing here runs at import time.
"""
