"""Leaf utilities every layer may import: settings and money.

Nothing in here imports anything else from the project, so ``graph -> tools ->
persistence -> core`` stays a one-way street.
"""
