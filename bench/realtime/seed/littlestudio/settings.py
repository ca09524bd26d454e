"""Settings of the LittleStudio stroke-path baseline, all from the environment.

Database (SEED_DB): `mysql` (default; the seed ran MySQL; PyMySQL as the driver) or `sqlite`.
  SEED_MYSQL_HOST (127.0.0.1), SEED_MYSQL_PORT (3306), SEED_MYSQL_USER (root),
  SEED_MYSQL_PASSWORD (empty), SEED_MYSQL_DB (littlestudio_bench), SEED_SQLITE_PATH.
  SEED_CONN_MAX_AGE: Django's CONN_MAX_AGE (default 0, Django's default: one connection per
  request).
Pusher: PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET, PUSHER_HOST (127.0.0.1), PUSHER_PORT, PUSHER_SSL
  (0). The "Pusher service" is atelier's Pusher-protocol server in the benchmark.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "littlestudio-bench-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework.authtoken",
    "drawing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "littlestudio.urls"
WSGI_APPLICATION = "littlestudio.wsgi.application"

_conn_max_age = int(os.environ.get("SEED_CONN_MAX_AGE", "0"))
if os.environ.get("SEED_DB", "mysql") == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SEED_SQLITE_PATH", str(BASE_DIR / "littlestudio_bench.sqlite3")),
            "CONN_MAX_AGE": _conn_max_age,
        }
    }
else:
    import pymysql

    pymysql.install_as_MySQLdb()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": os.environ.get("SEED_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SEED_MYSQL_PORT", "3306"),
            "USER": os.environ.get("SEED_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("SEED_MYSQL_PASSWORD", ""),
            "NAME": os.environ.get("SEED_MYSQL_DB", "littlestudio_bench"),
            "CONN_MAX_AGE": _conn_max_age,
            # PyMySQL 1.2 builds a TLS context (loading the system CA bundle, ~20-100 ms) for
            # every connection in its "preferred" mode even when the server has no TLS, as
            # MariaDB here; the benchmark runs on loopback, so TLS is off unless SEED_MYSQL_SSL=1.
            "OPTIONS": {"charset": "utf8mb4", "ssl_disabled": os.environ.get("SEED_MYSQL_SSL") != "1"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

PUSHER_APP_ID = os.environ.get("PUSHER_APP_ID", "1")  # the pusher library wants digits
PUSHER_KEY = os.environ.get("PUSHER_KEY", "atelier-key")
PUSHER_SECRET = os.environ.get("PUSHER_SECRET", "")
PUSHER_HOST = os.environ.get("PUSHER_HOST", "127.0.0.1")
PUSHER_PORT = int(os.environ.get("PUSHER_PORT", "8080"))
PUSHER_SSL = os.environ.get("PUSHER_SSL", "0") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
