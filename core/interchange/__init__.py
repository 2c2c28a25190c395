"""Importing labels from other tools: plan (preview and problems), then commit in one transaction.

Typical use, by the CLI and the GUI's Import dialog alike::

    plan = plan_import(store, files, format_for("boris"), ImportOptions(create_classes=True))
    show(plan.videos, plan.problems)      # added / changed / skipped per video, problems by line
    if plan.can_commit:
        commit_import(store, plan)
"""

from core.interchange.commit import ImportResult, commit_import
from core.interchange.plan import ImportOptions, ImportPlan, Overlap, PlannedSegment, VideoPlan, plan_import

__all__ = [
    "ImportOptions",
    "ImportPlan",
    "ImportResult",
    "Overlap",
    "PlannedSegment",
    "VideoPlan",
    "commit_import",
    "plan_import",
]
