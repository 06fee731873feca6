"""What the projects pages share: who may open them, the context every template gets, paging."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from core.roles import Role, has_role
from core.views import role_required
from projects.access import CAPACITY_READERS, PROJECT_READERS, TIME_KEEPERS, person_of

PAGE_SIZE = 50

# The consultant's pages: anyone who keeps time (admins pass every role check).
time_keeper = role_required(*TIME_KEEPERS)
approver = role_required(Role.PROJECT_MANAGER)
project_reader = role_required(*TIME_KEEPERS, *PROJECT_READERS)
capacity_reader = role_required(*CAPACITY_READERS)


def render_page(request, template: str, context: dict, *, section: str, status: int = 200):
    user = request.user
    return render(
        request,
        template,
        {
            "section": section,
            "me": person_of(user),
            "nav_week": has_role(user, *TIME_KEEPERS),
            "nav_approvals": has_role(user, Role.PROJECT_MANAGER),
            "nav_projects": has_role(user, *TIME_KEEPERS, *PROJECT_READERS),
            "nav_capacity": has_role(user, *CAPACITY_READERS),
            **context,
        },
        status=status,
    )


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def require(condition: bool, message: str) -> None:
    if not condition:
        raise PermissionDenied(message)
