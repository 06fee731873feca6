"""Available hours, as the KPIs and the dashboards read them: defined with capacity planning in
`projects.selectors.availability` (capacity on weekdays − the legal entity's holidays − time off)."""

from projects.selectors.availability import Availability, Capacity, availability

__all__ = ["Availability", "Capacity", "availability"]
