"""Kafka isolation as data: one principal per service and per department, and the ACLs each needs,
derived from the topic registry (who produces and who consumes each topic).

With the StandardAuthorizer and ``allow.everyone.if.no.acl.found=false`` whatever is not listed here is
refused: a department reads its own transfer topic with consumer groups under its own prefix and
nothing else — not another department's topic, not an internal topic (人の異動, 資格異動, …). The platform
principal (``admin``) is the broker's super user and is not listed.

``acl_rules`` is pure; ``apply`` creates the SCRAM users and the ACLs through the Kafka admin API
(confluent-kafka: aiokafka's admin client has no ACL or SCRAM calls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from kokunen_contracts.registry import TopicSpec

from .settings import ServiceSettings


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(StrEnum):
    READ = "read"
    WRITE = "write"
    DESCRIBE = "describe"


@dataclass(frozen=True, order=True)
class AclRule:
    """ALLOW ``operation`` on ``resource`` ``name`` (literal or prefix) for ``User:<principal>`` from any host."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def __str__(self) -> str:
        return f"User:{self.principal} {self.operation} {self.resource}:{self.pattern}:{self.name}"


def principals(topics: Iterable[TopicSpec]) -> list[str]:
    """Every producer and consumer the registry names: services and outside systems (departments, …)."""
    return sorted({p for spec in topics for p in (*spec.producers, *spec.consumers)})


def group_prefix(principal: str) -> str:
    """Consumer groups a principal may use: its own name, then anything (``dept-nhi``, ``dept-nhi.batch``…).

    Services name their group after themselves (``eligibility``)."""
    return principal


def acl_rules(topics: Iterable[TopicSpec], services: Sequence[str] = ()) -> list[AclRule]:
    """The ACLs of the whole platform.

    - a producer may write and describe its topic;
    - a consumer may read and describe its topic and read groups under its own prefix;
    - a consuming *service* may also write the topic's dead-letter topic (its relay publishes there).
    """
    rules: set[AclRule] = set()
    for spec in topics:
        for producer in spec.producers:
            for op in (Operation.WRITE, Operation.DESCRIBE):
                rules.add(AclRule(producer, Resource.TOPIC, spec.name, Pattern.LITERAL, op))
        for consumer in spec.consumers:
            for op in (Operation.READ, Operation.DESCRIBE):
                rules.add(AclRule(consumer, Resource.TOPIC, spec.name, Pattern.LITERAL, op))
            rules.add(AclRule(consumer, Resource.GROUP, group_prefix(consumer), Pattern.PREFIXED, Operation.READ))
            if consumer in services:
                for op in (Operation.WRITE, Operation.DESCRIBE):
                    rules.add(AclRule(consumer, Resource.TOPIC, spec.dlq, Pattern.LITERAL, op))
    return sorted(rules)


def _admin_config(settings: ServiceSettings) -> dict[str, str | int | float | bool]:
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanisms"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username or ""
        config["sasl.password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
    if settings.kafka_ssl_cafile:
        config["ssl.ca.location"] = settings.kafka_ssl_cafile
    return config


def _apply_sync(settings: ServiceSettings, rules: Sequence[AclRule], users: Mapping[str, str]) -> None:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient(_admin_config(settings))
    if users:
        mechanism = {
            "SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256,
            "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512,
        }[settings.kafka_sasl_mechanism or "SCRAM-SHA-512"]
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(name, ScramCredentialInfo(mechanism, 8192), password.encode())
            for name, password in sorted(users.items())
        ]
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(timeout=30)
    bindings = [
        AclBinding(
            ResourceType.TOPIC if rule.resource is Resource.TOPIC else ResourceType.GROUP,
            rule.name,
            ResourcePatternType.LITERAL if rule.pattern is Pattern.LITERAL else ResourcePatternType.PREFIXED,
            f"User:{rule.principal}",
            "*",
            {Operation.READ: AclOperation.READ, Operation.WRITE: AclOperation.WRITE}.get(
                rule.operation, AclOperation.DESCRIBE
            ),
            AclPermissionType.ALLOW,
        )
        for rule in rules
    ]
    if bindings:
        for future in admin.create_acls(bindings).values():
            future.result(timeout=30)


async def apply(settings: ServiceSettings, rules: Sequence[AclRule], users: Mapping[str, str] | None = None) -> None:
    """Create (or update) SCRAM ``users`` and add ``rules``, as the platform's super user (idempotent)."""
    await asyncio.to_thread(_apply_sync, settings, rules, dict(users or {}))
