"""Team mode in the app: who signs the edits, the work queue (claim the next video, mark one
labelled or reviewed) and independent codings (save mine, use one as the reference).

Claims and work states are not label edits, so they are not on the undo stack; saving a
coding that clears the labels, and using a coding, are, each as one undo step.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from core.project import actions
from core.store.work import WorkState
from gui.state.project import ProjectState

log = logging.getLogger(__name__)


class TeamState(QObject):
    annotator_changed = Signal()  # who signs the edits from now on

    def __init__(self, state: ProjectState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state

    @property
    def annotator(self) -> str:
        return self.state.project.annotator

    def set_annotator(self, name: str) -> None:
        self.state.project.annotator = name
        self.annotator_changed.emit()
        self.state.message.emit(f"Your edits are now signed {name}.")

    def next_to_label(self) -> None:
        """Claim the next video nobody has claimed (or your own unfinished one) and open it."""
        project = self.state.project
        claimed = self.state.guard(lambda: project.store.work.claim_next(project.annotator))
        if claimed is None:
            self.state.message.emit("Nothing left to label: every video is claimed or done.")
            return
        self.state.open_requested.emit(claimed.video_id, True)
        self.state.message.emit(f"Video {claimed.video_id} is yours to label ({project.annotator}).")

    def mark(self, video_id: int | None, work: WorkState) -> None:
        """Move the open video on (labelled, reviewed) or back to the queue."""
        if video_id is None:
            self.state.message.emit("Open a video first.")
            return
        project = self.state.project
        done = self.state.guard(lambda: project.store.work.set_state(video_id, work, project.annotator))
        if done is None:
            return
        follow = "; Ctrl+Shift+N takes the next one" if work is WorkState.LABELLED else ""
        self.state.message.emit(f"Video {video_id} marked {work.value.replace('_', ' ')}{follow}.")

    def save_coding(self, video_id: int, clear: bool = False) -> bool:
        """Keep the video's labels as this annotator's coding (clearing them: one undo step)."""
        if not self.state.apply(lambda: actions.save_coding(self.state.project, video_id, clear)):
            return False
        cleared = " and cleared the labels for the next coder" if clear else ""
        self.state.message.emit(f"Saved {self.annotator}'s coding of video {video_id}{cleared}.")
        return True

    def use_coding(self, video_id: int, coder: str) -> bool:
        """Make ``coder``'s coding the video's labels (the reference): one undo step."""
        if not self.state.apply(lambda: actions.use_coding(self.state.project, video_id, coder)):
            return False
        self.state.message.emit(f"Video {video_id} now holds {coder}'s coding (Undo takes it back).")
        return True
