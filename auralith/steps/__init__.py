"""Pipeline steps: pure functions and classes over documents and tokens; they know nothing of Celery."""
