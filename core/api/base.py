"""Base classes for every API view: idempotent POSTs, the house error body, scoped keys."""

from rest_framework import generics, mixins, views, viewsets

from core.api.idempotency import IdempotencyMixin
from core.api.pagination import CursorPagination


class APIView(IdempotencyMixin, views.APIView):
    pass


class GenericAPIView(IdempotencyMixin, generics.GenericAPIView):
    pass


class ListAPIView(IdempotencyMixin, generics.ListAPIView):
    pass


class GenericViewSet(IdempotencyMixin, viewsets.GenericViewSet):
    pass


class ServiceViewSet(GenericViewSet):
    """An app's resource viewset: writes go through services; reads through `visible()`, the queryset
    this requester may see; `reread()` renders an object the way the list shows it after a write."""

    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.visible()

    def visible(self):
        return self.model.objects.all()

    def reread(self, obj):
        return self.visible().get(pk=obj.pk)


def cursor_pagination(*fields: str) -> type[CursorPagination]:
    """Cursor pagination ordered by `fields` (the last one unique, so pages are stable)."""
    return type("OrderedCursorPagination", (CursorPagination,), {"ordering": fields})


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
    "ServiceViewSet",
    "cursor_pagination",
    "mixins",
]
