"""The seed's drawing tables, as far as the stroke path reads them.

Users are Django's auth users (the seed had its own user table with gender/type/family; the
stroke path only needs identity). DRF's authtoken table holds their tokens.
"""
from django.conf import settings
from django.db import models


class Drawing(models.Model):
    """One drawing (the seed's `Drawing` interface)."""

    class Type(models.TextChoices):
        RAW = "RAW"
        PROCESSED = "PROCESSED"
        ANIMATED = "ANIMATED"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    image_url = models.CharField(max_length=500, blank=True)
    ai_image_url = models.CharField(max_length=500, blank=True)
    gif_url = models.CharField(max_length=500, blank=True)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.RAW)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hosted_drawings"
    )
    voice_id = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class DrawingUser(models.Model):
    """A participant of a drawing (who may draw on its canvas)."""

    drawing = models.ForeignKey(Drawing, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["drawing", "user"], name="unique_drawing_user"),
        ]
