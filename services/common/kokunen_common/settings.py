"""Settings every service reads from its environment (12-factor; pydantic-settings).

Every field has a docstring: ``docs/configuration.md`` is generated from them (``kokunen-admin
config-reference``) and a test fails when the two drift apart.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Connection and behaviour settings of one service process.

    ``DATABASE_URL`` is the service's own application role (DML on its schema only);
    ``MIGRATION_DATABASE_URL`` its owner role (DDL), used by ``migrate`` alone.
    """

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", case_sensitive=False, use_attribute_docstrings=True
    )

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    """Kafka brokers, ``host:port[,host:port…]``."""
    kafka_security_protocol: str = Field(default="PLAINTEXT")
    """``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``."""
    kafka_sasl_mechanism: str | None = None
    """``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``; unset for no SASL."""
    kafka_sasl_username: str | None = None
    """The service's Kafka principal (its name: the ACLs are granted to it, ``kokunen-admin kafka-acls``)."""
    kafka_sasl_password: SecretStr | None = None
    """Password of that principal."""
    kafka_ssl_cafile: str | None = None
    """PEM file of the CA that signed the brokers' certificates (``SSL``/``SASL_SSL``)."""

    database_url: SecretStr = Field(default=SecretStr("postgresql://127.0.0.1:5432/kokunen"))
    """``postgresql://<app role>:<password>@host:port/kokunen``: the service's application role (DML on its
    schema only)."""
    migration_database_url: SecretStr | None = None
    """The schema owner role's URL, for ``migrate`` and ``kokunen-admin replay`` (DDL); ``DATABASE_URL`` when unset."""
    database_pool_size: int = 10
    """Most connections the service holds open."""

    consumer_group: str | None = None
    """Kafka consumer group; the service name when unset (a replay uses a group of its own)."""
    consumer_max_records: int = 500
    """Largest batch applied in one database transaction."""
    consumer_heartbeat_interval_ms: int = 500
    """How often each consumer heartbeats to its group coordinator. A member learns of a rebalance (another
    member joining or leaving) only at its next heartbeat, and each subscription is a member of the service's
    group: at Kafka's 3 s, eligibility's nine took 27–52 s to start (and stalled meanwhile); at 0.3 s, 5 s."""
    consumer_fetch_max_wait_ms: int = 500
    """How long the broker holds an idle consumer's fetch before answering it empty, and how long an idle
    subscription's poll waits before it polls again, at most 200 ms (records are answered and taken as soon as
    they arrive, so this is no delay; a subscription never sleeps after an empty poll). Each subscription fetches
    on its own: a longer hold is fewer idle round trips (the counter, whose consumers share the machine with its
    page workers: 5000)."""
    transient_retry_budget_s: float = 30.0
    """How long one delivery retries a transient failure before handing the batch back to Kafka
    (which redelivers it at once): keeps us inside max.poll.interval.ms while never skipping."""
    poison_redeliveries: int = 5
    """How many times Kafka may deliver a message that never completes (the process dies on it, or its
    failure outlives the retry budget each time) before it is dead-lettered as poison."""
    outbox_batch_size: int = 2000
    """Outbox rows the relay publishes per round."""
    outbox_poll_interval_s: float = 0.5
    """Longest wait of the relay between rounds when no NOTIFY wakes it."""
    outbox_retention_days: int = 7
    """Published outbox rows are deleted after this many days."""
    dead_letter_retention_days: int | None = None
    """Days the dead-letter store keeps a message (each deletion recorded in ``dead_letter_purge``); the
    service's own default when unset (residency: 30, its dead letters carry clear My Numbers; others: keep)."""
    relay_stall_after_s: float = 60.0
    """Readiness fails when the outbox relay has not finished a cycle for this long."""

    metrics_port: int | None = None
    """Port of ``/metrics``, ``/livez`` and ``/readyz`` (no HTTP server when unset; 9000 in the images)."""
    readiness_timeout_s: float = 2.0
    """How long each readiness check (database, broker) may take before it counts as failed."""
    otel_exporter_otlp_endpoint: str | None = None
    """OTLP/HTTP collector, e.g. ``http://otel-collector:4318`` (traces go to ``/v1/traces``); none when unset."""
    log_level: str = "INFO"
    """``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``."""
    log_format: str = "json"
    """``json`` (one object per line) or ``console`` (for a person at a terminal)."""

    mynumber_keys: SecretStr | None = None
    """``<key id>:<base64 32-byte key>[,<key id>:<key>…]`` — AES-256-GCM keys for My Number at rest
    (``kokunen-admin new-key`` prints one)."""
    mynumber_active_key_id: str | None = None
    """Which of ``MYNUMBER_KEYS`` encrypts new values (the others still decrypt: rotation)."""
    mynumber_hash_key: SecretStr | None = None
    """base64 key of the keyed hash (HMAC-SHA256) used to look a My Number up without decrypting."""

    fault_exit_after_commit: bool = False
    """Test hook: exit the process right after a database commit, before the Kafka offset commit."""

    @property
    def kafka_bootstrap_list(self) -> list[str]:
        """The bootstrap servers as a list: aiokafka takes a comma-separated string for one host name."""
        return [server.strip() for server in self.kafka_bootstrap_servers.split(",") if server.strip()]
