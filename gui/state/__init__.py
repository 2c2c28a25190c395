"""GUI state as a few small models, each named for what it holds, fed by one event bridge.

- ``ProjectState``: the open project, its classes, videos, model and undo history;
- ``CurrentVideo``: the video on screen with its labels, predictions, playhead, selection;
- ``JobRunner``: the jobs running on threads and what analysis reports;
- ``LearningState``: fine-tuning, model versions, the review queue;
- ``TeamState``: who signs the edits, the work queue, independent codings;
- ``EventBridge``: core's events as Qt signals on the GUI thread.

``AppModels`` only builds and holds them; it has no behaviour of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import QObject

from core.project import Project
from gui.state.bridge import EventBridge
from gui.state.current import CurrentVideo
from gui.state.learning import LearningState
from gui.state.project import ProjectState
from gui.state.runner import JobRunner
from gui.state.team import TeamState

__all__ = [
    "AppModels",
    "CurrentVideo",
    "EventBridge",
    "JobRunner",
    "LearningState",
    "ProjectState",
    "TeamState",
]


@dataclass
class AppModels:
    bridge: EventBridge
    project: ProjectState
    current: CurrentVideo
    runner: JobRunner
    learning: LearningState
    team: TeamState

    @classmethod
    def create(
        cls, project: Project, reserved_keys: Mapping[str, str] | None = None, parent: QObject | None = None
    ) -> AppModels:
        if reserved_keys is None:
            from gui.actions import reserved_keys as action_keys

            reserved_keys = action_keys()
        bridge = EventBridge(parent)
        runner = JobRunner(parent)
        state = ProjectState(project, bridge, runner, reserved_keys, parent)
        current = CurrentVideo(state, runner, bridge, parent)
        learning = LearningState(state, current, runner, bridge, parent)
        return cls(bridge, state, current, runner, learning, TeamState(state, parent))

    def load(self) -> None:
        """Read the project once at start-up and open the first video there is."""
        self.project.load()
        self.current.open_first()

    def shutdown(self) -> list[str]:
        """Stop every job and stop hearing other apps; the names of jobs whose thread would not stop."""
        self.project.stop_listening()
        return self.runner.shutdown()

    def close(self) -> None:
        self.project.close_all()
