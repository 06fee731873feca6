"""Demo firm, part one: a user for every role with a known password. Other apps add their own `demo.py`."""

from django.contrib.auth import get_user_model

from core.roles import Role
from core.services.roles import create_user, set_user_roles

DEMO_PASSWORD = "ledgerline-demo"  # noqa: S105 - printed for the demo, documented in the README

DEMO_USERS = [
    ("admin", "Avery", "Admin", [Role.ADMIN]),
    ("finance", "Farah", "Finch", [Role.FINANCE]),
    ("executive", "Elliot", "Easton", [Role.EXECUTIVE]),
    ("pm", "Priya", "Mendes", [Role.PROJECT_MANAGER]),
    ("rm", "Rafael", "Moreau", [Role.RESOURCE_MANAGER]),
    ("consultant", "Chloe", "Novak", [Role.CONSULTANT]),
    ("integrator", "Ines", "Grant", [Role.INTEGRATOR]),
]


def load(ctx) -> None:
    User = get_user_model()
    for username, first, last, roles in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = create_user(
                actor=None,
                username=username,
                password=DEMO_PASSWORD,
                roles=list(roles),
                email=f"{username}@demo.ledgerline.invalid",
                first_name=first,
                last_name=last,
                validate=False,
            )
            if Role.ADMIN in roles:
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
        else:
            set_user_roles(actor=None, user=user, roles=list(roles))
        ctx.logins.append((username, ", ".join(Role(r).label for r in roles), DEMO_PASSWORD))
