import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from core.models import ApiKey, AuditEvent, User
from core.roles import ROLE_PERMISSIONS, Role, has_role, require_role
from core.services.api_keys import create_api_key, revoke_api_key
from core.services.roles import create_user, set_user_roles

pytestmark = pytest.mark.django_db


def test_every_role_has_a_group_with_its_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)
    finance = Group.objects.get(name=Role.FINANCE)
    codes = {
        f"{p.content_type.app_label}.{p.codename}" for p in finance.permissions.select_related("content_type")
    }
    assert codes == set(ROLE_PERMISSIONS[Role.FINANCE])
    admin_codes = Group.objects.get(name=Role.ADMIN).permissions.filter(content_type__app_label="core")
    assert admin_codes.filter(codename="change_apikey").exists()


def test_role_checks(make_user):
    consultant = make_user(Role.CONSULTANT)
    admin = make_user(Role.ADMIN)
    assert has_role(consultant, Role.CONSULTANT)
    assert not has_role(consultant, Role.FINANCE)
    assert has_role(admin, Role.FINANCE)  # admins pass every role check
    with pytest.raises(PermissionDenied, match="finance"):
        require_role(consultant, Role.FINANCE)


def test_create_user_with_roles_is_audited():
    user = create_user(
        actor=None, username="alice", password="s3cure-enough-pass", roles=["finance", "executive"]
    )
    assert user.roles == ["executive", "finance"]
    assert user.check_password("s3cure-enough-pass")
    assert AuditEvent.objects.filter(object_id=str(user.pk), action="user.created").exists()


def test_create_user_refuses_unknown_role_and_writes_nothing():
    with pytest.raises(ValidationFailed, match="Unknown role"):
        create_user(actor=None, username="bob", password="s3cure-enough-pass", roles=["wizard"])
    assert not User.objects.filter(username="bob").exists()


def test_create_user_refuses_weak_password():
    with pytest.raises(ValidationFailed) as exc:
        create_user(actor=None, username="carol", password="123", roles=["consultant"])
    assert "password" in exc.value.fields
    assert not User.objects.filter(username="carol").exists()


def test_set_user_roles_replaces_roles_and_keeps_other_groups(make_user):
    user = make_user(Role.CONSULTANT)
    other = Group.objects.create(name="newsletter")
    user.groups.add(other)
    set_user_roles(actor=None, user=user, roles=[Role.PROJECT_MANAGER])
    assert set(user.groups.values_list("name", flat=True)) == {"project_manager", "newsletter"}
    change = AuditEvent.objects.get(action="user.roles_changed", object_id=str(user.pk))
    assert change.changes == {"roles": [["consultant"], ["project_manager"]]}


def test_create_user_command(capsys):
    call_command("create_user", "dora", "--roles", "finance", "--password", "another-long-secret")
    assert User.objects.get(username="dora").roles == ["finance"]
    assert "Created dora" in capsys.readouterr().out


def test_api_key_is_hashed_shown_once_and_scoped(make_user):
    user = make_user(Role.INTEGRATOR)
    issued = create_api_key(actor=user, user=user, name="erp-sync", scopes=["billing:read", "core:write"])
    stored = ApiKey.objects.get(pk=issued.api_key.pk)
    assert issued.key.startswith(f"ll_{stored.prefix}_")
    assert issued.key not in (stored.key_hash, stored.prefix)
    assert stored.allows("billing", "read") and not stored.allows("billing", "write")
    assert stored.allows("core", "read") and stored.allows("core", "write")
    assert AuditEvent.objects.filter(action="api_key.created", object_id=str(stored.pk)).exists()


def test_api_key_validation(make_user):
    user = make_user(Role.INTEGRATOR)
    with pytest.raises(ValidationFailed, match="scope"):
        create_api_key(actor=user, user=user, name="x", scopes=[])
    with pytest.raises(ValidationFailed, match="Unknown scope"):
        create_api_key(actor=user, user=user, name="x", scopes=["ledger:admin"])
    create_api_key(actor=user, user=user, name="dup", scopes=["core:read"])
    with pytest.raises(ValidationFailed, match="already have a key named"):
        create_api_key(actor=user, user=user, name="dup", scopes=["core:read"])
    assert ApiKey.objects.filter(user=user).count() == 1


def test_revoking_twice_is_invalid(make_user):
    user = make_user(Role.INTEGRATOR)
    issued = create_api_key(actor=user, user=user, name="k", scopes=["core:read"])
    revoke_api_key(actor=user, api_key=issued.api_key, reason="rotated")
    with pytest.raises(InvalidTransition):
        revoke_api_key(actor=user, api_key=issued.api_key)


def test_scope_enforced_per_area_and_level(token_client_for):
    read_only = token_client_for(Role.INTEGRATOR, scopes=("core:read",))
    assert read_only.get("/api/v1/users/me/").status_code == 200
    response = read_only.post("/api/v1/api-keys/", {"name": "n", "scopes": ["core:read"]}, format="json")
    assert response.status_code == 403
    assert "core:write" in response.json()["detail"]
    no_core = token_client_for(Role.INTEGRATOR, scopes=("billing:read",))
    assert no_core.get("/api/v1/users/me/").status_code == 403


def test_key_of_an_inactive_user_is_refused(token_client_for):
    client = token_client_for(Role.INTEGRATOR)
    User.objects.filter(pk=client.user.pk).update(is_active=False)
    assert client.get("/api/v1/users/me/").status_code == 401


def test_last_used_is_recorded(token_client_for):
    client = token_client_for(Role.INTEGRATOR)
    assert client.get("/api/v1/users/me/").status_code == 200
    assert ApiKey.objects.get(pk=client.api_key.pk).last_used_at is not None


def test_api_key_list_shows_only_own_keys_without_secret(token_client_for):
    mine, theirs = token_client_for(Role.INTEGRATOR), token_client_for(Role.INTEGRATOR)
    rows = mine.get("/api/v1/api-keys/").json()["results"]
    assert [r["id"] for r in rows] == [mine.api_key.pk]
    assert "key" not in rows[0] and "key_hash" not in rows[0]
    assert mine.get(f"/api/v1/api-keys/{theirs.api_key.pk}/").status_code == 404


ROLE_MATRIX = [
    ("/api/v1/events/", {Role.FINANCE, Role.EXECUTIVE, Role.INTEGRATOR, Role.ADMIN}),
    ("/api/v1/audit-events/", {Role.FINANCE, Role.EXECUTIVE, Role.ADMIN}),
    ("/api/v1/users/me/", set(Role.values)),
    ("/api/v1/api-keys/", set(Role.values)),
]


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("url", "allowed"), ROLE_MATRIX)
def test_read_matrix(client_for, role, url, allowed):
    expected = 200 if role in allowed else 403
    assert client_for(role).get(url).status_code == expected
