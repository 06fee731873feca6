import pytest

pytestmark = pytest.mark.django_db


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == code
    assert body["detail"]
    return body


def test_unknown_api_route_is_json_404(api_client):
    _assert_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_unknown_object_is_404(client_for):
    _assert_error(client_for("finance").get("/api/v1/events/999999/"), 404, "not_found")


def test_wrong_method_is_405(client_for):
    _assert_error(client_for("finance").delete("/api/v1/users/me/"), 405, "method_not_allowed")


def test_malformed_json_is_400(client_for):
    response = client_for("integrator").post(
        "/api/v1/api-keys/", data='{"name": "x", "scopes": [', content_type="application/json"
    )
    _assert_error(response, 400, "parse_error")


def test_missing_auth_is_401(api_client):
    _assert_error(api_client.get("/api/v1/events/"), 401, "not_authenticated")


def test_wrong_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token ll_deadbeef_nope")
    _assert_error(api_client.get("/api/v1/users/me/"), 401, "authentication_failed")


def test_malformed_authorization_header_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token")
    _assert_error(api_client.get("/api/v1/users/me/"), 401, "authentication_failed")


def test_revoked_key_is_401(token_client_for):
    client = token_client_for("integrator")
    assert client.get("/api/v1/users/me/").status_code == 200
    assert client.delete(f"/api/v1/api-keys/{client.api_key.pk}/").status_code == 204
    body = _assert_error(client.get("/api/v1/users/me/"), 401, "authentication_failed")
    assert "revoked" in body["detail"]


def test_field_errors_name_the_field(client_for):
    body = _assert_error(
        client_for("integrator").post("/api/v1/api-keys/", {"scopes": ["billing:fly"]}, format="json"),
        400,
        "invalid",
    )
    assert set(body["fields"]) == {"name", "scopes"}
    assert body["detail"].startswith("name: ")


def test_role_refusal_is_403(client_for):
    _assert_error(client_for("consultant").get("/api/v1/events/"), 403, "permission_denied")


def test_unhandled_exception_is_json_500(client_for, monkeypatch):
    client = client_for("finance")
    client.raise_request_exception = False
    monkeypatch.setattr("core.api.views.UserSerializer", None)
    _assert_error(client.get("/api/v1/users/me/"), 500, "server_error")


def test_throttled_is_429(client_for, settings):
    from rest_framework.settings import api_settings

    client = client_for("finance")
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "client": "2/min"}
    monkey = pytest.MonkeyPatch()
    monkey.setattr("core.api.throttling.ClientThrottle.THROTTLE_RATES", rates)
    try:
        client.get("/api/v1/users/me/")
        client.get("/api/v1/users/me/")
        response = client.get("/api/v1/users/me/")
    finally:
        monkey.undo()
    _assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
