"""The results store: ResultRecords in SQLite (default) or PostgreSQL, with migrations shipped inside.

Importing this package loads SQLAlchemy; `import deploybench` alone does not.
"""

from __future__ import annotations

from deploybench.store.results import ResultStore, StoredResult
from deploybench.store.url import DATABASE_ENV, DEFAULT_URL, resolve_url

__all__ = ["DATABASE_ENV", "DEFAULT_URL", "ResultStore", "StoredResult", "resolve_url"]
