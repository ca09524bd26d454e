"""URL configuration: only the stroke path of the seed's REST API."""
from django.urls import include, path

urlpatterns = [
    path("drawing/", include("drawing.urls")),
]
