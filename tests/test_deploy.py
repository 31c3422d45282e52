"""The deployment files agree with the code: every queue a task is routed to has a worker consuming it, in
Docker Compose, in the Kubernetes manifests and in the Procfile. Docker and a cluster cannot run here, so
this checks structure, not a live deployment."""

from __future__ import annotations

import shlex

import pytest
import yaml

from auralith.worker.settings import QUEUES, TASK_ROUTES
from tests.corpus import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
ROUTED = {route["queue"] for route in TASK_ROUTES.values()} | set(QUEUES)


def _queues(command: list[str]) -> set[str]:
    """The queues a `celery -A auralith worker` command line consumes ("" when it is not a worker)."""
    if "worker" not in command:
        return set()
    for flag in ("-Q", "--queues"):
        if flag in command:
            return set(command[command.index(flag) + 1].split(","))
    joined = [a.split("=", 1)[1] for a in command if a.startswith("--queues=")]
    return set(joined[0].split(",")) if joined else {"default"}


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]


def _k8s_docs() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def _of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_routes_point_at_declared_queues():
    assert ROUTED == set(QUEUES)


def test_compose_has_a_worker_for_every_queue():
    services = _compose()
    consumed = {name: _queues(svc.get("command", [])) for name, svc in services.items()}
    missing = ROUTED - set().union(*consumed.values())
    assert not missing, f"queues without a worker in docker-compose.yml: {sorted(missing)}"
    for name, queues in consumed.items():
        if not queues:
            continue
        svc = services[name]
        assert "/data" in " ".join(svc["volumes"]), f"{name}: workers must share /data"
        assert svc["depends_on"]["init"]["condition"] == "service_completed_successfully", name
        if "hpu" in queues:
            assert "--pool=solo" in svc["command"], "one process per accelerator card"


def test_compose_services_around_the_workers():
    services = _compose()
    assert services["init"]["command"] == ["auralith", "db", "upgrade"]
    for name in ("redis", "postgres"):
        assert "healthcheck" in services[name]
    flower = services["flower"]
    assert "flower" in flower["command"]
    assert "FLOWER_BASIC_AUTH" in flower["environment"]
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"]), "Flower's /metrics has no auth"


def test_k8s_has_a_worker_deployment_for_every_queue():
    deployments = _of_kind(_k8s_docs(), "Deployment")
    consumed = {name: _queues(_container(d)["command"]) for name, d in deployments.items()}
    missing = ROUTED - set().union(*consumed.values())
    assert not missing, f"queues without a worker Deployment in deploy/k8s: {sorted(missing)}"
    for name, queues in consumed.items():
        if not queues:
            continue
        container = _container(deployments[name])
        requests = container["resources"]["requests"]
        assert {"cpu", "memory"} <= set(requests), name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/data" in mounts, f"{name}: workers must share /data"
        if "hpu" in queues:
            assert requests["habana.ai/gaudi"] == container["resources"]["limits"]["habana.ai/gaudi"] == "1"
            assert "--pool=solo" in container["command"]


def test_k8s_credentials_come_from_a_secret():
    docs = _k8s_docs()
    secret = _of_kind(docs, "Secret")["auralith-credentials"]
    assert {"AURALITH_BROKER_URL", "AURALITH_STORE_URL", "FLOWER_BASIC_AUTH"} <= set(secret["stringData"])
    pods = [*_of_kind(docs, "Deployment").values(), *_of_kind(docs, "Job").values()]
    for obj in pods:
        refs = [e["secretRef"]["name"] for e in _container(obj)["envFrom"] if "secretRef" in e]
        assert refs == ["auralith-credentials"], obj["metadata"]["name"]
        assert "env" not in _container(obj), "credentials only through the Secret"


def test_k8s_migration_job_and_flower():
    docs = _k8s_docs()
    (job,) = _of_kind(docs, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["auralith", "db", "upgrade"]
    flower = _of_kind(docs, "Deployment")["auralith-flower"]
    assert "flower" in _container(flower)["command"]
    assert _of_kind(docs, "Service")["auralith-flower"]["spec"]["type"] == "ClusterIP"


def test_k8s_every_worker_pool_scales_on_its_own_queues():
    docs = _k8s_docs()
    deployments = _of_kind(docs, "Deployment")
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in _of_kind(docs, "ScaledObject").values()}
    for name, deployment in deployments.items():
        queues = _queues(_container(deployment)["command"])
        if not queues:
            continue
        assert name in scaled, f"{name} has no ScaledObject"
        lists = {t["metadata"]["listName"] for t in scaled[name]["spec"]["triggers"]}
        # A queue with Redis priorities is one list per priority step in use: "q", "q:3", "q:6", "q:9".
        assert {q.split(":")[0] for q in lists} <= queues, name
        assert any(q in lists for q in queues - {"default"}), name
        assert len(lists) == 4, f"{name}: one trigger per priority list"


@pytest.mark.parametrize("line", [ln for ln in (REPO / "Procfile").read_text().splitlines() if "worker" in ln])
def test_procfile_workers_are_real_celery_workers(line):
    assert _queues(shlex.split(line.split(":", 1)[1]))


def test_procfile_consumes_every_queue():
    lines = (REPO / "Procfile").read_text().splitlines()
    consumed = set().union(*(_queues(shlex.split(ln.split(":", 1)[1])) for ln in lines))
    assert ROUTED <= consumed


def test_deploy_doc_covers_each_target():
    doc = (REPO / "docs" / "deploy.md").read_text()
    for heading in ("## Single machine", "## Docker Compose", "## Kubernetes", "## AWS", "## Tuning"):
        assert heading in doc, heading
    for knob in ("prefetch", "concurrency", "max-memory-per-child", "visibility timeout"):
        assert knob in doc.lower(), knob
