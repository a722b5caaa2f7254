"""The web dashboard inside a Django project's URLconf.

    # urls.py
    from django.urls import include, path
    from qtasks.contrib.django.dashboard import dashboard_urls

    urlpatterns = [
        ...,
        path("ops/", include(dashboard_urls())),   # staff members only, by default
    ]

Django routes every path under the prefix to one async view that hands the request to
the dashboard (an ASGI app, `qtasks.web.dashboard`) and returns its answer as Django's
response: under WSGI (runserver, gunicorn) as under ASGI (uvicorn, daphne). The
dashboard runs on an event loop thread of its own, so its background sampling of the
counts lives as long as the process, whatever serves Django. Needs the web extra
(`pip install ".[django,web]"` in a checkout of qtasks).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import URLPattern, re_path

from qtasks.contrib.django.project import get_app

try:
    from qtasks.web.dashboard import Dashboard, dashboard
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'the qtasks dashboard needs the web extra: pip install ".[django,web]" '
        "in a checkout of qtasks"
    ) from exc


def staff_member(request: HttpRequest) -> bool:
    """The default access rule: an active, logged-in staff member (Django's admin rule)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


class DashboardView:
    """An async Django view serving a `Dashboard` under the prefix it is included at.

    `allow(request) -> bool` is checked first, with Django's request (its session and
    user): refused, an anonymous visitor is sent to `settings.LOGIN_URL`, anyone else
    gets 403. None leaves access to the dashboard's own checks (`token`, `basic_auth`).
    The dashboard's forms carry their own CSRF token, so the view is exempt from
    Django's."""

    def __init__(self, dash: Dashboard, allow: Callable[[HttpRequest], bool] | None) -> None:
        self.dash = dash
        self.allow = allow
        self._loop: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._lock = threading.Lock()

    def _dashboard_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the dashboard runs on: one thread per process (a forked server
        process starts its own, the parent's thread did not come along)."""
        with self._lock:
            if self._loop is None or self._loop[0] != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="qtasks-django-dashboard", daemon=True
                ).start()
                self._loop = (os.getpid(), loop)
            return self._loop[1]

    def refused(self, request: HttpRequest) -> HttpResponse | None:
        """The answer to a request `allow` refuses, else None (sync: it may read the
        user from the database)."""
        if self.allow is None or self.allow(request):
            return None
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return HttpResponseForbidden("The qtasks dashboard is for staff members.")

    async def __call__(self, request: HttpRequest, subpath: str = "") -> HttpResponse:
        denied = await sync_to_async(self.refused)(request)
        if denied is not None:
            return denied
        scope = asgi_scope(request, subpath)
        future = asyncio.run_coroutine_threadsafe(
            answer(self.dash, scope, request.body), self._dashboard_loop()
        )
        status, headers, body = await asyncio.wrap_future(future)
        return django_response(status, headers, body)


def asgi_scope(request: HttpRequest, subpath: str) -> dict[str, Any]:
    """The ASGI HTTP scope of a Django request, mounted where `subpath` begins: the
    dashboard sees the prefix as its `root_path`, so its links, forms and cookies
    stay under it."""
    path = request.path
    root = path[: len(path) - len(subpath)].rstrip("/") if subpath else path.rstrip("/")
    # The host Django validated (ALLOWED_HOSTS): the dashboard checks an action's
    # origin against it.
    host_port = request.get_host()
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in request.headers.items()
        if k.lower() != "host"
    ]
    headers.append((b"host", host_port.encode("latin-1")))
    host, _, port = host_port.partition(":")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method or "GET",
        "scheme": request.scheme or "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "root_path": root,
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": (request.META.get("REMOTE_ADDR") or "127.0.0.1", 0),
        "server": (host, int(port) if port.isdigit() else (443 if request.is_secure() else 80)),
    }


async def answer(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, list[Any], bytes]:
    """Run one request through the ASGI `app`: (status, headers, body)."""
    sent = False
    started: dict[str, Any] = {}
    chunks: list[bytes] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # the answer is complete: the client "left"
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    done.set()
    return int(started.get("status", 500)), list(started.get("headers", [])), b"".join(chunks)


def django_response(status: int, headers: list[Any], body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=status)
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.lower() == "set-cookie":
            response.cookies.load(SimpleCookie(value))  # several cookies, each kept
        elif name.lower() != "content-length":  # Django sets it from the body
            response.headers[name] = value
    return response


def dashboard_urls(
    app: Any = None,
    *,
    allow: Callable[[HttpRequest], bool] | None = staff_member,
    **options: Any,
) -> list[URLPattern]:
    """URL patterns serving the dashboard of `app` (default: the project's app of the
    `QTASKS` setting) under the prefix where they are `include`d.

    - `allow(request) -> bool`: who may see it, checked with Django's request; by
      default active staff members (`staff_member`); None to rely on the dashboard's
      own `token` or `basic_auth` only.
    - `options`: as `qtasks.web.dashboard.dashboard` (`read_only`, `token`,
      `basic_auth`, `trusted_origins`, `refresh`, `sample_interval`, `mounts`).

    Raises `TypeError` when `app` is not a qtasks app, `ValueError` for bad options."""
    handler = DashboardView(dashboard(app if app is not None else get_app(), **options), allow)

    async def view(request: HttpRequest, subpath: str = "") -> HttpResponse:
        return await handler(request, subpath)

    # What `csrf_exempt` marks, set directly: that decorator keeps async views async only
    # from Django 5.0 on.
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return [re_path(r"^(?P<subpath>.*)$", view, name="qtasks-dashboard")]


__all__ = ["DashboardView", "asgi_scope", "dashboard_urls", "staff_member"]
