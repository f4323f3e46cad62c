"""docs/configuration.md is what the settings classes say, and names every variable the deploy files set."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from kokunen_common.config_reference import render

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"


def test_the_committed_reference_is_the_generated_one() -> None:
    assert REFERENCE.read_text() == render(), "run: kokunen-admin config-reference > docs/configuration.md"


def test_every_variable_the_deploy_files_set_is_in_the_reference() -> None:
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", REFERENCE.read_text(), re.MULTILINE))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    given = {
        name
        for service in compose.values()
        if service.get("image", "").startswith("kokunen/")  # the services and platform-init
        for name in service.get("environment", {})
    }
    for path in (ROOT / "deploy" / "k8s").glob("*.yaml"):
        text = path.read_text()
        given |= set(re.findall(r"- name: ([A-Z][A-Z0-9_]+)\n", text))
        config = next((d for d in yaml.safe_load_all(text) if d and d.get("kind") == "ConfigMap"), None)
        given |= set(config["data"]) if config else set()
    assert given - {"TZ"} <= documented, sorted(given - documented)
