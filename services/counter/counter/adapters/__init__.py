"""Edges of the counter: PostgreSQL (read model, sessions, access log), the web pages, the IdP."""
