"""Web clients of a qtasks app: the dashboard (`qtasks.web.dashboard`), an ASGI app
built on the app's public operating API."""
