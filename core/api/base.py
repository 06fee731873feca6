"""Base classes for every API view: idempotent POSTs, the house error body, scoped keys."""

from rest_framework import generics, mixins, views, viewsets

from core.api.idempotency import IdempotencyMixin


class APIView(IdempotencyMixin, views.APIView):
    pass


class GenericAPIView(IdempotencyMixin, generics.GenericAPIView):
    pass


class ListAPIView(IdempotencyMixin, generics.ListAPIView):
    pass


class GenericViewSet(IdempotencyMixin, viewsets.GenericViewSet):
    pass


class ReadOnlyModelViewSet(IdempotencyMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ModelViewSet(IdempotencyMixin, viewsets.ModelViewSet):
    pass


__all__ = [
    "APIView",
    "GenericAPIView",
    "GenericViewSet",
    "ListAPIView",
    "ModelViewSet",
    "ReadOnlyModelViewSet",
    "mixins",
]
