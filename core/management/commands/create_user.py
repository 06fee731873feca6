import getpass

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.services.roles import create_user


class Command(BaseCommand):
    help = "Create a user with roles, e.g. create_user alice --roles finance,executive"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--roles", required=True, help="Comma-separated: consultant, project_manager, …")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--password", help="Omit to be prompted; --no-password for an API-only account.")
        parser.add_argument("--no-password", action="store_true", help="No sign-in; API keys only.")
        parser.add_argument("--superuser", action="store_true", help="Also give Django admin site access.")

    def handle(self, *args, username, roles, password, no_password, superuser, **options):
        if not password and not no_password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            user = create_user(
                actor=None,
                username=username,
                password=None if no_password else password,
                roles=roles,
                email=options["email"],
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        if superuser:
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        self.stdout.write(self.style.SUCCESS(f"Created {user.username} with roles: {', '.join(user.roles)}"))
