"""The Helm chart (deploy/helm/pixwave), rendered by the real helm and checked without a
cluster: every manifest against the Kubernetes JSON schemas (strict: no unknown field)
and KEDA's own models, then against the code: each role runs the command compose runs,
probes where it serves, takes only real settings, and every PodDisruptionBudget,
autoscaler and ScaledObject points at a Deployment of the release."""

from __future__ import annotations

import re
import subprocess
import tomllib
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as monitoring

from app.settings import Settings
from outbox.topology import declare
from tests.deploy_tools import ROOT, deploy_tool
from tests.unit.test_deploy_artifacts import (
    METRICS_PATH,
    ONE_SHOT,
    PIXWAVE_IMAGE,
    ROLE_PORTS,
    ROLE_ROUTES,
    ROLES,
    SERVICES,
    assert_real_command,
    environment,
)

CHART = ROOT / "deploy/helm/pixwave"
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) is what it is checked on.
KUBERNETES_VERSION = "1.27"
RELEASE = "shop"
FULLNAME = f"{RELEASE}-pixwave"
# The gateway simulator is a development stand-in: never deployed to a cluster.
CLUSTER_ROLES = [name for name in ROLES if name != "gateway-sim"]
# Custom resources, checked against their operators' models (cloudcoil, from the CRDs).
CUSTOM_KINDS = {
    "ScaledObject": keda.ScaledObject,
    "TriggerAuthentication": keda.TriggerAuthentication,
    "PodMonitor": monitoring.PodMonitor,
    "PrometheusRule": monitoring.PrometheusRule,
}
MONITORING = ("metrics.podMonitor.enabled=true", "metrics.prometheusRule.enabled=true")
# The aws-sqs-queue scaler's metadata (keda.sh/docs/2.16/scalers/aws-sqs).
SQS_SCALER_METADATA = {
    "queueURL",
    "queueURLFromEnv",
    "queueLength",
    "activationQueueLength",
    "awsRegion",
    "awsEndpoint",
    "scaleOnInFlight",
    "scaleOnDelayed",
}
# What compose gives a role only because its stack is LocalStack plus the simulator.
COMPOSE_ONLY = {
    "PIXWAVE_AWS_ENDPOINT_URL",
    "PIXWAVE_MERCADOPAGO_BASE_URL",
    "PIXWAVE_EFI_BASE_URL",
    "PIXWAVE_SCHEDULER_METRICS_PORT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
# Settings the chart leaves empty by default (and so out of its ConfigMap), given values.
FILLED_CONFIG = tuple(
    f"config.{name}=set" for name, value in VALUES["config"].items() if value == ""
)
Manifest = dict[str, Any]


@cache
def render(*settings: str) -> tuple[Manifest, ...]:
    """`helm template` of the chart with these `--set` values."""
    arguments = [f"--set={setting}" for setting in settings]
    result = subprocess.run(
        [deploy_tool("helm"), "template", RELEASE, str(CHART), *arguments],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(manifests: tuple[Manifest, ...], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def deployments(*settings: str) -> dict[str, Manifest]:
    """Deployments by role (their component label)."""
    found = of_kind(render(*settings), "Deployment").values()
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in found}


def container(workload: Manifest) -> Manifest:
    [only] = workload["spec"]["template"]["spec"]["containers"]
    return only


def env_names(workload: Manifest, *settings: str) -> set[str]:
    """What the pod's environment holds, from its env and its ConfigMap."""
    config_maps = of_kind(render(*settings), "ConfigMap")
    names = {variable["name"] for variable in container(workload).get("env", [])}
    for source in container(workload)["envFrom"]:
        names |= set(config_maps[source["configMapRef"]["name"]]["data"])
    return names


def assert_schema_valid(manifest: Manifest) -> None:
    kind = manifest["kind"]
    if kind in CUSTOM_KINDS:
        assert_custom_resource_valid(manifest)
    else:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def assert_custom_resource_valid(manifest: Manifest) -> None:
    """The models drop what they do not know, so a round trip must give it all back."""
    model = CUSTOM_KINDS[manifest["kind"]].model_validate(manifest)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == manifest


# -- the chart as Kubernetes sees it ----------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        (),
        ("jobs.topology.enabled=true", "config.PIXWAVE_FIFO=true", "keda.awsAccountId=1"),
        MONITORING,
    ],
    ids=["defaults", "topology-fifo-account", "prometheus-operator"],
)
def test_every_rendered_manifest_follows_its_schema(settings: tuple[str, ...]) -> None:
    manifests = render(*settings)
    assert {m["kind"] for m in manifests} <= {
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Service",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        *CUSTOM_KINDS,
    }
    for manifest in manifests:
        assert_schema_valid(manifest)


def test_schema_checks_refuse_a_misspelled_field() -> None:
    deployment = deployments()["api"]
    probe = container(deployment)["readinessProbe"]
    misspelled = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        assert_schema_valid(misspelled)
    assert probe["httpGet"]["path"] == "/readyz"
    scaled = next(iter(of_kind(render(), "ScaledObject").values()))
    with pytest.raises(AssertionError):
        assert_custom_resource_valid({**scaled, "spec": {**scaled["spec"], "maxReplicas": 3}})


@pytest.mark.parametrize(
    "setting",
    [
        "roles.relay.port=metrics",
        "config.DATABASE_URL=x",
        "roles.api.comand={api}",
        "roles.web.port=1",
    ],
)
def test_helm_refuses_values_the_chart_schema_does_not_allow(setting: str) -> None:
    result = subprocess.run(
        [deploy_tool("helm"), "template", RELEASE, str(CHART), f"--set={setting}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "don't meet the specifications of the schema" in result.stderr


# -- the roles, against compose and the code ------------------------------------------


def test_every_compose_role_but_the_simulator_is_a_deployment() -> None:
    assert sorted(deployments()) == sorted(CLUSTER_ROLES)
    assert sorted(VALUES["roles"]) == sorted(CLUSTER_ROLES)


@pytest.mark.parametrize("role", CLUSTER_ROLES)
def test_each_role_runs_the_image_and_command_compose_runs(role: str) -> None:
    deployment = deployments()[role]
    args = container(deployment)["args"]
    assert args == SERVICES[role]["command"]
    assert_real_command(args)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    repository = PIXWAVE_IMAGE.split(":")[0]
    assert container(deployment)["image"] == f"{repository}:{version}"
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    assert container(deployments("image.tag=abc")[role])["image"] == f"{repository}:abc"


def test_the_one_shot_jobs_are_compose_one_shots_run_as_hooks_after_their_settings() -> None:
    manifests = render("jobs.topology.enabled=true")
    jobs = of_kind(manifests, "Job")
    commands = {SERVICES[name]["command"][0]: SERVICES[name]["command"] for name in ONE_SHOT}
    assert sorted(container(job)["args"][0] for job in jobs.values()) == sorted(commands)

    def weight(manifest: Manifest) -> int:
        annotations = manifest["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        return int(annotations["helm.sh/hook-weight"])

    for job in jobs.values():
        assert container(job)["args"] == commands[container(job)["args"][0]]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        needs = [
            *of_kind(manifests, "ConfigMap").values(),
            *of_kind(manifests, "Secret").values(),
            of_kind(manifests, "ServiceAccount")[
                job["spec"]["template"]["spec"]["serviceAccountName"]
            ],
        ]
        assert all(weight(need) < weight(job) for need in needs)
    by_command = {container(job)["args"][0]: weight(job) for job in jobs.values()}
    assert by_command["db"] < by_command["topology"]
    # On AWS Terraform owns the topology, so the chart does not apply it unless asked.
    assert [container(j)["args"] for j in of_kind(render(), "Job").values()] == [["db", "upgrade"]]


@pytest.mark.parametrize("role", CLUSTER_ROLES)
def test_each_role_probes_where_it_serves(role: str) -> None:
    main = container(deployments()[role])
    command = SERVICES[role]["command"][0]
    port = Settings.model_fields[ROLE_PORTS[command]].default
    assert [p["containerPort"] for p in main["ports"]] == [port]
    served = [route.path for route in ROLE_ROUTES[command].routes] if command in ROLE_ROUTES else []
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"]["port"] == port, probe
        assert main[probe]["httpGet"]["path"] in (served or [METRICS_PATH]), probe
    if role == "api":  # alive while it serves HTTP, ready while PostgreSQL answers
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    annotations = deployments()[role]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)


def chart_variables() -> set[str]:
    """Every variable name the chart can set: config, secret keys, roles' and jobs' env."""
    specs = [*VALUES["roles"].values(), VALUES["jobs"]["migrate"], VALUES["jobs"]["topology"]]
    names = set(VALUES["config"])
    for spec in specs:
        names |= set(spec["secretKeys"]) | set(spec.get("env", {}))
    return names


def test_every_variable_the_chart_sets_is_a_real_setting_with_a_valid_default() -> None:
    fields = set(Settings.model_fields)
    unknown = [
        name
        for name in chart_variables()
        if not (name.startswith("PIXWAVE_") and name.removeprefix("PIXWAVE_").lower() in fields)
    ]
    assert unknown == []
    config = {
        name.removeprefix("PIXWAVE_").lower(): value
        for name, value in VALUES["config"].items()
        if value != ""
    }
    Settings(_env_file=None, **config)  # raises when a value is invalid


@pytest.mark.parametrize("role", CLUSTER_ROLES)
def test_each_role_gets_what_compose_gives_it_less_the_dev_stack(role: str) -> None:
    given = env_names(deployments(*FILLED_CONFIG)[role], *FILLED_CONFIG)
    missing = set(environment(role)) - COMPOSE_ONLY - given
    assert missing == set()


def test_credentials_go_only_to_the_roles_that_use_them() -> None:
    gateway_secrets = {"PIXWAVE_MERCADOPAGO_ACCESS_TOKEN", "PIXWAVE_EFI_CLIENT_SECRET"}
    for role in ("relay", "worker-webhooks"):
        assert not gateway_secrets & env_names(deployments()[role]), role
    assert "PIXWAVE_DOCUMENT_KEY" not in env_names(deployments()["relay"])
    for variable in container(deployments()["api"])["env"]:
        assert "value" not in variable, "credentials come from the Secret"
        assert variable["valueFrom"]["secretKeyRef"]["name"] == f"{FULLNAME}-secrets"
    managed = deployments("secrets.existingSecret=vault-pixwave")["api"]
    refs = {v["valueFrom"]["secretKeyRef"]["name"] for v in container(managed)["env"]}
    assert refs == {"vault-pixwave"}
    assert of_kind(render("secrets.existingSecret=vault-pixwave"), "Secret") == {}


def test_workers_get_the_time_their_shutdown_takes() -> None:
    fields = Settings.model_fields
    shutdown = (
        fields["worker_receive_wait_seconds"].default
        + fields["worker_shutdown_grace_seconds"].default
    )
    for role in ("worker-charge", "worker-webhooks"):
        grace = deployments()[role]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > shutdown, role


def test_the_prometheus_operator_gets_every_role_and_the_alert_rules_as_they_are() -> None:
    manifests = render(*MONITORING)
    [monitor] = of_kind(manifests, "PodMonitor").values()
    scraped = {endpoint["port"] for endpoint in monitor["spec"]["podMetricsEndpoints"]}
    for role, deployment in deployments(*MONITORING).items():
        assert selects(monitor["spec"]["selector"]["matchLabels"], deployment), role
        assert {port["name"] for port in container(deployment)["ports"]} <= scraped, role
    [rule] = of_kind(manifests, "PrometheusRule").values()
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert rule["spec"] == alerts
    assert of_kind(render(), "PodMonitor") == of_kind(render(), "PrometheusRule") == {}


# -- security ---------------------------------------------------------------------------


def test_every_pod_runs_as_the_image_user_read_only_without_privileges() -> None:
    [uid] = re.findall(r"--uid (\d+)", (ROOT / "Dockerfile").read_text())
    workloads = [*deployments().values(), *of_kind(render(), "Job").values()]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid)
        assert pod["automountServiceAccountToken"] is False
        security = container(workload)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container(workload)["resources"]["requests"]
        assert {m["mountPath"] for m in container(workload)["volumeMounts"]} == {"/tmp"}


# -- disruption budgets and scaling -----------------------------------------------------


def selects(selector: dict[str, str], workload: Manifest) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return selector.items() <= labels.items()


def test_each_role_has_a_disruption_budget_selecting_its_pods_only() -> None:
    budgets = of_kind(render(), "PodDisruptionBudget").values()
    for role, deployment in deployments().items():
        chosen = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], deployment)]
        assert len(chosen) == 1, role
        others = [d for r, d in deployments().items() if r != role]
        assert not any(selects(chosen[0]["spec"]["selector"]["matchLabels"], d) for d in others)


def test_the_api_scales_on_cpu_and_leaves_replicas_to_its_autoscaler() -> None:
    [autoscaler] = of_kind(render(), "HorizontalPodAutoscaler").values()
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        deployments()["api"]["metadata"]["name"],
    )
    assert "replicas" not in deployments()["api"]["spec"]
    fixed = deployments("roles.api.autoscaling.enabled=false")["api"]
    assert fixed["spec"]["replicas"] == VALUES["roles"]["api"]["replicas"]


@pytest.mark.parametrize("fifo", [False, True])
def test_each_worker_scales_on_its_own_queue_depth(fifo: bool) -> None:
    settings = (f"config.PIXWAVE_FIFO={str(fifo).lower()}", "keda.awsAccountId=123456789012")
    manifests = render(*settings)
    by_name = {d["metadata"]["name"]: d for d in deployments(*settings).values()}
    authentications = of_kind(manifests, "TriggerAuthentication")
    queues = {
        q.name for q in declare(prefix=VALUES["config"]["PIXWAVE_NAME_PREFIX"], fifo=fifo).queues
    }
    region = VALUES["config"]["PIXWAVE_AWS_REGION"]
    scaled = of_kind(manifests, "ScaledObject").values()
    assert sorted(s["spec"]["scaleTargetRef"]["name"] for s in scaled) == [
        f"{FULLNAME}-worker-charge",
        f"{FULLNAME}-worker-webhooks",
    ]
    for scaled_object in scaled:
        deployment = by_name[scaled_object["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in deployment["spec"]
        [trigger] = scaled_object["spec"]["triggers"]
        assert trigger["type"] == "aws-sqs-queue"
        assert set(trigger["metadata"]) <= SQS_SCALER_METADATA
        assert trigger["metadata"]["awsRegion"] == region
        url = trigger["metadata"]["queueURL"]
        prefix, _, queue = url.rpartition("/")
        assert prefix == f"https://sqs.{region}.amazonaws.com/123456789012"
        assert queue in queues
        consumer = container(deployment)["args"][1]
        assert queue.removeprefix("pixwave-").removesuffix(".fifo") == consumer
        assert trigger["authenticationRef"]["name"] in authentications
        assert scaled_object["spec"]["minReplicaCount"] >= 1  # webhook retries live in PostgreSQL
    without_account = of_kind(render(), "ScaledObject").values()
    assert {s["spec"]["triggers"][0]["metadata"]["queueURL"] for s in without_account} == {
        "pixwave-charge",
        "pixwave-webhooks",
    }
