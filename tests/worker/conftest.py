"""What the worker tests share: a real SQLite store, and an app on kombu's in-memory broker (nothing to reach)."""

from __future__ import annotations

import pytest

from auralith.store import Store
from auralith.store.db import dispose_all
from auralith.worker.app import make_app


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.upgrade()
    yield store
    dispose_all()


@pytest.fixture
def app(store):
    app = make_app("memory://", store.url)
    app.conf.update(auralith_heartbeat_interval=1.0, auralith_heartbeat_timeout=3.0)
    return app
