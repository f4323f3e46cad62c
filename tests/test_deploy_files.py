"""docker-compose.yml and the deploy files cannot run here (no Docker engine): keep them consistent
with the code instead — the services, their commands, schemas, roles, settings and topics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from kokunen_common.database_setup import BY_SERVICE, SERVICE_SCHEMAS
from kokunen_common.platform import installed_services
from kokunen_common.settings import ServiceSettings
from kokunen_testing.infra import load_localstack

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_runs_every_installed_service_with_its_console_script() -> None:
    for service in installed_services():
        name = service.replace("_", "-")
        assert name in SERVICES, f"docker-compose.yml lacks {name}"
        assert SERVICES[name]["command"] == [name, "run"]
        pyproject = (ROOT / "services" / service / "pyproject.toml").read_text()
        assert f'{name} = "{service}.app:cli"' in pyproject


def test_each_service_connects_as_its_own_application_role() -> None:
    for service in installed_services():
        env = SERVICES[service.replace("_", "-")]["environment"]
        url = env["DATABASE_URL"]
        assert url.startswith(f"postgresql://{BY_SERVICE[service].app_role}:"), url
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_service_environment_names_are_settings_the_services_read() -> None:
    known = {name.upper() for name in ServiceSettings.model_fields}
    for service in installed_services():
        if service == "counter":
            from counter.settings import CounterSettings

            known |= {name.upper() for name in CounterSettings.model_fields}
        env = SERVICES[service.replace("_", "-")]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{service} is given settings it does not read: {unknown}"


def test_platform_init_gets_a_password_for_every_role() -> None:
    env = SERVICES["platform-init"]["environment"]
    for schema in SERVICE_SCHEMAS:
        for role in (schema.owner_role, schema.app_role):
            assert f"{role.upper()}_PASSWORD" in env
    assert SERVICES["platform-init"]["command"] == ["kokunen-admin", "prepare"]


def test_compose_uses_official_kafka_and_postgres_images_in_kraft_mode() -> None:
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", SERVICES["kafka"]["image"])
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert SERVICES["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert re.fullmatch(r"postgres:\d+", SERVICES["postgres"]["image"])
    assert SERVICES["postgres"]["environment"]["POSTGRES_DB"] == "kokunen"


def test_traces_flow_to_the_collector_and_jaeger() -> None:
    collector = yaml.safe_load((ROOT / "deploy" / "docker" / "otel-collector.yaml").read_text())
    assert "otlp" in collector["receivers"]
    assert collector["exporters"]["otlp/jaeger"]["endpoint"].startswith("jaeger:")
    for service in installed_services():
        env = SERVICES[service.replace("_", "-")]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"


def test_the_image_installs_the_locked_workspace() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert "USER kokunen" in dockerfile


def test_the_image_fetches_the_design_tokens_make_fetches_and_the_counter_serves_them() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^DESIGN_TOKENS_VERSION := (\S+)$", makefile, re.MULTILINE)[1]  # type: ignore[index]
    assert f"ARG DESIGN_TOKENS_VERSION={version}" in dockerfile
    assert "npm pack --silent @digital-go-jp/design-tokens@${DESIGN_TOKENS_VERSION}" in dockerfile
    assert "npm pack --silent @digital-go-jp/design-tokens@$(DESIGN_TOKENS_VERSION)" in makefile
    copied = re.search(r"COPY --from=design-tokens /tokens/package (\S+)", dockerfile)[1]  # type: ignore[index]
    assert f"COUNTER_DESIGN_TOKENS_CSS={copied}/dist/tokens.css" in dockerfile


def test_each_service_has_a_healthcheck_on_its_readiness_endpoint() -> None:
    for service in installed_services():
        definition = SERVICES[service.replace("_", "-")]
        port = definition["environment"]["METRICS_PORT"]
        command = " ".join(definition["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in command, service


def test_compose_runs_the_kafka_and_postgresql_versions_of_the_local_stack() -> None:
    localstack = load_localstack()
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{localstack.kafka_version()}"
    debian_major = localstack.postgres_bindir().parent.name  # /usr/lib/postgresql/<major>/bin
    assert SERVICES["postgres"]["image"] == f"postgres:{debian_major}"
    listeners = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "HOST://localhost:29092" in listeners
    assert "127.0.0.1:29092:29092" in SERVICES["kafka"]["ports"]


def test_prometheus_scrapes_every_service_and_the_dashboard_asks_for_metrics_that_exist() -> None:
    from kokunen_common import telemetry  # noqa: F401 - registers the metrics
    from prometheus_client import REGISTRY

    config = yaml.safe_load((ROOT / "deploy" / "docker" / "prometheus.yml").read_text())
    (targets,) = [c["static_configs"][0]["targets"] for c in config["scrape_configs"]]
    assert {t.split(":")[0] for t in targets} == {s.replace("_", "-") for s in installed_services()}
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    exposed = {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("kokunen_")
        for suffix in suffixes.get(family.type, ())
    }
    dashboard = json.loads((ROOT / "deploy" / "docker" / "grafana" / "dashboards" / "kokunen.json").read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for t in panel["targets"]
        for name in re.findall(r"kokunen_\w+", t["expr"])
    }
    assert asked, "the dashboard asks for no kokunen metric"
    assert asked <= exposed, asked - exposed
    provisioning = ROOT / "deploy" / "docker" / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert all(t["datasource"]["uid"] == datasource["uid"] for p in dashboard["panels"] for t in p["targets"])
