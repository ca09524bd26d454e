"""WSGI entry point (gunicorn littlestudio.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "littlestudio.settings")
application = get_wsgi_application()
# Import the URLconf (views, serializers, the pusher client) when a worker boots rather than on
# its first request, so the benchmark's first strokes do not pay for it.
get_resolver().url_patterns
