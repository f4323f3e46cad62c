"""Signing in to the counter through the real OIDC provider without a browser (the demo's walk, the bench's
sessions): the same redirects a browser follows, the provider's sign-in form posted as a staff member."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx


class SignInFailed(RuntimeError):
    pass


async def sign_in(client: httpx.AsyncClient, counter_url: str, staff: Mapping[str, Any]) -> str:
    """Sign ``client`` in as ``staff`` (an entry of localstack.DEMO_STAFF); returns the session's CSRF token."""
    answer = await client.get(f"{counter_url}/login")  # → the provider's authorization endpoint
    provider = answer.headers.get("location")
    if answer.status_code != 302 or not provider:
        raise SignInFailed(f"/login answered {answer.status_code}")
    claims = {"name": staff["name"], "department": staff["department"], "roles": staff["roles"]}
    answer = await client.post(provider, data={"username": staff["username"], "claims": json.dumps(claims)})
    callback = answer.headers.get("location")
    if not callback:
        raise SignInFailed(f"the provider answered {answer.status_code}")
    await client.get(callback)  # the counter exchanges the code (PKCE) and verifies the ID token
    home = await client.get(f"{counter_url}/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    if home.status_code != 200 or csrf is None:
        raise SignInFailed(f"home page answered {home.status_code} after the callback")
    return csrf[1]
