"""Every menu action with its keys, in one table, so menus and the shortcuts dialog agree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class ActionSpec:
    name: str
    menu: str
    text: str
    keys: tuple[str, ...] = ()
    tip: str = ""


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("add_videos", "File", "Add videos…", ("Ctrl+O",)),
    ActionSpec("add_folder", "File", "Add a folder of videos…", ("Ctrl+Shift+O",)),
    ActionSpec("open_project", "File", "Open project…", tip="Open or create a project (.sqlite3 file)"),
    ActionSpec("open_project_url", "File", "Open project from a database URL…"),
    ActionSpec("open_demo", "File", "Open the demo"),
    ActionSpec(
        "next_to_label",
        "File",
        "Next video to label",
        ("Ctrl+Shift+N",),
        tip="Claim the next unclaimed video",
    ),
    ActionSpec("mark_labelled", "File", "Mark this video labelled"),
    ActionSpec("mark_reviewed_video", "File", "Mark this video reviewed"),
    ActionSpec("annotator", "File", "Annotator name…", tip="Who signs your edits in a shared project"),
    ActionSpec("import_labels", "File", "Import labels…", ("Ctrl+I",)),
    ActionSpec("export_video", "File", "Export labels (this video)…", ("Ctrl+E",)),
    ActionSpec("export_project", "File", "Export labels (whole project)…", ("Ctrl+Shift+E",)),
    ActionSpec("quit", "File", "Quit", ("Ctrl+Q",)),
    ActionSpec("undo", "Edit", "Undo", ("Ctrl+Z",)),
    ActionSpec("redo", "Edit", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    ActionSpec("in_point", "Edit", "Set in point", ("I",)),
    ActionSpec("out_point", "Edit", "Set out point (label in…out)", ("O",)),
    ActionSpec("delete", "Edit", "Delete selected label", ("Delete", "Backspace")),
    ActionSpec("split", "Edit", "Split at playhead (selects the part after it)", ("S",)),
    ActionSpec("merge", "Edit", "Merge with next segment", ("M",)),
    ActionSpec("notes", "Edit", "Modifiers and comment of the selected label…"),
    ActionSpec("select_none", "Edit", "Select nothing; keyboard back to the player", ("Escape",)),
    ActionSpec("accept_event", "Edit", "Accept selected predicted event", ("A",)),
    ActionSpec("accept_visible", "Edit", "Accept predicted events in view", ("Shift+A",)),
    ActionSpec("fill_visible", "Edit", "Fill unlabelled frames in view from predictions", ("Ctrl+Shift+A",)),
    ActionSpec("reviewed", "Edit", "Mark range in view as reviewed (gaps → background)", ("R",)),
    ActionSpec("classes", "Edit", "Label classes…", ("Ctrl+K",)),
    ActionSpec("tracks", "Edit", "Tracks…", ("Ctrl+Shift+K",)),
    ActionSpec("play", "Play", "Play / pause", ("Space",)),
    ActionSpec("step_back", "Play", "Step back one frame", ("Left", ",")),
    ActionSpec("step_forward", "Play", "Step forward one frame", ("Right", ".")),
    ActionSpec("jump_back", "Play", "Jump back N frames", ("Shift+Left",)),
    ActionSpec("jump_forward", "Play", "Jump forward N frames", ("Shift+Right",)),
    ActionSpec("jump_back_s", "Play", "Jump back N seconds", ("Ctrl+Left",)),
    ActionSpec("jump_forward_s", "Play", "Jump forward N seconds", ("Ctrl+Right",)),
    ActionSpec("prev_boundary", "Play", "Previous segment boundary", ("PgUp", "[")),
    ActionSpec("next_boundary", "Play", "Next segment boundary", ("PgDown", "]")),
    ActionSpec("first", "Play", "First frame", ("Home",)),
    ActionSpec("last", "Play", "Last frame", ("End",)),
    ActionSpec("go_to", "Play", "Go to frame or time…", ("Ctrl+G",)),
    ActionSpec("slower", "Play", "Slower", ("Ctrl+Down",)),
    ActionSpec("faster", "Play", "Faster", ("Ctrl+Up",)),
    ActionSpec("jump_sizes", "Play", "Jump sizes…"),
    ActionSpec("zoom_in", "View", "Zoom timeline in", ("+", "=")),
    ActionSpec("zoom_out", "View", "Zoom timeline out", ("-",)),
    ActionSpec("zoom_all", "View", "Show the whole video", ("Ctrl+0",)),
    ActionSpec("next_track", "View", "Next track (class keys label it)", ("Alt+Down",)),
    ActionSpec("previous_track", "View", "Previous track", ("Alt+Up",)),
    ActionSpec("analyse_selected", "Analyse", "Analyse selected videos", ("Ctrl+R",)),
    ActionSpec("analyse_all", "Analyse", "Analyse all videos", ("Ctrl+Shift+R",)),
    ActionSpec("analyse_cluster", "Analyse", "Analyse on a cluster…"),
    ActionSpec("cancel_analysis", "Analyse", "Cancel analysis"),
    ActionSpec("next_review", "Analyse", "Next to review (most informative place first)", ("N",)),
    ActionSpec("fine_tune", "Model", "Fine-tune on your labels…", ("Ctrl+T",)),
    ActionSpec("cancel_training", "Model", "Cancel training"),
    ActionSpec("import_weights", "Model", "Import weights (checkpoint or Sports-1M port)…"),
    ActionSpec("clear_cache", "Model", "Clear feature cache"),
    ActionSpec(
        "agreement", "Model", "Agreement between coders…", tip="Kappa and segment F1 per pair of coders"
    ),
    ActionSpec("shortcuts", "Help", "Keyboard shortcuts", ("F1",)),
)

MENUS = ("File", "Edit", "Play", "View", "Analyse", "Model", "Help")


def build_actions(parent: QWidget, slots: dict[str, Callable[[], object]]) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.name)
        if spec.keys:
            action.setShortcuts([QKeySequence(k) for k in spec.keys])
            action.setToolTip(f"{spec.text} ({', '.join(spec.keys)})")  # the transport buttons show it
        action.triggered.connect(slots[spec.name])
        parent.addAction(action)  # shortcuts work wherever focus is in the window
        actions[spec.name] = action
    return actions


def shortcut_rows(class_keys: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(keys, action, menu) for every action with keys, then the class keys."""
    rows = [(", ".join(spec.keys), spec.text, spec.menu) for spec in SPECS if spec.keys]
    rows += [(key, f"Label selection as / draw with “{name}”", "Classes") for key, name in class_keys]
    rows += [
        ("Left drag (labels lane)", "Create a segment in the current class", "Timeline"),
        ("Left drag on an edge / body", "Resize / move a segment", "Timeline"),
        ("Click", "Seek and select the segment or predicted event there", "Timeline"),
        ("Wheel / middle drag", "Zoom / pan the timeline", "Timeline"),
    ]
    return rows


def reserved_keys() -> dict[str, str]:
    """Every action key with its action's name: a label class may not take one of these."""
    return {key: spec.text for spec in SPECS for key in spec.keys}
