"""kokunen event contracts: pydantic models and the topic registry, the single source of the API."""

__version__ = "1.0.0"
