"""Routes of the drawing app: POST /drawing/<id>/canvas."""
from django.urls import path

from .views import CanvasView

urlpatterns = [
    path("<int:id>/canvas", CanvasView.as_view(), name="drawing-canvas"),
]
