import pytest

pytestmark = pytest.mark.django_db


def test_me_requires_authentication(api_client):
    response = api_client.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_me_with_token(token_client_for):
    client = token_client_for("finance")
    body = client.get("/api/v1/users/me/").json()
    assert body["username"] == client.user.username
    assert body["roles"] == ["finance"]
