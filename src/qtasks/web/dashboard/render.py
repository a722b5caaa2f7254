"""Rendering: the Jinja2 templates of this package, a whole page or only its live part
(the `live` block, which the page's script fetches again every few seconds with the
`X-Qtasks-Fragment` header)."""

from __future__ import annotations

import pathlib
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from qtasks.web.dashboard.security import CSRF_FIELD, Flash

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FRAGMENT_HEADER = "x-qtasks-fragment"


class Renderer:
    """Renders the templates with what every page needs: `base` (the mount path),
    `csrf` (this browser's token), `read_only`, `refresh` (seconds between updates)."""

    def __init__(
        self,
        *,
        app_name: str,
        read_only: bool,
        refresh: float,
        trusted_origins: tuple[str, ...] = (),
    ) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(("html",)),
            undefined=jinja2.StrictUndefined,
        )
        self.app_name = app_name
        self.read_only = read_only
        self.refresh = refresh
        self.trusted_origins = trusted_origins
        self.flash = Flash()

    def page(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        """The page `name` (a template), or only its `live` block when the request asks
        for the fragment."""
        state = request.scope.get("state", {})
        full = {
            "base": str(request.scope.get("root_path") or ""),
            "csrf": state.get("csrf", ""),
            "csrf_field": CSRF_FIELD,
            "read_only": self.read_only,
            "refresh": self.refresh,
            "app_name": self.app_name,
            "message": self.flash.read(request),
            "page": name.removesuffix(".html"),
            **context,
        }
        template = self.env.get_template(name)
        if request.headers.get(FRAGMENT_HEADER) and "live" in template.blocks:
            block = template.blocks["live"](template.new_context(full))
            html = "".join(block)
        else:
            html = template.render(full)
        return HTMLResponse(html, status_code=status_code, headers={"vary": FRAGMENT_HEADER})


__all__ = ["FRAGMENT_HEADER", "STATIC", "TEMPLATES", "Renderer"]
