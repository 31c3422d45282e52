"""`/api/queues`, `/api/workers`, `/readyz`, the OpenAPI page, the dashboard's pages."""

from tests.api.conftest import VIEWER, bearer


def test_queues_workers_and_readiness(http):
    queues = http.get("/api/queues", headers=bearer(VIEWER)).json()
    assert {q["name"] for q in queues["queues"]} >= {"default", "process", "tokenize"}
    assert http.get("/api/workers", headers=bearer(VIEWER)).json()["workers"] == []
    ready = http.get("/readyz", headers=bearer(VIEWER))
    assert ready.status_code == 200 and ready.json() == {"ok": True, "store": "ok", "broker": "ok"}


def test_readyz_names_what_is_down(tmp_path):
    from fastapi.testclient import TestClient

    from auralith.api.app import create_app
    from auralith.client import Client
    from tests.api.conftest import TOKENS

    down = Client("redis://127.0.0.1:1/0", "postgresql+psycopg://u:pw@127.0.0.1:1/x")
    answer = TestClient(create_app(down, TOKENS)).get("/readyz", headers=bearer(VIEWER))
    assert answer.status_code == 503 and answer.json()["store"] != "ok" and answer.json()["broker"] != "ok"
    assert "pw" not in answer.text


def test_openapi_lists_every_endpoint(http):
    assert http.get("/openapi.json").status_code == 401 and http.get("/docs").status_code == 401
    http.headers["Authorization"] = f"Bearer {VIEWER}"
    paths = http.get("/openapi.json").json()["paths"]
    for path in (
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/cancel",
        "/api/jobs/{job_id}/resume",
        "/api/jobs/{job_id}/events",
        "/api/jobs/{job_id}/report",
        "/api/queues",
        "/api/workers",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    assert "application/yaml" in paths["/api/jobs"]["post"]["requestBody"]["content"]
    docs = http.get("/docs")
    assert docs.status_code == 200
    # Served from the package (fastapi-offline's copy of Swagger UI), not a CDN: the page works offline.
    assert "cdn." not in docs.text and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_dashboard_pages_render_for_a_logged_in_viewer(http):
    http.post("/login", data={"token": VIEWER})
    jobs = http.get("/")
    assert jobs.status_code == 200 and 'id="jobs"' in jobs.text and 'id="submit-form"' not in jobs.text
    assert 'id="workers"' in http.get("/cluster").text
    assert http.get("/static/vendor/uPlot.iife.min.js").status_code == 200


def test_docs_api_has_a_curl_example_for_every_endpoint(http):
    import re

    from tests.corpus import REPO

    doc = (REPO / "docs" / "api.md").read_text()
    curled = {re.sub(r"\?.*", "", u) for u in re.findall(r'curl [^\n]*"\$API(/[^"]*)"', doc)}
    shown = {re.sub(r"/api/jobs/3f2a", "/api/jobs/{job_id}", u) for u in curled}
    for path, methods in http.get("/openapi.json", headers=bearer(VIEWER)).json()["paths"].items():
        if path != "/docs":
            assert path in shown, f"docs/api.md has no curl example of {sorted(methods)} {path}"
