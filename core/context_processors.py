from django.urls import reverse

from core.workspaces import NAVIGATION, TOOLS, nav_links, workspace_url_name


def navigation(request):
    """The navigation bar links the signed-in user may see (none for anonymous visitors)."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return {"nav_links": [], "nav_tools": []}
    workspace_url = reverse(workspace_url_name(user))
    return {
        "nav_links": nav_links(NAVIGATION, user, request.path, workspace_url=workspace_url),
        "nav_tools": nav_links(TOOLS, user, request.path),
    }
