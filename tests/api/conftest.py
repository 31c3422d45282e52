"""Fixtures of the API tests: an app over a SQLite store (its broker `memory://`: nothing consumes it), tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from auralith.api.app import create_app
from auralith.api.auth import TokenBook, new_token
from auralith.client import Client

OPERATOR, OPERATOR_ENTRY = new_token("ops", "operator")
VIEWER, VIEWER_ENTRY = new_token("look", "viewer")
TOKENS = TokenBook.parse(f"{OPERATOR_ENTRY}, {VIEWER_ENTRY}")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_client(tmp_path) -> Client:
    client = Client("memory://", f"sqlite:///{tmp_path / 'store.db'}")
    client.store.upgrade()
    return client


@pytest.fixture
def http(api_client, tmp_path, monkeypatch) -> TestClient:
    """The app, run from tmp_path with its allowed root there: relative config paths resolve inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AURALITH_ALLOWED_ROOTS", str(tmp_path))
    return TestClient(create_app(api_client, TOKENS, poll=0.05))
