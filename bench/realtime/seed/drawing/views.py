"""POST /drawing/<id>/canvas: the seed's live-drawing path.

Token-authenticated participant → serializer-validated stroke → `pusher_client.trigger` on the
drawing's presence channel (a synchronous HTTP call to the Pusher service). Strokes are not
stored, as in the seed.
"""
import pusher
from django.conf import settings
from django.shortcuts import get_object_or_404
from pusher.errors import PusherBadStatus, PusherError
from rest_framework import status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Drawing, DrawingUser
from .serializers import StrokeSerializer

# One client per worker process, as the seed's module-level `pusher_client` (its requests
# session keeps the connection to the Pusher service alive between strokes).
pusher_client = pusher.Pusher(
    app_id=settings.PUSHER_APP_ID,
    key=settings.PUSHER_KEY,
    secret=settings.PUSHER_SECRET,
    host=settings.PUSHER_HOST,
    port=settings.PUSHER_PORT,
    ssl=settings.PUSHER_SSL,
)


class PusherUnavailable(APIException):
    """The Pusher service refused or failed the trigger."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The real-time service did not accept the stroke."
    default_code = "pusher_unavailable"


class StrokeTooLarge(APIException):
    """The stroke is over the Pusher event size limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The stroke is too large for one real-time event."
    default_code = "stroke_too_large"


class CanvasView(APIView):
    """Relays one stroke of a drawing to everyone on its presence channel."""

    def post(self, request, id):
        drawing = get_object_or_404(Drawing, pk=id)
        if not DrawingUser.objects.filter(drawing=drawing, user=request.user).exists():
            raise PermissionDenied("You are not a participant of this drawing.")
        serializer = StrokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            pusher_client.trigger(f"presence-drawing-{drawing.id}", "stroke", data)
        except ValueError as err:  # the pusher library's own size check
            raise StrokeTooLarge() from err
        except PusherBadStatus as err:  # "<status>: <body>"
            if str(err).startswith("413:"):
                raise StrokeTooLarge() from err
            raise PusherUnavailable() from err
        except PusherError as err:
            raise PusherUnavailable() from err
        except OSError as err:  # connection refused / timed out (requests' errors are OSErrors)
            raise PusherUnavailable() from err
        return Response(data, status=status.HTTP_200_OK)
