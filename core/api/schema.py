"""drf-spectacular: the API-key auth scheme and the conventions every operation shares."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Machine-readable error code."},
        "detail": {"type": "string", "description": "A sentence for people."},
        "fields": {"type": "object", "additionalProperties": True, "description": "Errors per input field."},
    },
    "required": ["code", "detail", "fields"],
}

IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Makes a retry safe: the same key and body replay the first response; "
    "the same key with another body is refused with 422.",
}

_ERRORS = {
    "400": "Invalid input.",
    "401": "Not authenticated.",
    "403": "Not permitted.",
    "404": "Not found.",
    "409": "Not allowed in the object's current state, or a request with this key is in progress.",
    "422": "Idempotency-Key reused with a different request.",
    "429": "Too many requests.",
}


def add_conventions(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = ["401", "403", "429"]
            # An object that is not there or not yours, or a `?format=` the endpoint does not offer.
            if "{" in path or any(
                parameter.get("name") == "format" for parameter in operation.get("parameters", [])
            ):
                codes.append("404")
            query = any(parameter.get("in") == "query" for parameter in operation.get("parameters", []))
            # A write's body, or a read's filters and report parameters, can be invalid.
            if method in ("post", "put", "patch") or query:
                codes.append("400")
            if method == "post":
                codes += ["409", "422"]
                operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
            for code in codes:
                responses.setdefault(code, {"description": _ERRORS[code], "content": ref})
    return result


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.authentication.ApiKeyAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, an API key created under /api/v1/api-keys/ or in the browser.",
        }
