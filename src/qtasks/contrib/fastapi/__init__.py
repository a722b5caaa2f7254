"""FastAPI integration: the lifespan of `qtasks.contrib.starlette` and a dependency.

    from fastapi import FastAPI
    from qtasks.contrib.fastapi import QTasksApp, lifespan

    api = FastAPI(lifespan=lifespan(app))

    @api.post("/reports")
    async def create(tasks: QTasksApp):
        return {"uuid": str((await tasks.add_task("build_report")).uuid)}

`QTasksApp` is `Annotated[Any, Depends(get_app)]`: the app the lifespan runs.
"""

from __future__ import annotations

from typing import Annotated, Any

try:
    from fastapi import Depends, Request
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "qtasks.contrib.fastapi needs FastAPI: install qtasks with the fastapi extra"
    ) from exc

from qtasks.contrib.starlette import STATE_KEY, lifespan
from qtasks.contrib.starlette import get_app as _app_of


def get_app(request: Request) -> Any:
    """The qtasks app of the lifespan (a FastAPI dependency). Raises `LookupError` when
    the web app was not started with `lifespan(app)`."""
    return _app_of(request)


#: A route parameter annotated with it receives the app: `async def route(app: QTasksApp)`.
QTasksApp = Annotated[Any, Depends(get_app)]

__all__ = ["STATE_KEY", "QTasksApp", "get_app", "lifespan"]
