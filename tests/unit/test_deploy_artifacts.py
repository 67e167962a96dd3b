"""The Dockerfile and docker-compose.yml, checked without a Docker engine: the compose
file against the Compose schema, each role's command against the real `pixwave` CLI,
its variables against Settings, its healthcheck against the port the role serves."""

from __future__ import annotations

import configparser
import copy
import fnmatch
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from fastapi import APIRouter
from typer.testing import CliRunner

from app.api.health import router as api_health
from app.cli import cli
from app.embedded import free_port
from app.settings import Settings
from gatewaysim.admin import router as simulator_admin
from workers.registry import known_consumers

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
COMPOSE_SCHEMA = json.loads((ROOT / "tests/fixtures/compose-spec.json").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PIXWAVE_IMAGE = "pixwave:local"
PIXWAVE_SERVICES = sorted(name for name, s in SERVICES.items() if s.get("image") == PIXWAVE_IMAGE)
# Commands that finish: others wait for them with service_completed_successfully.
ONE_SHOT_COMMANDS = (["db", "upgrade"], ["topology", "apply"])
ONE_SHOT = {name for name in PIXWAVE_SERVICES if SERVICES[name]["command"] in ONE_SHOT_COMMANDS}
ROLES = [name for name in PIXWAVE_SERVICES if name not in ONE_SHOT]
# Besides PIXWAVE_* settings, a role may set what botocore reads.
AWS_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# The setting that holds the port each role serves its healthcheck on, and its routes.
ROLE_PORTS = {
    "api": "api_port",
    "gateway-sim": "gateway_sim_port",
    "relay": "relay_metrics_port",
    "worker": "worker_metrics_port",
    "scheduler": "scheduler_metrics_port",
}
ROLE_ROUTES: dict[str, APIRouter] = {"api": api_health, "gateway-sim": simulator_admin}
METRICS_PATH = "/metrics"
# ${NAME:-default}: compose interpolation, resolved to its default here.
DEFAULTED = re.compile(r"\$\{\w+:-(?P<default>[^}]*)\}")

runner = CliRunner()


def environment(service: str) -> dict[str, str]:
    variables = SERVICES[service].get("environment", {})
    return {name: DEFAULTED.sub(r"\g<default>", str(value)) for name, value in variables.items()}


def role_settings(service: str) -> Settings:
    """Settings as the role would load them from its compose environment alone."""
    fields = {
        name.removeprefix("PIXWAVE_").lower(): value
        for name, value in environment(service).items()
        if name.startswith("PIXWAVE_")
    }
    return Settings(_env_file=None, **fields)


def assert_real_command(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, f"`pixwave {' '.join(command)}`: {result.output}"
    if command[0] == "worker":  # --help does not check the consumer's name
        assert command[1] in known_consumers(Settings(_env_file=None))


# -- compose --------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    validator = jsonschema.Draft7Validator(COMPOSE_SCHEMA)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert errors == []
    misspelled = copy.deepcopy(COMPOSE)
    misspelled["services"]["api"]["healtcheck"] = misspelled["services"]["api"].pop("healthcheck")
    assert not validator.is_valid(misspelled)


def test_every_dependency_exists_and_waits_for_completion_or_health() -> None:
    for name, service in SERVICES.items():
        for target, dependency in service.get("depends_on", {}).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            if target in ONE_SHOT:
                assert dependency["condition"] == "service_completed_successfully", name
            else:
                assert dependency["condition"] == "service_healthy", name
                assert "healthcheck" in SERVICES[target], f"{name} waits on {target}'s health"


def test_one_shot_services_are_not_restarted_once_done() -> None:
    assert {"migrate", "topology"} == ONE_SHOT
    for name in ONE_SHOT:
        assert SERVICES[name]["restart"] == "no"


def test_roles_wait_for_migrations_and_the_topology_they_use() -> None:
    for name in ROLES:
        needs = environment(name)
        waits_for = SERVICES[name].get("depends_on", {})
        if "PIXWAVE_DATABASE_URL" in needs:
            assert "migrate" in waits_for, name
        if "PIXWAVE_AWS_ENDPOINT_URL" in needs:
            assert "topology" in waits_for, name


@pytest.mark.parametrize("service", PIXWAVE_SERVICES)
def test_each_service_runs_a_real_pixwave_command(service: str) -> None:
    assert_real_command(SERVICES[service]["command"])


@pytest.mark.parametrize("service", PIXWAVE_SERVICES)
def test_each_service_sets_only_real_settings_with_valid_values(service: str) -> None:
    variables = environment(service)
    fields = set(Settings.model_fields)
    unknown = [
        name
        for name in variables
        if name not in AWS_VARIABLES
        and not (name.startswith("PIXWAVE_") and name.removeprefix("PIXWAVE_").lower() in fields)
    ]
    assert unknown == []
    role_settings(service)  # raises when a value is invalid


def test_every_url_a_service_is_given_names_a_service_of_this_file() -> None:
    for name in PIXWAVE_SERVICES:
        for variable, value in environment(name).items():
            host = urlsplit(value).hostname if "://" in value else None
            assert host is None or host in SERVICES, f"{name}: {variable}={value}"


@pytest.mark.parametrize("service", ROLES)
def test_each_role_checks_its_health_where_it_serves(service: str) -> None:
    kind, python, flag, script, url = SERVICES[service]["healthcheck"]["test"]
    assert (kind, python, flag, script) == ("CMD", "python", "-c", COMPOSE["x-http-ok"])
    role = SERVICES[service]["command"][0]
    address = urlsplit(url)
    assert address.hostname == "127.0.0.1"
    assert address.port == getattr(role_settings(service), ROLE_PORTS[role])
    paths = [route.path for route in ROLE_ROUTES[role].routes] if role in ROLE_ROUTES else []
    assert address.path in (paths or [METRICS_PATH])


class _Answers(BaseHTTPRequestHandler):
    """/ok answers 200, /down 503; /sns-sqs-<states> is a LocalStack health document."""

    def do_GET(self) -> None:
        if self.path.startswith("/sns-sqs-"):
            sns, sqs = self.path.removeprefix("/sns-sqs-").split("-")
            self._answer(200, json.dumps({"services": {"sns": sns, "sqs": sqs}}))
        else:
            self._answer(200 if self.path == "/ok" else 503, "{}")

    def _answer(self, status: int, body: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def healthy(script: str, url: str) -> bool:
    return subprocess.run([sys.executable, "-c", script, url], capture_output=True).returncode == 0


def test_the_role_healthcheck_passes_only_on_a_successful_answer(http_server: str) -> None:
    script = COMPOSE["x-http-ok"]
    assert healthy(script, f"{http_server}/ok")
    assert not healthy(script, f"{http_server}/down")
    assert not healthy(script, f"http://127.0.0.1:{free_port()}/ok")


def test_the_localstack_healthcheck_waits_for_both_sns_and_sqs(http_server: str) -> None:
    script = SERVICES["localstack"]["healthcheck"]["test"][3]
    assert healthy(script, f"{http_server}/sns-sqs-running-available")
    assert not healthy(script, f"{http_server}/sns-sqs-running-initializing")
    assert not healthy(script, f"{http_server}/down")


# -- Dockerfile -----------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions (keyword, arguments) per stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), arguments.strip()))
    return stages


def instruction(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [arguments for found, arguments in stage if found == keyword]


def test_image_builds_in_a_separate_stage_and_runs_slim_as_non_root() -> None:
    *builders, final = dockerfile_stages()
    assert builders, "the build happens in a stage of its own"
    [base] = instruction(final, "FROM")
    assert base.endswith("-slim")
    [user] = instruction(final, "USER")
    assert user not in {"root", "0"}


def test_image_entrypoint_is_pixwave_and_its_default_command_a_real_one() -> None:
    final = dockerfile_stages()[-1]
    [entrypoint] = instruction(final, "ENTRYPOINT")
    [command] = instruction(final, "CMD")
    assert json.loads(entrypoint) == ["pixwave"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pixwave"] == "app.cli:main"
    assert_real_command(json.loads(command))
    assert str(Settings.model_fields["api_port"].default) in instruction(final, "EXPOSE")
    # Other containers must reach the API and the metrics ports.
    assert "PIXWAVE_API_HOST=0.0.0.0" in " ".join(instruction(final, "ENV")).split()


def test_image_copies_the_packages_and_migrations_and_dockerignore_keeps_them() -> None:
    copied = {
        source
        for stage in dockerfile_stages()
        for arguments in instruction(stage, "COPY")
        if not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    alembic = configparser.RawConfigParser()
    alembic.read(ROOT / "alembic.ini")
    migrations = alembic["alembic"]["script_location"].removeprefix("%(here)s/")
    needed = {p.rstrip("*") for p in packages} | {"pyproject.toml", project["project"]["readme"]}
    assert needed | {"alembic.ini", migrations} <= copied
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
