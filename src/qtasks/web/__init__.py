"""Web clients of a qtasks app: the dashboard (`qtasks.web.dashboard`), an ASGI app built
on the app's public operating API, and the HTTP API (`qtasks.web.api.create_api(app)`), an
ASGI app that enqueues, reads and waits for tasks, described by an OpenAPI document."""
