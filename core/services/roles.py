"""Role groups and user creation: the writes behind `create_user` and the admin."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from core import audit
from core.errors import ValidationFailed
from core.roles import ROLE_PERMISSIONS, Role


def _permission_filter(specs: list[str]) -> Q | None:
    query = None
    for spec in specs:
        app_label, _, codename = spec.partition(".")
        clause = Q(content_type__app_label=app_label)
        if codename != "*":
            clause &= Q(codename=codename)
        query = clause if query is None else query | clause
    return query


def sync_role_groups(*, using: str = "default") -> None:
    """Create a group per role and set its permissions to exactly those in ROLE_PERMISSIONS."""
    for role, specs in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        query = _permission_filter(specs)
        permissions = Permission.objects.using(using).filter(query) if query is not None else []
        group.permissions.set(permissions)


def parse_roles(value: str | list[str]) -> list[str]:
    names = [r.strip() for r in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]
    unknown = sorted(set(names) - set(Role.values))
    if unknown:
        raise ValidationFailed(
            f"Unknown role(s): {', '.join(unknown)}. Known roles: {', '.join(Role.values)}.",
            fields={"roles": [f"Unknown role '{u}'." for u in unknown]},
        )
    return names


@transaction.atomic
def set_user_roles(*, actor, user, roles: list[str]):
    """Replace the user's role groups with `roles` (other groups are kept)."""
    roles = parse_roles(roles)
    before = sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    user.groups.remove(*Group.objects.filter(name__in=Role.values).exclude(name__in=roles))
    user.groups.add(*(Group.objects.get_or_create(name=role)[0] for role in roles))
    user.__dict__.pop("_ledgerline_roles", None)
    # The admin role maintains master data in the Django admin site, which requires staff status.
    if user.is_staff != (Role.ADMIN in roles) and not user.is_superuser:
        user.is_staff = Role.ADMIN in roles
        user.save(update_fields=["is_staff"])
    after = sorted(roles)
    if before != after:
        audit.record(actor=actor, action="user.roles_changed", obj=user, changes={"roles": [before, after]})
    return user


@transaction.atomic
def create_user(
    *,
    actor,
    username: str,
    password: str | None,
    roles: list[str],
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    validate: bool = True,
):
    """Create a user with `roles`. Without a password the account cannot sign in (API keys only)."""
    User = get_user_model()
    roles = parse_roles(roles)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed(f"A user named '{username}' already exists.", fields={"username": ["Taken."]})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        if validate:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise ValidationFailed(" ".join(exc.messages), fields={"password": exc.messages}) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit.record(actor=actor, action="user.created", obj=user, changes={"roles": sorted(roles)})
    set_user_roles(actor=actor, user=user, roles=roles)
    return user
