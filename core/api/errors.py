"""Every API error as `{"code", "detail", "fields"}`: DRF exceptions, domain errors, 404/405 and 500."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import DomainError

logger = logging.getLogger("ledgerline.api")


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    return {"code": code, "detail": detail, "fields": fields or {}}


def _first_message(fields) -> tuple[str, str] | None:
    """(path, message) of the first leaf message in nested field errors, for the human sentence."""
    if isinstance(fields, dict):
        for key, value in fields.items():
            found = _first_message(value)
            if found:
                path, message = found
                return (f"{key}.{path}" if path else str(key)), message
    elif isinstance(fields, list):
        for index, value in enumerate(fields):
            if isinstance(value, (dict, list)):
                found = _first_message(value)
                if found:
                    path, message = found
                    return (f"{index}.{path}" if path else str(index)), message
            elif value:
                return "", str(value)
    elif fields:
        return "", str(fields)
    return None


def _validation_response(detail) -> Response:
    fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    first = _first_message(fields)
    if first is None:
        sentence = "The request is invalid."
    elif first[0] in ("", "non_field_errors") or first[0].startswith("non_field_errors."):
        sentence = first[1]
    else:
        sentence = f"{first[0]}: {first[1]}"
    return Response(error_body("invalid", sentence, fields), status=status.HTTP_400_BAD_REQUEST)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.detail, exc.fields), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return _validation_response(detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(exc.detail)
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)

    set_rollback()
    request = context.get("request")
    logger.exception("Unhandled API error on %s", getattr(request, "path", "?"))
    return Response(
        error_body("server_error", "Something went wrong on our side; the error has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"No API route matches {request.path}."), status=404)


def json_server_error(request):
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; the error has been logged."), status=500
    )
