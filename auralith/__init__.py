"""Auralith: a distributed data-preparation and training pipeline for language models, on Celery.

Importing the package loads nothing else: `import auralith.steps.minhash` never loads Celery or
SQLAlchemy. `celery -A auralith` finds the Celery app in `auralith.celery`.
"""

__version__ = "0.1.0"
