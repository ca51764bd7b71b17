"""Database operations: backup, restore, dump, copy, retention, statistics and query plans.

Each operation takes a database URL, proves it is a reachable kalbot database, and raises the
one-line errors of :mod:`kalbot.adapters.store.ops.errors` (all ``StoreError`` subclasses).
The CLI (``kalbot.cli.db_ops``) is a thin layer over these functions.
"""
