"""WSGI entry point (gunicorn littlestudio.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "littlestudio.settings")
application = get_wsgi_application()
