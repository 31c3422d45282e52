"""The dashboard in a real browser: Debian's headless Chromium (through its chromedriver) against `auralith serve`
with a real worker on Redis + PostgreSQL. Log in, submit the demo job, watch it succeed on its page, open the
report, cancel a second job; the workers page. Screenshots go to $AURALITH_TEST_ARTIFACTS (default
test-artifacts/dashboard/); docs/img/ holds copies.

Locally a missing browser skips this test; under CI=true it fails (`.ci/run` installs `chromium` and
`chromium-driver` from the OS packages)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from auralith.api.auth import hash_token
from tests.corpus import REPO
from tests.integration.conftest import IN_CI

CHROMIUM = os.environ.get("AURALITH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AURALITH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("AURALITH_TEST_ARTIFACTS") or REPO / "test-artifacts" / "dashboard")
TOKEN = "aur_browser-test-" + "x" * 30


@pytest.fixture
def browser():
    """Headless Chromium, checked before any service starts; quit at the end."""
    driver = _browser()
    yield driver
    driver.quit()


def _browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        missing.append(f"selenium ({exc})")
    if missing:
        message = f"no browser for the dashboard test: {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: the browser test must not skip", pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(celery_worker, tmp_path):
    """`auralith serve` in a folder holding the demo's data, on the session worker's broker and store."""
    shutil.copytree(REPO / "examples" / "data", tmp_path / "data")
    shutil.copy(REPO / "examples" / "tokenizer.json", tmp_path / "tokenizer.json")
    port = _free_port()
    env = {
        **os.environ,
        "AURALITH_API_TOKENS": f"browser:operator:{hash_token(TOKEN)}",
        "AURALITH_ALLOWED_ROOTS": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "auralith.cli.main", "serve", "--port", str(port), "--poll", "0.3"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        assert TOKEN not in (tmp_path / "serve.log").read_text(), "a token reached the server's log"


def test_log_in_submit_watch_report_and_cancel_in_a_browser(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, 120)
    demo = (REPO / "examples" / "demo.yaml").read_text()

    def submit(config: str, priority: str = "") -> str:
        browser.get(f"{server}/")
        box = wait.until(ec.presence_of_element_located((By.ID, "config")))
        browser.execute_script("arguments[0].value = arguments[1];", box, config)  # typing 1 KB is slow
        if priority:
            Select(browser.find_element(By.ID, "priority")).select_by_visible_text(priority)
        browser.find_element(By.ID, "submit").click()
        wait.until(ec.url_contains("/jobs/"))
        return browser.current_url.rsplit("/", 1)[1]

    def state_is(state: str):
        return ec.text_to_be_present_in_element((By.ID, "state"), state)

    try:
        browser.get(f"{server}/")
        assert "/login" in browser.current_url
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.save_screenshot(str(ARTIFACTS / "login.png"))
        browser.find_element(By.ID, "login").click()
        wait.until(ec.presence_of_element_located((By.ID, "jobs")))
        assert "browser (operator)" in browser.page_source

        # A config error is shown as the CLI's key-path lines.
        browser.execute_script("document.getElementById('config').value = 'name: x\\nfoo: 1\\n';")
        browser.find_element(By.ID, "submit").click()
        errors = wait.until(ec.visibility_of_element_located((By.ID, "submit-errors")))
        assert "foo: unknown key" in errors.text

        # The demo, with near dedup on, so its page shows the near-duplicate clusters too.
        job_id = submit(
            demo.replace(
                "preprocessing:\n", "preprocessing:\n  near_dedup: {enabled: true, num_bands: 2, rows_per_band: 4}\n", 1
            )
        )
        wait.until(state_is("succeeded"))
        wait.until(lambda b: "ETA" not in b.find_element(By.ID, "stages").text)
        stages = browser.find_element(By.ID, "stages").text
        assert "process" in stages and "tokenize" in stages and "done" in stages, stages
        assert "exact_duplicate" in browser.find_element(By.ID, "removed").text
        assert "succeeded" in browser.find_element(By.ID, "events").text
        wait.until(lambda b: "clusters" in b.find_element(By.ID, "clusters").text)
        browser.set_window_size(1280, 2300)  # the whole page: stages, charts, figures, removals, clusters, events
        browser.save_screenshot(str(ARTIFACTS / "job-succeeded.png"))
        browser.set_window_size(1280, 1100)

        browser.get(browser.find_element(By.ID, "report").get_attribute("href"))
        assert "demo" in browser.page_source and browser.find_elements(By.TAG_NAME, "img")
        browser.save_screenshot(str(ARTIFACTS / "report.png"))

        # A second job, with many small partitions one at a time: still running when cancelled.
        slow = demo.replace("partition_size_mb: 0.1", "partition_size_mb: 0.01\nlimits: {max_partitions_in_flight: 1}")
        slow = slow.replace("out/demo", "out/slow").replace("work_dir: work", "work_dir: work-slow")
        second = submit(slow, priority="low")
        assert second != job_id
        wait.until(ec.element_to_be_clickable((By.ID, "cancel"))).click()
        wait.until(state_is("cancelled"))
        wait.until(ec.visibility_of_element_located((By.ID, "resume")))
        browser.save_screenshot(str(ARTIFACTS / "job-cancelled.png"))

        browser.get(f"{server}/")
        wait.until(lambda b: "cancelled" in b.find_element(By.ID, "jobs").text)
        rows = browser.find_element(By.ID, "jobs").text
        assert "succeeded" in rows and "cancelled" in rows
        browser.save_screenshot(str(ARTIFACTS / "jobs.png"))

        browser.get(f"{server}/cluster")
        wait.until(lambda b: "alive" in b.find_element(By.ID, "workers").text)
        assert "tokenize" in browser.find_element(By.ID, "queues").text
        browser.save_screenshot(str(ARTIFACTS / "workers.png"))
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "failure.png"))
        (ARTIFACTS / "failure.html").write_text(browser.page_source)
        raise


def test_a_missing_browser_fails_under_ci(monkeypatch):
    """Never a silent skip in CI: `.ci/run` must have installed the browser."""
    import tests.integration.test_dashboard_browser as this

    monkeypatch.setattr(this, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(this, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="/nonexistent/chromium.*CI=true: the browser test must not skip"):
        this._browser()
    monkeypatch.setattr(this, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="/nonexistent/chromium"):
        this._browser()
