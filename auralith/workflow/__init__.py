"""Planning (pure), canvas composition and the thin Celery tasks."""
