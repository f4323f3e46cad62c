"""No declared-but-dead flow: every service subscribes to exactly the topics the contract registry names it a
consumer of (ACLs, Strimzi users, AsyncAPI and the integration guide are generated from the registry, so a
declaration nobody wires would promise departments and auditors a reader that does not exist)."""

from __future__ import annotations

import pytest
from kokunen_common.platform import installed_services, service_app
from kokunen_common.settings import ServiceSettings
from kokunen_contracts.registry import TOPICS


@pytest.mark.parametrize("service", installed_services())
def test_a_service_subscribes_to_exactly_what_the_registry_says_it_consumes(service: str) -> None:
    runtime = service_app(service).build(ServiceSettings())  # wiring only: nothing connects
    subscribed = sorted(spec.name for spec, _ in runtime.consumer.subscriptions)
    declared = sorted(spec.name for spec in TOPICS if service in spec.consumers)
    assert subscribed == declared
