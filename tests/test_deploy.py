"""The deployment files agree with the code: every queue a task is routed to has a worker consuming it, in
Docker Compose, in the Kubernetes manifests and in the Procfile, and the image and docs/deploy.md's install
have what each process imports. The image is built only where a Docker daemon answers; the rest checks
structure, not a live deployment."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata

import pytest
import yaml
from packaging.utils import canonicalize_name

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
    its queues; ("serve", {}) for `auralith serve` (the API); ("", {}) when it runs neither."""
    if "auralith" in command and "serve" in command:
        return "serve", frozenset()
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
    assert role[0], f"Procfile {name}: not a `celery -A auralith` or `auralith serve` command"
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


# Imported only where its own installer put it (Habana's, docs/training.md#hpu), never by pip from our extras.
NOT_FROM_PIP = {"habana_frameworks"}


def _project() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _dist(requirement: str) -> tuple[str, set[str]]:
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    return canonicalize_name(req.name), set(req.extras)


def _installed_by(extras: set[str]) -> set[str]:
    """The distributions `pip install ".[extras]"` installs: the project's dependencies and those of the extras
    (extras of its own expanded), then everything they require in turn, as this environment's metadata says."""
    from packaging.requirements import Requirement

    project = _project()
    wanted, seen_extras = list(project["dependencies"]), set()
    todo = set(extras)
    while todo:
        extra = todo.pop()
        seen_extras.add(extra)
        for req in project["optional-dependencies"][extra]:
            name, own = _dist(req)
            if name == "auralith":
                todo |= own - seen_extras
            else:
                wanted.append(req)
    found: set[str] = set()
    while wanted:
        req = Requirement(wanted.pop())
        name = canonicalize_name(req.name)
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:  # not installed here (honcho): its own name is what counts
            continue
        for sub in requires:
            r = Requirement(sub)
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                wanted.append(sub)
    return found


def _procfile() -> dict[str, list[str]]:
    return {
        name.strip(): shlex.split(command)
        for name, command in (ln.split(":", 1) for ln in (REPO / "Procfile").read_text().splitlines() if ":" in ln)
        if not name.startswith("#")
    }


def _third_party_imports(argv: list[str]) -> set[str]:
    """Top-level modules outside the standard library that a Procfile process imports: a worker's app and the
    code of every stage routed to its queues, function-level imports included (grimp, as lint-imports reads them),
    or Flower for `celery flower`."""
    import grimp

    from auralith.pipeline.stages import STAGES

    if "flower" in argv:
        return {"flower"}
    queues = _queues(argv)
    graph = grimp.build_graph("auralith", include_external_packages=True, cache_dir=None)
    roots = {"auralith.celery", "auralith.worker.tasks"} | {s.run.split(":")[0] for s in STAGES if s.queue in queues}
    if "serve" in argv:  # the API: its app, its pages' report rendering, and the command that starts it
        roots = {"auralith.cli.serve", "auralith.api.app", "auralith.report.html", "auralith.report.plots"}
    reached = set().union(*(graph.find_upstream_modules(m) for m in roots))
    return {m for m in reached if not m.startswith("auralith")} - set(sys.stdlib_module_names) - {"__future__"}


def _image_extras() -> set[str]:
    installs = re.findall(r'pip install "\.\[([\w,-]+)\]"', (DEPLOY / "Dockerfile").read_text())
    assert len(installs) == 1, installs
    return set(installs[0].split(","))


@pytest.mark.parametrize("process", sorted(_procfile()))
def test_the_image_installs_what_each_procfile_process_imports(process):
    argv = _procfile()[process]
    installed = _installed_by(_image_extras())
    providers = metadata.packages_distributions()
    missing = {
        module
        for module in _third_party_imports(argv) - NOT_FROM_PIP
        if not {canonicalize_name(d) for d in providers.get(module, [module])} & installed
    }
    assert not missing, f"deploy/Dockerfile does not install what `{process}` imports: {sorted(missing)}"


def test_the_training_worker_imports_torch_and_the_image_has_it():
    assert "torch" in _third_party_imports(_procfile()["worker_hpu"])
    assert "torch" in _installed_by(_image_extras())


def test_the_single_machine_install_has_what_the_procfile_needs():
    doc = (REPO / "docs" / "deploy.md").read_text()
    section = doc.split("## Single machine", 1)[1].split("\n## ", 1)[0]
    [extras] = re.findall(r'pip install "\.\[([\w,-]+)\]"', section)
    installed = _installed_by(set(extras.split(",")))
    assert {"honcho", "flower", "torch"} <= installed, "honcho start, the web and worker_hpu processes"
    assert "honcho start" in section


def test_the_procfile_table_shows_the_procfile():
    doc = (REPO / "docs" / "deploy.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", doc, flags=re.M))
    for name, argv in _procfile().items():
        shown = shlex.split(rows[name].replace("...", "x"))
        flags = {a.split("=")[0] for a in shown if a.startswith("-")}
        assert flags <= {a.split("=")[0] for a in argv}, f"{name}: the doc shows flags the Procfile has not"


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


# Skipped wherever Docker cannot build, under CI=true too: CI machines here have no Docker daemon, and the
# checks above cover what the image installs. Where a daemon answers, this builds the image for real.
@pytest.mark.skipif(not _docker_ready(), reason="no Docker daemon to build deploy/Dockerfile with")
@pytest.mark.timeout(1800)
def test_the_image_builds_and_its_workers_import_what_they_run():
    tag = "auralith-test:deploy"
    built = subprocess.run(
        ["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", tag, str(REPO)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        check = "import auralith.worker.tasks, auralith.pipeline.training, auralith.train.loop, torch, flower"
        ran = subprocess.run(["docker", "run", "--rm", tag, "python", "-c", check], capture_output=True, text=True)
        assert ran.returncode == 0, ran.stderr
        helped = subprocess.run(["docker", "run", "--rm", tag], capture_output=True, text=True)
        assert helped.returncode == 0 and "train a small GPT" in helped.stdout, helped.stdout + helped.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_allowed_roots_are_set_explicitly_wherever_workers_run():
    """Jobs submitted by others must not reach the whole disk: every deployment names the folders they may use."""
    procfile = (REPO / "Procfile").read_text().splitlines()
    for line in procfile:
        if line.split(":", 1)[0] in ("worker_process", "worker_tokenize", "worker_hpu", "api"):
            assert 'AURALITH_ALLOWED_ROOTS="${AURALITH_ALLOWED_ROOTS:-' in line, line
    compose_env = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["x-auralith"]["environment"]
    assert compose_env["AURALITH_ALLOWED_ROOTS"] == "/data"
    (settings,) = [d for d in _k8s_docs() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "auralith-settings"]
    assert settings["data"]["AURALITH_ALLOWED_ROOTS"] == "/data"


def test_flower_started_by_hand_listens_on_loopback():
    env = {k: v for k, v in __import__("os").environ.items() if k != "FLOWER_ADDRESS"}
    code = "import os, auralith.celery; print(os.environ['FLOWER_ADDRESS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "127.0.0.1", out.stderr
    env["FLOWER_ADDRESS"] = "0.0.0.0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "0.0.0.0", out.stderr
