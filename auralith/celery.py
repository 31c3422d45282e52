"""Where `celery -A auralith worker|beat|flower` finds the app: Celery looks up `auralith.celery` when the
package itself has no `app` attribute (kept out of the package root so pure modules never load Celery)."""

from auralith.worker.app import app

__all__ = ["app"]
