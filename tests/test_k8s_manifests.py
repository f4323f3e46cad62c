"""deploy/k8s cannot be applied here (no cluster): validate it against the Kubernetes API schemas
(kubernetes-validate, strict) and keep it consistent with the code — services, commands, settings,
roles, secrets, the image's user and ports, and who may hold the My Number keys."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kokunen_common.database_setup import SERVICE_SCHEMAS
from kokunen_common.kafka_acls import principals
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import TOPICS

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
MANIFESTS = {name: yaml.safe_load((K8S / name).read_text()) for name in KUSTOMIZATION["resources"]}
BY_KIND_NAME = {(m["kind"], m["metadata"]["name"]): m for m in MANIFESTS.values()}
CONFIG = BY_KIND_NAME[("ConfigMap", "kokunen-config")]["data"]
DEPLOYMENTS = {name: m for (kind, name), m in BY_KIND_NAME.items() if kind == "Deployment"}
CRONJOBS = {name: m for (kind, name), m in BY_KIND_NAME.items() if kind == "CronJob"}
JOBS = [BY_KIND_NAME[("Job", "platform-init")], BY_KIND_NAME[("Job", "kafka-acls")]]
SETTINGS = {name.upper() for name in ServiceSettings.model_fields}
KUBERNETES_VERSION = "1.33"

# The seed allows My Number in this system's store (residency), on the way to JPS (提供1, dispatch), and before a
# 個人番号取扱者 at the counter (a reveal, logged) only.
HOLD_MY_NUMBER_KEYS = {"residency-sync", "transfer-dispatch", "counter"}


def pod(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else manifest["spec"]
    return spec["template"]["spec"]  # type: ignore[no-any-return]


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod(manifest)["containers"]
    return only  # type: ignore[no-any-return]


def env_names(c: dict[str, Any]) -> set[str]:
    return {e["name"] for e in c.get("env", [])}


def test_every_file_is_listed_in_the_kustomization_and_exists() -> None:
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == on_disk


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_each_manifest_is_valid_against_the_kubernetes_schemas(name: str) -> None:
    kubernetes_validate.validate(MANIFESTS[name], KUBERNETES_VERSION, strict=True)


def test_the_schema_check_rejects_a_misspelt_field() -> None:
    broken = yaml.safe_load((K8S / "eligibility.yaml").read_text())
    container(broken)["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_service_runs_as_a_deployment_with_its_console_script() -> None:
    expected = {s.service.replace("_", "-") for s in SERVICE_SCHEMAS}
    assert set(DEPLOYMENTS) == expected
    for name, manifest in DEPLOYMENTS.items():
        assert container(manifest)["command"] == [name, "run"]
        service = name.replace("-", "_")
        scripts = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]["scripts"]
        assert scripts[name] == f"{service}.app:cli"


def service_settings(name: str) -> set[str]:
    if name == "counter":
        from counter.settings import CounterSettings

        return {field.upper() for field in CounterSettings.model_fields}
    return SETTINGS


def test_services_read_every_setting_they_are_given() -> None:
    assert set(CONFIG) <= SETTINGS, set(CONFIG) - SETTINGS
    for name, manifest in DEPLOYMENTS.items():
        known = service_settings(name)
        assert env_names(container(manifest)) <= known, f"{name}: {env_names(container(manifest)) - known}"
        assert container(manifest)["envFrom"] == [{"configMapRef": {"name": "kokunen-config"}}]


def documented_secrets() -> set[str]:
    """The variables docs/configuration.md (generated from the settings' SecretStr fields) marks secret."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|(?:[^|\n]*\|)*? yes \|", text, re.MULTILINE))


def test_secrets_come_from_the_secret_and_each_service_has_its_own_database_url() -> None:
    secrets = documented_secrets()
    assert {"COUNTER_SESSION_SECRET", "OIDC_CLIENT_SECRET", "MYNUMBER_KEYS", "DATABASE_URL"} <= secrets
    for manifest in [*DEPLOYMENTS.values(), *JOBS, *CRONJOBS.values()]:
        for env in container(manifest).get("env", []):
            if env["name"] in secrets or re.search(r"PASSWORD|KEYS?$|DATABASE_URL", env["name"]):
                assert "value" not in env, f"{env['name']} must come from a Secret"
                assert env["valueFrom"]["secretKeyRef"]["name"] == "kokunen-secrets"
    for name, manifest in DEPLOYMENTS.items():
        (url,) = [e for e in container(manifest)["env"] if e["name"] == "DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"]["key"] == f"{name}-database-url"


def test_only_the_services_that_hold_my_number_get_its_keys() -> None:
    for name, manifest in DEPLOYMENTS.items():
        has_keys = {"MYNUMBER_KEYS", "MYNUMBER_HASH_KEY"} <= env_names(container(manifest))
        assert has_keys == (name in HOLD_MY_NUMBER_KEYS), name
        assert not any(k.startswith("MYNUMBER_KEYS") for k in CONFIG)


def test_each_service_connects_to_kafka_as_the_principal_its_acls_are_for() -> None:
    for name, manifest in DEPLOYMENTS.items():
        (user,) = [e["value"] for e in container(manifest)["env"] if e["name"] == "KAFKA_SASL_USERNAME"]
        assert user == name.replace("-", "_")
        assert user in principals(TOPICS)


def test_the_acl_job_creates_a_user_for_every_principal_of_the_registry() -> None:
    job = container(BY_KIND_NAME[("Job", "kafka-acls")])
    assert job["command"] == ["kokunen-admin", "kafka-acls", "--apply"]
    wanted = {f"KAFKA_PASSWORD_{p.upper().replace('-', '_')}" for p in principals(TOPICS)}
    assert {n for n in env_names(job) if n.startswith("KAFKA_PASSWORD_")} == wanted


def test_platform_init_prepares_everything_with_a_password_for_every_role() -> None:
    job = container(BY_KIND_NAME[("Job", "platform-init")])
    assert job["command"][:2] == ["kokunen-admin", "prepare"]
    for schema in SERVICE_SCHEMAS:
        for role in (schema.owner_role, schema.app_role):
            assert f"{role.upper()}_PASSWORD" in env_names(job)
    assert "ADMIN_DATABASE_URL" in env_names(job)


def test_pods_run_as_the_image_user_read_only_and_unprivileged() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    uid = int(re.search(r"useradd .*--uid (\d+)", dockerfile)[1])  # type: ignore[index]
    for manifest in [
        *DEPLOYMENTS.values(),
        BY_KIND_NAME[("Job", "platform-init")],
        BY_KIND_NAME[("Job", "kafka-acls")],
    ]:
        pod = manifest["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["automountServiceAccountToken"] is False
        security = container(manifest)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]


def test_metrics_port_is_the_one_the_services_serve_and_the_image_exposes() -> None:
    port = int(CONFIG["METRICS_PORT"])
    assert f"EXPOSE {port}" in (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    for name, manifest in DEPLOYMENTS.items():
        pages = [{"name": "http", "containerPort": 8080}] if name == "counter" else []  # the staff's pages
        assert container(manifest)["ports"] == [{"name": "metrics", "containerPort": port}, *pages]
        assert manifest["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_the_kafka_ca_file_is_inside_the_mounted_secret() -> None:
    for manifest in DEPLOYMENTS.values():
        mounts = {m["name"]: m["mountPath"] for m in container(manifest)["volumeMounts"]}
        assert CONFIG["KAFKA_SSL_CAFILE"].startswith(mounts["kafka-ca"] + "/")


def test_scheduled_batches_run_existing_commands_for_the_policies_that_are_periodic() -> None:
    from transfer_dispatch.app import cli
    from transfer_dispatch.domain.policy import load_policies
    from typer.main import get_command

    commands = set(get_command(cli).commands)  # type: ignore[attr-defined]
    book = load_policies()
    monthly = {p.id for p in book.policies.values() if p.frequency.value == "monthly"}
    script = container(CRONJOBS["monthly-transfers"])["args"][0]
    assert set(re.findall(r"transfer-dispatch monthly --recipient (\w+) --month \$month", script)) == monthly
    weekly = container(CRONJOBS["jps-weekly"])["args"][0]
    assert re.search(r"transfer-dispatch jps-weekly --week \$\(date .*\+%G-W%V\)", weekly)
    for job in CRONJOBS.values():
        assert job["spec"]["timeZone"] == "Asia/Tokyo"
        assert job["spec"]["concurrencyPolicy"] == "Forbid"  # one batch per period, never two at once
        for command in re.findall(r"transfer-dispatch ([a-z-]+)", container(job)["args"][0]):
            assert command in commands


def test_scheduled_batches_read_only_settings_that_exist_and_only_jps_gets_its_key() -> None:
    from counter.settings import CounterAuditSettings
    from transfer_dispatch.jps.adapters.medium import JpsSettings

    known = SETTINGS | {name.upper() for name in [*JpsSettings.model_fields, *CounterAuditSettings.model_fields]}
    known |= {"TZ"}
    for name, job in CRONJOBS.items():
        names = env_names(container(job))
        assert names <= known, names - known
        assert ("JPS_MEDIUM_KEY" in names) == (name == "jps-weekly")
        assert not names & {"MYNUMBER_KEYS", "MYNUMBER_HASH_KEY"} or name == "jps-weekly"
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in pod(CRONJOBS["jps-weekly"])["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"jps-media"}
    assert ("PersistentVolumeClaim", "jps-media") in BY_KIND_NAME


def test_the_monthly_access_log_report_runs_the_counter_command_for_last_month_onto_its_volume() -> None:
    from counter.app import cli
    from typer.main import get_command

    job = CRONJOBS["access-log-report"]
    script = container(job)["args"][0]
    command = re.fullmatch(r"counter ([a-z-]+) --month \$\(date -d \"\$\(date \+%Y-%m-01\) -1 day\" \+%Y-%m\)", script)
    assert command is not None, script
    assert command[1] in get_command(cli).commands  # type: ignore[attr-defined]
    (url,) = [e for e in container(job)["env"] if e["name"] == "DATABASE_URL"]
    assert url["valueFrom"]["secretKeyRef"]["key"] == "counter-database-url"  # the counter's own role
    mounts = {m["name"]: m["mountPath"] for m in container(job)["volumeMounts"]}
    (directory,) = [e["value"] for e in container(job)["env"] if e["name"] == "COUNTER_AUDIT_REPORT_DIR"]
    assert mounts["access-log-reports"] == directory
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod(job)["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"access-log-reports"}
    assert ("PersistentVolumeClaim", "access-log-reports") in BY_KIND_NAME
    assert pod(job)["securityContext"]["runAsNonRoot"] is True
    assert container(job)["securityContext"]["readOnlyRootFilesystem"] is True


def test_probes_ask_the_services_own_health_endpoints() -> None:
    for name, manifest in DEPLOYMENTS.items():
        c = container(manifest)
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name
        assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}, name
        assert c["readinessProbe"]["timeoutSeconds"] >= 2 * ServiceSettings().readiness_timeout_s, name


SERVICES = {name: m for (kind, name), m in BY_KIND_NAME.items() if kind == "Service"}


def test_every_deployment_has_a_service_for_each_port_its_container_opens_and_its_probes_call() -> None:
    assert set(SERVICES) == set(DEPLOYMENTS)
    for name, deployment in DEPLOYMENTS.items():
        service = SERVICES[name]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["selector"].items() <= labels.items(), f"{name}: the Service selects no pod of it"
        assert service["selector"] == deployment["spec"]["selector"]["matchLabels"]
        opened = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        served = {p["targetPort"]: p for p in service["ports"]}
        assert set(served) == set(opened), f"{name}: Service ports {sorted(served)} ≠ container ports {sorted(opened)}"
        for port in service["ports"]:
            assert port["name"] == port["targetPort"]
        probes = [container(deployment)[p]["httpGet"] for p in ("readinessProbe", "livenessProbe")]
        assert {p["path"] for p in probes} == {"/readyz", "/livez"}
        assert {p["port"] for p in probes} <= set(served)
        # Prometheus scrapes the pod where the annotation says, the Service's metrics port reaches the same.
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == opened["metrics"] == served["metrics"]["port"]


def test_the_network_policy_admits_the_metrics_port_every_service_exposes() -> None:
    (rule,) = BY_KIND_NAME[("NetworkPolicy", "kokunen-metrics-only")]["spec"]["ingress"]
    allowed = {p["port"] for p in rule["ports"]}
    for name, deployment in DEPLOYMENTS.items():
        (metrics,) = [p["containerPort"] for p in container(deployment)["ports"] if p["name"] == "metrics"]
        assert metrics in allowed, name
