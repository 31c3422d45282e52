"""Deployment overrides for the Celery app, read by `celery -A auralith` when it runs from this folder.

Auralith's defaults (auralith/settings.py) already read AURALITH_BROKER_URL, AURALITH_STORE_URL,
AURALITH_VISIBILITY_TIMEOUT, AURALITH_WORKER_MAX_MEMORY_PER_CHILD and friends from the environment.
Set any Celery setting here to override them, for example:

    worker_concurrency = 4
    task_soft_time_limit = 3600

Prefer AURALITH_VISIBILITY_TIMEOUT to setting `broker_transport_options` here: that dict replaces
Auralith's whole one, priority settings included.
"""

import os

if os.environ.get("AURALITH_WORKER_CONCURRENCY"):
    worker_concurrency = int(os.environ["AURALITH_WORKER_CONCURRENCY"])

# `celery flower` with this app listens on loopback unless FLOWER_ADDRESS (or --address) says otherwise: Flower's
# own default is every interface (auralith/celery.py sets the same default for `celery -A auralith flower`).
os.environ.setdefault("FLOWER_ADDRESS", "127.0.0.1")
