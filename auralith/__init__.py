"""Auralith: a distributed data-preparation and training pipeline for language models, on Celery."""

from auralith.app import app

__all__ = ["app"]
__version__ = "0.1.0"
