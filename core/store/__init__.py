"""The label store: SQLite (or any SQLAlchemy database) behind small repositories.

Callers get plain records from ``core.store.records``; ORM classes never leave this package.
"""

from core.store.db import Store, open_store

__all__ = ["Store", "open_store"]
