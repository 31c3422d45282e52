"""auralith.embedded without starting a worker: reading a state dir's store, and Ctrl-C while watching a job
(the whole embedded run: tests/cli/test_run.py and tests/cli/test_train.py, through the command line)."""

from __future__ import annotations

import signal
import time

import pytest

from auralith.client import Client
from auralith.embedded import JobInterrupted, state_dir_client, watch_to_end
from auralith.errors import AuralithError
from auralith.store.db import dispose_all
from auralith.store.models import JobState


@pytest.fixture
def client(tmp_path):
    client = Client("memory://", f"sqlite:///{tmp_path / 'auralith.db'}")
    client.store.upgrade()
    client.store.create_job("job-1", {"name": "j"}, "h" * 64, "j", "normal")
    client.store.set_job_state("job-1", JobState.RUNNING)
    yield client
    dispose_all()


class _CtrlCInAFinaliser:
    """Where Python drops a KeyboardInterrupt: it prints "Exception ignored in ..." and goes on."""

    def __del__(self):
        raise KeyboardInterrupt


def test_ctrl_c_cancels_the_job_and_names_it(client):
    def watch(client: Client, job_id: str):
        raise KeyboardInterrupt

    with pytest.raises(JobInterrupted) as caught:
        watch_to_end(client, "job-1", watch)
    assert caught.value.job_id == "job-1"
    assert client.get_job("job-1").state == JobState.CANCELLED


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raising KeyboardInterrupt, as in a terminal: pytest started in the background by a shell without job
    control (`pytest &` in a script) ignores SIGINT, and then no Ctrl-C reaches anything."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_dropped_by_a_finaliser_still_interrupts_the_watch(client, ctrl_c_raises):
    def watch(client: Client, job_id: str):
        _CtrlCInAFinaliser()  # dropped at once: SQLAlchemy's weakref callbacks do this as a watch polls
        time.sleep(10)
        return client.get_job(job_id)

    started = time.monotonic()
    with pytest.raises(JobInterrupted):
        watch_to_end(client, "job-1", watch)
    assert time.monotonic() - started < 5
    assert client.get_job("job-1").state == JobState.CANCELLED


def test_a_job_that_ends_is_returned(client):
    client.store.set_job_state("job-1", JobState.SUCCEEDED)
    assert watch_to_end(client, "job-1").state == JobState.SUCCEEDED


def test_state_dir_client_reads_the_store_a_run_kept(tmp_path, client):
    assert state_dir_client(tmp_path).get_job("job-1").name == "j"
    with pytest.raises(AuralithError, match="no embedded store in"):
        state_dir_client(tmp_path / "missing")
