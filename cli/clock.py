"""The one place the product reads the wall clock. Everything below the CLI receives time as an argument."""

from datetime import datetime, timezone


def now() -> datetime:
    """Wall-clock time, aware UTC."""
    return datetime.now(timezone.utc)
