"""deploy/k8s/generated: Strimzi topics, KEDA autoscaling and disruption budgets are what the registry and the
services imply, and the committed files are the generated ones."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml
from kokunen_common.cluster_resources import FOLDER, files
from kokunen_common.database_setup import SERVICE_SCHEMAS
from kokunen_contracts.registry import DLQ_PARTITIONS, TOPICS

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / FOLDER


def documents(name: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in yaml.safe_load_all((GENERATED / name).read_text()) if d]


def test_the_committed_files_are_the_generated_ones() -> None:
    assert {p.name for p in GENERATED.glob("*.yaml")} == set(files())
    for name, text in files().items():
        assert (GENERATED / name).read_text() == text, f"run: kokunen-admin cluster-resources --write ({name})"


def test_a_kafka_topic_for_every_topic_and_dead_letter_topic_of_the_registry() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in documents("kafka-topics.yaml") if d["kind"] == "KafkaTopic"}
    assert set(topics) == {spec.name for spec in TOPICS} | {spec.dlq for spec in TOPICS}
    for spec in TOPICS:
        assert topics[spec.name]["partitions"] == spec.partitions
        assert (topics[spec.name]["config"]["retention.ms"], topics[spec.dlq]["config"]["retention.ms"]) == (
            spec.retention()
        )
        assert topics[spec.dlq]["partitions"] == DLQ_PARTITIONS


def test_each_consuming_service_scales_on_its_own_lag_up_to_its_partitions() -> None:
    manifests = [yaml.safe_load(p.read_text()) for p in (ROOT / "deploy" / "k8s").glob("*.yaml")]
    deployments = {m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment"}
    scaled = {d["metadata"]["name"]: d["spec"] for d in documents("autoscaling.yaml") if d["kind"] == "ScaledObject"}
    auth = {d["metadata"]["name"] for d in documents("autoscaling.yaml") if d["kind"] == "TriggerAuthentication"}
    for schema in SERVICE_SCHEMAS:
        reads = [spec for spec in TOPICS if schema.service in spec.consumers]
        name = schema.service.replace("_", "-")
        if not reads:
            assert name not in scaled
            continue
        spec = scaled[name]
        assert spec["scaleTargetRef"]["name"] == name
        assert name in deployments
        assert {t["metadata"]["topic"] for t in spec["triggers"]} == {r.name for r in reads}
        assert {t["metadata"]["consumerGroup"] for t in spec["triggers"]} == {schema.service}
        assert {t["authenticationRef"]["name"] for t in spec["triggers"]} <= auth
        assert spec["maxReplicaCount"] == min(r.partitions for r in reads)


def test_disruption_budgets_are_valid_and_cover_every_service() -> None:
    budgets = documents("availability.yaml")
    for budget in budgets:
        kubernetes_validate.validate(budget, "1.33", strict=True)
    names = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for b in budgets}
    assert names == {s.service.replace("_", "-") for s in SERVICE_SCHEMAS}


def test_each_outside_system_is_a_kafka_user_with_exactly_the_acls_of_the_registry() -> None:
    from kokunen_common.kafka_acls import Pattern, acl_rules, principals

    services = tuple(s.service for s in SERVICE_SCHEMAS)
    users = {d["metadata"]["name"]: d["spec"] for d in documents("kafka-users.yaml")}
    assert set(users) == set(principals(TOPICS)) - set(services)
    rules = acl_rules(TOPICS, services=services)
    for name, spec in users.items():
        granted = {
            (acl["resource"]["type"], acl["resource"]["name"], acl["resource"]["patternType"], op.lower())
            for acl in spec["authorization"]["acls"]
            for op in acl["operations"]
        }
        wanted = {
            (r.resource.value, r.name, "literal" if r.pattern is Pattern.LITERAL else "prefix", r.operation.value)
            for r in rules
            if r.principal == name
        }
        assert granted == wanted, name
        assert "valueFrom" in spec["authentication"]["password"]  # a secret, never a literal
