"""HTTP access to an app: `qtasks.web.api.create_api(app)` is an ASGI app that enqueues,
reads and waits for tasks, described by an OpenAPI document."""
