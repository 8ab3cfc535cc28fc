"""Which database URLs hedui can open. Messages never repeat the URL: it may hold a
password."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def database_url_problem(url: str) -> str:
    """Why hedui cannot open ``url``, or ``""``."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "not a database URL"
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        return f"use sqlite or postgresql, not {backend}"
    if backend == "sqlite" and parsed.query:
        return "sqlite URLs take no options"
    return ""


def database_backend(url: str) -> str:
    """``sqlite`` or ``postgresql``: the backend of a URL :func:`database_url_problem`
    accepted."""
    return str(make_url(url).get_backend_name())
