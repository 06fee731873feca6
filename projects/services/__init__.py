"""Every write of the projects app, one function per business action, in the modules of this package.

The four services the CRM's win → delivery handoff calls are also importable from here; their names and
keyword arguments are a contract with the crm app and stay stable.
"""

from projects.services.people import create_resource_request
from projects.services.projects import create_milestone, create_project
from projects.services.rates import create_rate_card

__all__ = ["create_milestone", "create_project", "create_rate_card", "create_resource_request"]
