"""The product's URLs plus ``/bench/constant``: the floor of the polling benchmark.

A DRF view that answers a constant JSON object with no authentication, permission,
throttle or database work, served by the same gunicorn and middleware as the API:
what any DRF request costs here before it does anything.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.urls import urlpatterns as product_urls


class ConstantView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


urlpatterns = [path("bench/constant", ConstantView.as_view()), *product_urls]
