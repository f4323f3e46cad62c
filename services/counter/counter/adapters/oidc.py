"""Sign-in with OpenID Connect: authorization code + PKCE (S256) through authlib; the ID token's signature
(the IdP's JWKS), issuer, audience, expiry and nonce are checked by authlib before any claim is read.

The counter never mints a token and trusts no header: who a staff member is, their 部署 and their roles come
only from the ID token of the configured issuer.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

from ..domain.staff import Staff, roles_from_claims
from ..settings import CounterSettings


class SignInRefused(Exception):
    """The IdP's answer cannot sign anyone in (the message is for staff, in Japanese)."""


def identity_provider(settings: CounterSettings) -> StarletteOAuth2App:
    oauth = OAuth()
    client: StarletteOAuth2App = oauth.register(
        name="city",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value() or None,
        server_metadata_url=f"{settings.oidc_issuer_url.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile", "code_challenge_method": "S256"},
    )
    return client


def staff_from_claims(claims: dict[str, Any], settings: CounterSettings) -> Staff:
    """The staff member an ID token names; refused without a subject or a 部署."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInRefused("IDトークンに職員の識別子 (sub) がありません")
    raw_roles = claims.get(settings.oidc_roles_claim) or []
    roles = roles_from_claims(raw_roles if isinstance(raw_roles, list) else [raw_roles])
    department = claims.get(settings.oidc_department_claim)
    if not isinstance(department, str) or not department:
        raise SignInRefused("IDトークンに部署の情報がありません。情報システム担当にお問い合わせください")
    name = claims.get(settings.oidc_name_claim)
    return Staff(subject[:64], str(name)[:80] if name else subject[:64], department[:80], roles)
