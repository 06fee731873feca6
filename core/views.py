from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    return render(request, "core/home.html")


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from core.api.errors import json_not_found

        return json_not_found(request, exception)
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        from core.api.errors import json_server_error

        return json_server_error(request)
    return render(request, "500.html", status=500)
