"""The counter's settings: the service's own (Kafka, database, keys) and those of its pages and its IdP."""

from __future__ import annotations

import secrets
from pathlib import Path

from kokunen_common.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CounterPageSettings(BaseSettings):
    """The staff's pages and the city's identity provider (Entra ID, Keycloak, …; locally the mock-oauth2-server
    process deploy/local/localstack.py starts). See docs/counter.md."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", case_sensitive=False, use_attribute_docstrings=True
    )

    counter_http_host: str = "127.0.0.1"
    """Address the pages listen on (``0.0.0.0`` in a container)."""
    counter_http_port: int = 0
    """Port of the pages; 0 takes a free one (logged) — set it (8080) wherever a proxy or a probe needs it."""
    counter_web_workers: int = Field(default=1, ge=1, le=64)
    """Processes serving the pages. 1: the service process serves them itself. N > 1: N page workers on the same
    port (SO_REUSEPORT), started and watched by the service process, which then reads the topics and relays the
    outbox only — one per core the counter is given (a worker is CPU-bound on one core)."""
    counter_public_url: str | None = None
    """The address staff open (behind a proxy: https://counter.city.example); the IdP redirects back to
    ``<it>/auth/callback``. Unset: ``http://<host>:<port>``."""
    counter_session_secret: SecretStr = Field(default=SecretStr(""))
    """Signs the session cookie (32+ random characters; the same on every replica). Unset: a random one per
    process (sessions then end when it restarts)."""
    counter_session_idle_minutes: int = 15
    """A session unused this long ends: the staff member signs in again."""
    counter_cookie_secure: bool = True
    """Cookies only over HTTPS (browsers treat http://127.0.0.1 as secure too)."""
    counter_design_tokens_css: Path | None = None
    """dist/tokens.css of @digital-go-jp/design-tokens (``make design-tokens`` fetches it), served as
    /static/tokens.css."""
    counter_sign_in_failure_window_minutes: int = Field(default=15, ge=1)
    """Failed sign-ins are counted over this many minutes for the two limits below."""
    counter_sign_in_failures_per_terminal: int = Field(default=20, ge=1)
    """After this many failed sign-ins from one terminal (client address) within the window, its sign-ins are
    refused (HTTP 429) until the oldest of them is older than the window. Higher than the per-staff limit: a
    city's terminals may reach the counter through one proxy address."""
    counter_sign_in_failures_per_staff: int = Field(default=5, ge=1)
    """After this many failed sign-ins of one staff member (as the IdP named them) within the window, their
    sign-ins are refused (HTTP 429) from every terminal until the oldest of them is older than the window."""
    oidc_issuer_url: str = "http://127.0.0.1:8081/kokunen"
    """The IdP's issuer; ``<it>/.well-known/openid-configuration`` is read."""
    oidc_client_id: str = "kokunen-counter"
    """The counter's client id at the IdP (the ID token's audience)."""
    oidc_client_secret: SecretStr = Field(default=SecretStr(""))
    """The counter's client secret at the IdP (confidential client)."""
    oidc_roles_claim: str = "roles"
    """ID-token claim with the staff member's roles (viewer, clerk, supervisor, my_number_handler, auditor,
    operator)."""
    oidc_department_claim: str = "department"
    """ID-token claim with the staff member's 部署."""
    oidc_name_claim: str = "name"
    """ID-token claim with the staff member's name."""


class CounterSettings(ServiceSettings, CounterPageSettings):
    """Everything the counter process reads."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", case_sensitive=False, use_attribute_docstrings=True
    )

    consumer_fetch_max_wait_ms: int = 5000
    """As for every service (docs/configuration.md), with the counter's own default: its 14 subscriptions are idle
    most of the time beside the page workers, and at 500 ms their empty fetches cost the service process 44 ms of
    CPU a second; at 5000 ms, 17."""

    @property
    def public_url(self) -> str:
        return (self.counter_public_url or f"http://{self.counter_http_host}:{self.counter_http_port}").rstrip("/")

    def session_secret(self) -> str:
        """The configured secret, or (once per process) a random one."""
        if not self.counter_session_secret.get_secret_value():
            object.__setattr__(self, "counter_session_secret", SecretStr(secrets.token_urlsafe(48)))
        return self.counter_session_secret.get_secret_value()


class CounterAuditSettings(BaseSettings):
    """The monthly access-log review (``counter access-log-report``): the city's thresholds, each explained on the
    report's first page (counter/domain/log_analysis.py)."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", case_sensitive=False, use_attribute_docstrings=True
    )

    counter_audit_office_hours: str = "08:30-17:15"
    """開庁時間 of a working day (HH:MM-HH:MM, JST): operations outside it, and on closed days, are listed."""
    counter_audit_daily_views: int = Field(default=40, ge=1)
    """A staff member opening more person pages than this in one day is listed."""
    counter_audit_staff_per_person: int = Field(default=5, ge=1)
    """A person whose page more distinct staff than this opened in the month is listed."""
    counter_audit_failed_sign_ins: int = Field(default=3, ge=1)
    """Failed sign-ins from one terminal or staff member on one day from which they are called out."""
    counter_audit_report_dir: Path = Path("out/access-log-reports")
    """Where the report's PDF and CSV are written (a volume in Kubernetes)."""
