"""The only global references of qtasks (see the integration architecture).

`app_main` is the last app constructed; it is a *fallback* for app-less calls
(`@shared_task`, a router task used before `include_router`), never a requirement.
`logger_main` is that app's logger; `log_main` is the name the original used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtasks.logs import Logger

app_main: Any = None
logger_main: Logger | None = None
log_main: Logger | None = None


def set_main(app: Any, logger: Logger) -> None:
    """Record `app` as the process default; called by `app._set_state()`."""
    global app_main, logger_main, log_main
    app_main = app
    logger_main = logger
    log_main = logger


def require_app() -> Any:
    """Return `app_main` or explain how to get one."""
    if app_main is None:
        from qtasks.exc import AppNotFoundError

        raise AppNotFoundError(
            "No qtasks app is available: create `QueueTasks()` before using a shared task "
            "or an unattached router task, or call it through an app explicitly."
        )
    return app_main
