"""What several test modules share: HTTP conversations, refund requests, waiting.

Test modules import from here (and from the fixtures modules), never from one another:
``tests/unit/test_layers.py`` fails if a ``test_*`` module imports another.
"""
