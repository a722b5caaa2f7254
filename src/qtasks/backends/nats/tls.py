"""TLS from a NATS URL's query: `tls://host:4222?tls_ca=ca.pem` (the names of the
`nats` command's `--tlsca`, `--tlscert`, `--tlskey` options).

    tls_ca    PEM file of the authorities that signed the server's certificate
              (default: the system's, as `ssl.create_default_context()` loads them)
    tls_cert  PEM file of this client's certificate, for servers that verify clients
    tls_key   its private key (default: in `tls_cert`)

Any of them turns TLS on for `nats://` too; `tls://` alone uses the system's
authorities. The server's name is checked against the URL's host.
"""

from __future__ import annotations

import ssl
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from qtasks.exc import ConfigError

OPTIONS = ("tls_ca", "tls_cert", "tls_key")


def split_tls(url: str) -> tuple[str, ssl.SSLContext | None]:
    """`url` without its query, and the TLS context its scheme and query ask for (None:
    plain TCP). Raises `ConfigError` for an unknown query parameter, a key without its
    certificate, or a file that cannot be read as PEM."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown NATS URL parameter(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}"
        )
    bare = urlunsplit(parts._replace(query=""))
    if parts.scheme != "tls" and not options:
        return bare, None
    if options.get("tls_key") and not options.get("tls_cert"):
        raise ConfigError("The NATS URL names tls_key without tls_cert (the client certificate)")
    try:
        context = ssl.create_default_context(cafile=options.get("tls_ca") or None)
        if options.get("tls_cert"):
            context.load_cert_chain(options["tls_cert"], options.get("tls_key") or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"The NATS URL's TLS files cannot be used: {exc}") from exc
    return bare, context
