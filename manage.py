#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # manage.py is the developer's tool: without an explicit LEDGERLINE_ENV it runs locally (a generated
    # key in .secret_key). The served app (wsgi/asgi) and Celery still default to production and refuse
    # to start without SECRET_KEY; deployments set LEDGERLINE_ENV=production for manage.py too.
    os.environ.setdefault("LEDGERLINE_ENV", "local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
