"""Auralith's SQL store: jobs, partitions, checkpoints and events (SQLAlchemy 2, Alembic migrations)."""
