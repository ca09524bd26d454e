"""Validation of one stroke, as the seed's DRF serializer does before triggering it."""
from rest_framework import serializers

MAX_POINTS = 2000


class StrokeSerializer(serializers.Serializer):
    """`{"client_id", "points": [[x, y], ...], "color": "#rrggbb", "width", "tool"?}`."""

    client_id = serializers.CharField(max_length=64)
    points = serializers.ListField(
        child=serializers.ListField(
            child=serializers.FloatField(), min_length=2, max_length=2
        ),
        min_length=1,
        max_length=MAX_POINTS,
    )
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$")
    width = serializers.FloatField(min_value=0.5, max_value=200)
    tool = serializers.CharField(max_length=32, required=False)
