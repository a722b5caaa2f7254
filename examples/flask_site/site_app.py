"""A Flask site with qtasks: `flask --app site_app qtasks worker` runs its worker,
`flask --app site_app run` its web server. Tasks run inside the Flask app's context."""

from __future__ import annotations

import os

from flask import Flask, current_app, jsonify

from qtasks.contrib.flask import QTasks

qtasks = QTasks()


def create_app() -> Flask:
    web = Flask(__name__)
    web.config["GREETING"] = "Hello"
    web.config["QTASKS_NAME"] = "site"
    web.config["QTASKS_BROKER_URL"] = os.environ.get("SITE_QTASKS_URL", "sqlite:///site-qtasks.db")
    qtasks.init_app(web)

    @qtasks.task(name="site.greet")
    def greet(name: str) -> str:
        return f"{current_app.config['GREETING']}, {name}"  # the Flask app's config

    @web.post("/greet/<name>")
    def enqueue_greeting(name: str):
        task = qtasks.app.add_task("site.greet", name, timeout=10)
        return jsonify(status=task.status, greeting=task.returning)

    return web
