"""URLs as qtasks shows them: never with a password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact(url: str) -> str:
    """The URL with any password replaced by `***`, for logs, reprs and error messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can parse: show nothing that could be a secret
        return "<unparsable URL>"
    if password:
        netloc = parts.netloc.replace(f":{password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


__all__ = ["redact"]
