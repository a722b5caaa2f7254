"""Settings of the shop example: Django on SQLite, qtasks on an SQLite file beside it
(both paths can be moved with environment variables, as the tests do)."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SHOP_DATA_DIR", BASE_DIR))

SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "shop_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",  # staff members see the dashboard at /ops/
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "qtasks.contrib.django",  # task discovery, `manage.py qtasks`, connections per task
    "orders",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "shop.sqlite3",
    }
}
if os.environ.get("SHOP_PG_SCHEMA"):  # the same project on PostgreSQL (psycopg 3)
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "NAME": "test",
        "USER": "postgres",
        "OPTIONS": {"options": f"-c search_path={os.environ['SHOP_PG_SCHEMA']}"},
    }

# The project's qtasks app: `qtasks.contrib.django.get_app()` builds it from this.
QTASKS = {
    "name": "shop",
    "broker_url": os.environ.get("SHOP_QTASKS_URL", f"sqlite:///{DATA_DIR / 'qtasks.db'}"),
    "config": {"max_tasks_process": 4},
}
