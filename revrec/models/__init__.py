from revrec.models.obligations import Allocation, PerformanceObligation
from revrec.models.runs import RevenueRun, RevenueRunContract
from revrec.models.schedules import RevenueScheduleLine

__all__ = ["Allocation", "PerformanceObligation", "RevenueRun", "RevenueRunContract", "RevenueScheduleLine"]
