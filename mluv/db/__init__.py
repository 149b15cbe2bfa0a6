"""PostgreSQL access: the schema (models), the engine and session factory (session), migrations (migrate)."""

from mluv.db.models import Base
from mluv.db.session import create_engine, create_session_factory

__all__ = ["Base", "create_engine", "create_session_factory"]
