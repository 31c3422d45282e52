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


def _role(command: list[str]) -> tuple[str, frozenset[str]]:
    """What a `celery -A auralith ...` command line runs: its subcommand (worker, beat, flower) and, for a worker,
    its queues; ("", {}) when it runs no Celery."""
    if "-A" not in command:
        return "", frozenset()
    return command[command.index("-A") + 2], frozenset(_queues(command))


def _procfile() -> dict[str, list[str]]:
    """Procfile process name -> its command line, split."""
    lines = [ln for ln in (REPO / "Procfile").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return {name: shlex.split(command) for name, command in (ln.split(":", 1) for ln in lines)}


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


@pytest.mark.parametrize("name", [name for name in _procfile() if "worker" in name])
def test_procfile_workers_are_real_celery_workers(name):
    assert _queues(_procfile()[name])


def test_procfile_consumes_every_queue():
    consumed = set().union(*(_queues(command) for command in _procfile().values()))
    assert ROUTED <= consumed


def test_procfile_runs_the_supervisor():
    assert _procfile()["beat"] == ["celery", "-A", "auralith", "beat"]


@pytest.mark.parametrize("name", list(_procfile()))
def test_every_procfile_process_is_in_compose_and_k8s(name):
    """The same processes everywhere: a worker pool (its queues), beat, Flower."""
    role = _role(_procfile()[name])
    assert role[0], f"Procfile {name}: not a `celery -A auralith` command"
    in_compose = {_role(svc.get("command", [])) for svc in _compose().values()}
    in_k8s = {_role(_container(d)["command"]) for d in _of_kind(_k8s_docs(), "Deployment").values()}
    assert role in in_compose, f"Procfile {name} ({role[0]} {sorted(role[1])}) has no docker-compose.yml service"
    assert role in in_k8s, f"Procfile {name} ({role[0]} {sorted(role[1])}) has no Deployment in deploy/k8s"


def test_beat_is_deployed_like_the_workers_and_never_scaled():
    beat = _compose()["beat"]
    assert "/data" in " ".join(beat["volumes"]), "beat writes the jobs' JSONL event logs"
    assert beat["depends_on"]["init"]["condition"] == "service_completed_successfully"
    docs = _k8s_docs()
    (deployment,) = [d for d in _of_kind(docs, "Deployment").values() if _role(_container(d)["command"])[0] == "beat"]
    # One is enough; a second only stands by (the supervisor's advisory lock), so more are never needed.
    assert deployment["spec"]["replicas"] in (1, 2)
    assert "/data" in {m["mountPath"] for m in _container(deployment)["volumeMounts"]}
    scaled = {s["spec"]["scaleTargetRef"]["name"] for s in _of_kind(docs, "ScaledObject").values()}
    assert deployment["metadata"]["name"] not in scaled


def test_deploy_doc_covers_each_target():
    doc = (REPO / "docs" / "deploy.md").read_text()
    for heading in ("## Single machine", "## Docker Compose", "## Kubernetes", "## AWS", "## Tuning"):
        assert heading in doc, heading
    for knob in ("prefetch", "concurrency", "max-memory-per-child", "visibility timeout"):
        assert knob in doc.lower(), knob
