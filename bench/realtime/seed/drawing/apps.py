"""App config of the drawing app."""
from django.apps import AppConfig


class DrawingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "drawing"
