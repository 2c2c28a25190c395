"""The open project as an evented model: one unit of work per action, then events naming what changed."""

from core.project.events import EventEmitter, ProjectEvents
from core.project.project import Project, Undoable, open_project

__all__ = ["EventEmitter", "Project", "ProjectEvents", "Undoable", "open_project"]
