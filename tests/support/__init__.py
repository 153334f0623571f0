"""Shared test helpers: a real PostgreSQL server fixture, tampering tools, child processes."""
