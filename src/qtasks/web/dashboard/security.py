"""Who may see the dashboard and act through it.

- Authentication (optional): a bearer token (`Authorization: Bearer T`, or the cookie a
  first visit with `?token=T` sets) or HTTP basic auth. Every path needs it, the mounted
  sub-apps included.
- Read-only mode: every request other than GET and HEAD is refused with 403.
- CSRF: each browser gets a random token in a cookie; an action (a POST) must carry the
  same token in its `csrf` form field, and an `Origin` (or, without one, a `Referer`)
  of the dashboard's own host or of a trusted origin.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_COOKIE = "qtasks_token"
CSRF_COOKIE = "qtasks_csrf"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD"})
#: On every response: no framing by other sites (a hidden frame could be clicked
#: through a confirmation), only the dashboard's own script and forms, and a Referer
#: sent to the dashboard alone.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@dataclasses.dataclass(frozen=True)
class Access:
    """The dashboard's access settings: `token` or `basic_auth` ("user:password"), at
    most one; `read_only`; `trusted_origins`, origins ("https://ops.example.com") allowed
    to post actions besides the dashboard's own (a proxy that rewrites the Host header).
    Raises `ValueError` for both credentials, an empty one or a basic auth without ':'."""

    token: str | None = None
    basic_auth: str | None = None
    read_only: bool = False
    trusted_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.token is not None and self.basic_auth is not None:
            raise ValueError("give a token or basic auth, not both")
        if self.token is not None and not self.token:
            raise ValueError("the token must not be empty")
        if self.basic_auth is not None:
            user, sep, password = self.basic_auth.partition(":")
            if not sep or not user or not password:
                raise ValueError("basic auth must be 'user:password', both non-empty")

    @property
    def authenticated(self) -> bool:
        """Whether a credential is required."""
        return self.token is not None or self.basic_auth is not None


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _cookie_path(scope: Scope) -> str:
    return str(scope.get("root_path") or "") + "/"


def _cookie(name: str, value: str, scope: Scope, *, http_only: bool = True) -> str:
    morsel = SimpleCookie()
    morsel[name] = value
    morsel[name]["path"] = _cookie_path(scope)
    morsel[name]["samesite"] = "Strict"
    if http_only:
        morsel[name]["httponly"] = True
    if scope.get("scheme") == "https":
        morsel[name]["secure"] = True
    return morsel.output(header="").strip()


class AccessMiddleware:
    """The ASGI middleware of the settings above (the CSRF form check is `check_csrf`,
    called by the action endpoint that reads the form)."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        denied = self._authenticate(request)
        if denied is not None:
            await denied(scope, receive, send)
            return
        if self.access.read_only and request.method not in SAFE_METHODS:
            await PlainTextResponse("Read-only dashboard", status_code=403)(scope, receive, send)
            return
        csrf = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not csrf or len(csrf) < 32:
            csrf = fresh = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = csrf
        scope["state"]["access"] = self.access

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
                if fresh is not None:
                    headers.append("set-cookie", _cookie(CSRF_COOKIE, fresh, scope))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _authenticate(self, request: Request) -> Response | None:
        access = self.access
        if access.token is not None:
            header = request.headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() == "bearer" and _same(given.strip(), access.token):
                return None
            if _same(request.cookies.get(TOKEN_COOKIE), access.token):
                return None
            if _same(request.query_params.get("token"), access.token):
                # Keep the token out of the address bar and the history: a cookie instead.
                query = urlencode([(k, v) for k, v in parse_qsl(request.url.query) if k != "token"])
                target = request.url.path + (f"?{query}" if query else "")
                response = RedirectResponse(target, status_code=303)
                response.headers.append(
                    "set-cookie", _cookie(TOKEN_COOKIE, access.token, request.scope)
                )
                return response
            return PlainTextResponse(
                "A token is required: open the dashboard with ?token=... once, or send "
                "'Authorization: Bearer ...'",
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        if access.basic_auth is not None:
            header = request.headers.get("authorization", "")
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() == "basic":
                credentials: str | None
                try:
                    credentials = base64.b64decode(encoded.strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    credentials = None
                if _same(credentials, access.basic_auth):
                    return None
            return PlainTextResponse(
                "Authentication required",
                status_code=401,
                headers={"www-authenticate": 'Basic realm="qtasks", charset="UTF-8"'},
            )
        return None


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute URL, lower case; None for anything else."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request: Request, trusted: Iterable[str]) -> set[str]:
    """The origins an action may come from: the dashboard's own and the trusted ones."""
    host = request.headers.get("host", "")
    own = {f"{request.url.scheme}://{host}".lower()} if host else set()
    return own | {o.rstrip("/").lower() for o in trusted}


class Flash:
    """The one-line message an action leaves for the page it redirects to, carried in
    the address (`msg`) with an HMAC (`sig`) under a key of this process, so that a
    link made elsewhere cannot put its own words on the dashboard."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def sign(self, message: str) -> dict[str, str]:
        """The query parameters that carry `message`."""
        return {"msg": message, "sig": self._mac(message)}

    def read(self, request: Request) -> str | None:
        """The message of this request's address, None when absent or not signed here."""
        message = request.query_params.get("msg")
        sig = request.query_params.get("sig")
        if message is None or sig is None or not _same(sig, self._mac(message)):
            return None
        return message

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), "sha256").hexdigest()


def check_csrf(request: Request, form: dict[str, Any]) -> str | None:
    """Why this action must be refused, None when it may go on: the form's `csrf` field
    must equal the cookie's token, and the request must come from an allowed origin."""
    cookie = request.cookies.get(CSRF_COOKIE)
    field = form.get(CSRF_FIELD)
    if not cookie or not isinstance(field, str) or not _same(field, cookie):
        return "missing or wrong CSRF token: reload the page and try again"
    access: Access = request.scope.get("state", {}).get("access") or Access()
    origins = allowed_origins(request, access.trusted_origins)
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return None if origin.lower() in origins else f"origin {origin} is not allowed"
    referer = request.headers.get("referer")
    if referer:
        found = origin_of(referer)
        return None if found in origins else "the referring page is not the dashboard's"
    return "the request names no origin (Origin or Referer header)"


__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SECURITY_HEADERS",
    "TOKEN_COOKIE",
    "Access",
    "AccessMiddleware",
    "Flash",
    "allowed_origins",
    "origin_of",
    "check_csrf",
]
