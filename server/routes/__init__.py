"""The service's routes, one module-level router per audience.

``customers`` (conversations and the web chat), ``review`` (tickets and the review
console), ``orders`` (a backend's orders, with a service token) and ``operations``
(health and metrics). Routes reach the app's shared runtime
through the dependencies of :mod:`server.access` and :mod:`server.runtime`.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parents[1] / "static"
"""The web pages and their scripts and styles."""
