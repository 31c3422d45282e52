"""Where `celery -A auralith worker|beat|flower` finds the app: Celery looks up `auralith.celery` when the
package itself has no `app` attribute (kept out of the package root so pure modules never load Celery)."""

import os

# `celery -A auralith flower` started by hand listens on loopback unless told otherwise (`--address`, or
# FLOWER_ADDRESS=0.0.0.0): Flower's own default is every interface. Flower reads FLOWER_* variables after
# the app is loaded, so a default set here reaches it.
os.environ.setdefault("FLOWER_ADDRESS", "127.0.0.1")

from auralith.worker.app import app  # noqa: E402

__all__ = ["app"]
