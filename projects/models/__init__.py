from .capacity import Holiday, Practice, TimeOff
from .expenses import Expense
from .people import Person, PersonSkill, Skill
from .projects import Assignment, Milestone, Project, RequestedSkill, ResourceRequest, Task
from .rates import CostRate, ProjectRateOverride, RateCard, RateCardRate, Role
from .time import MissingTimeReminder, TimeEntry, Timesheet

__all__ = [
    "Assignment",
    "CostRate",
    "Expense",
    "Holiday",
    "Milestone",
    "MissingTimeReminder",
    "Person",
    "PersonSkill",
    "Practice",
    "Project",
    "ProjectRateOverride",
    "RateCard",
    "RateCardRate",
    "RequestedSkill",
    "ResourceRequest",
    "Role",
    "Skill",
    "Task",
    "TimeOff",
    "TimeEntry",
    "Timesheet",
]
