"""`Idempotency-Key` on POST: the first response is stored and replayed to retries of the same request.

The key row is inserted (claimed) in its own committed transaction before the view runs, so of two
concurrent requests with one key exactly one executes; the other waits for its stored response.
"""

import hashlib
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework import exceptions

from core.errors import Conflict, DomainError
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"


class IdempotentReplay(Exception):
    """Raised from `initial()` to skip the handler; carries the stored response."""

    def __init__(self, stored: IdempotencyKey):
        self.stored = stored


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def claim_key(*, user, key: str, method: str, path: str, body: bytes) -> IdempotencyKey:
    """Insert the key row, or raise IdempotentReplay / IdempotencyKeyReused / Conflict for a known key."""
    print_ = fingerprint(method, path, body)
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=print_, method=method, path=path[:500]
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:
            continue  # the first request failed and released the key: claim it now
        if existing.created_at < timezone.now() - settings.IDEMPOTENCY_KEY_TTL:
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.fingerprint != print_:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request; use a new key.",
                fields={"Idempotency-Key": ["Used before with another method, path or body."]},
            )
        if existing.status == IdempotencyKey.Status.COMPLETED:
            raise IdempotentReplay(existing)
        if time.monotonic() >= deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="idempotency_key_in_progress",
            )
        time.sleep(0.05)


def store_response(claim: IdempotencyKey, response) -> None:
    """Keep the response for replay; a server error releases the key so the client can retry."""
    if response.status_code >= 500:
        IdempotencyKey.objects.filter(pk=claim.pk).delete()
        return
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        status=IdempotencyKey.Status.COMPLETED,
        response_status=response.status_code,
        response_body=response.content.decode("utf-8", errors="replace"),
        response_content_type=response.get("Content-Type", "application/json"),
        completed_at=timezone.now(),
    )


def replayed_response(stored: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        stored.response_body, status=stored.response_status, content_type=stored.response_content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _request_body(request) -> bytes:
    try:
        return request._request.body
    except RawPostDataException:
        # A multipart body already consumed by form parsing: fingerprint its fields and files instead.
        files = sorted((name, f.name, f.size) for name, f in request._request.FILES.items())
        return repr((sorted(request._request.POST.lists()), files)).encode()


class IdempotencyMixin:
    """For DRF views: honour `Idempotency-Key` on POST after authentication, permissions and throttling."""

    _idempotency_claim = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_claim = None
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise exceptions.ValidationError(
                {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable characters."]}, code="invalid"
            )
        self._idempotency_claim = claim_key(
            user=request.user,
            key=key,
            method=request.method,
            path=request.get_full_path(),
            body=_request_body(request),
        )

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return replayed_response(exc.stored)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency_claim is not None:
            store_response(self._idempotency_claim, response)
            self._idempotency_claim = None
        return response
