"""Import labels: choose format and options, see what would change and every problem, then commit.

The dialog only shows ``core.interchange``'s plan; planning and the one-transaction commit are
core's. Re-planning happens whenever an option changes, so the preview is always what Import
will write.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import AppError
from core.interchange import ImportOptions, ImportPlan, ImportResult, Overlap, commit_import, plan_import
from core.interchange.formats import FORMATS, format_for
from core.interchange.formats.base import Severity
from core.store import Store

ERROR_COLOUR = QColor("#b00020")
SHOWN_PROBLEMS = 200
WARNING_COLOUR = QColor("#8a6d00")


def guess_format(path: Path) -> str:
    """The likely format from a file's name; the user can always change it."""
    suffix = path.suffix.lower()
    name = path.name.lower()
    if suffix == ".eaf":
        return "eaf"
    if suffix in (".boris", ".tsv"):
        return "boris"
    if suffix == ".json":
        return "labelstudio" if "label" in name and "studio" in name else "activitynet"
    return "csv"


class ImportDialog(QDialog):
    def __init__(
        self, store: Store, files: Sequence[Path], parent: QWidget | None = None, annotator: str | None = None
    ) -> None:
        super().__init__(parent)
        self._annotator = annotator  # signs the import in the edit log
        self.setWindowTitle("Import labels")
        self.resize(760, 520)
        self._store = store
        self._files = [Path(f) for f in files]
        self.plan: ImportPlan | None = None
        self.result: ImportResult | None = None

        self.format_box = QComboBox()
        self.format_box.addItems(sorted(FORMATS))
        self.format_box.setCurrentText(guess_format(self._files[0]) if self._files else "csv")
        self.create_classes = QCheckBox("Create classes the project does not have")
        self.overlap_box = QComboBox()
        self.overlap_box.addItem("Reject the file", Overlap.REJECT)
        self.overlap_box.addItem("Merge them", Overlap.MERGE)
        self.class_map = QLineEdit()
        self.class_map.setPlaceholderText("old=new, other=background")

        form = QFormLayout()
        form.addRow("Files:", QLabel(", ".join(f.name for f in self._files)))
        form.addRow("Format:", self.format_box)
        form.addRow("Same-class overlaps:", self.overlap_box)
        form.addRow("Map classes:", self.class_map)
        form.addRow("", self.create_classes)

        self.preview = QTreeWidget()
        self.preview.setHeaderLabels(["Video", "Added", "Changed", "Skipped"])
        self.preview.setRootIsDecorated(False)
        self.problems = QListWidget()
        self.verdict = QLabel()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._commit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("What will change:"))
        layout.addWidget(self.preview, 2)
        layout.addWidget(QLabel("Problems:"))
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.verdict)
        layout.addWidget(self.buttons)

        for signal in (self.format_box.currentTextChanged, self.overlap_box.currentIndexChanged):
            signal.connect(self.replan)
        self.create_classes.toggled.connect(self.replan)
        self.class_map.editingFinished.connect(self.replan)
        self.replan()

    def options(self) -> ImportOptions:
        mapping: dict[str, str] = {}
        for pair in self.class_map.text().split(","):
            if "=" in pair:
                old, new = pair.split("=", 1)
                if old.strip() and new.strip():
                    mapping[old.strip()] = new.strip()
        return ImportOptions(
            class_map=mapping,
            create_classes=self.create_classes.isChecked(),
            overlap=Overlap(self.overlap_box.currentData()),
        )

    def replan(self) -> None:
        try:
            self.plan = plan_import(
                self._store, self._files, format_for(self.format_box.currentText()), self.options()
            )
        except AppError as exc:
            self.plan = None
            self._show_failure(str(exc))
            return
        self._show(self.plan)

    def _show(self, plan: ImportPlan) -> None:
        self.preview.clear()
        for video_plan in plan.videos:
            self.preview.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        Path(video_plan.video.path).name,
                        str(len(video_plan.added)),
                        str(len(video_plan.changed)),
                        str(len(video_plan.skipped)),
                    ]
                )
            )
        self.problems.clear()
        shown = plan.problem_lines(SHOWN_PROBLEMS)  # a hostile file can have a million; list a readable few
        for problem, line in zip(plan.problems, shown, strict=False):
            item = QListWidgetItem(line)
            colour = ERROR_COLOUR if problem.severity is Severity.ERROR else WARNING_COLOUR
            item.setForeground(QBrush(colour))
            self.problems.addItem(item)
        if len(shown) > min(len(plan.problems), SHOWN_PROBLEMS):
            self.problems.addItem(QListWidgetItem(shown[-1]))
        created = f"; new classes: {', '.join(plan.new_classes)}" if plan.new_classes else ""
        if plan.can_commit:
            self.verdict.setText(f"Ready: {plan.added} segments in {len(plan.videos)} videos{created}.")
        else:
            self.verdict.setText(
                f"{plan.error_count:,} errors: fix them or change the options; nothing is imported."
            )
        self.import_button.setEnabled(plan.can_commit and plan.added > 0)

    def _show_failure(self, message: str) -> None:
        self.preview.clear()
        self.problems.clear()
        self.problems.addItem(QListWidgetItem(message))
        self.verdict.setText("Nothing can be imported.")
        self.import_button.setEnabled(False)

    def _commit(self) -> None:
        if self.plan is None or not self.plan.can_commit:
            return
        try:
            self.result = commit_import(self._store, self.plan, self._annotator)
        except AppError as exc:
            self._show_failure(str(exc))
            return
        self.accept()
