"""Model › Fine-tune…: pick a transfer mode, its settings and the videos, see the time it takes.

The dialog only builds a ``TrainConfig``; ``LearningState`` runs it. Each mode's estimate is
recomputed whenever a setting or the chosen videos change.
"""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.learning.training import MODE_HELP, MODES, TrainConfig, estimate_seconds
from core.learning.training.config import Mode
from gui.state.learning import LearningState


def duration_text(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 5400:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


class FineTuneDialog(QDialog):
    def __init__(self, learning: LearningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learning = learning
        self.setWindowTitle("Fine-tune the model")
        device_type, device_label = learning.device()

        self.modes = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        self.estimates: dict[str, QLabel] = {}
        box = QGroupBox(f"Mode (estimates for {device_label})")
        box_layout = QVBoxLayout(box)
        for number, mode in enumerate(MODES):
            button = QRadioButton(mode)
            button.setObjectName(f"mode_{mode}")
            self.modes.addButton(button, number)
            self.mode_buttons[mode] = button
            help_label = QLabel(MODE_HELP[mode])
            help_label.setWordWrap(True)
            help_label.setContentsMargins(22, 0, 0, 0)
            help_label.setStyleSheet("color: palette(placeholder-text);")
            estimate = QLabel()
            estimate.setContentsMargins(22, 0, 0, 6)
            self.estimates[mode] = estimate
            for widget in (button, help_label, estimate):
                box_layout.addWidget(widget)
        if device_type == "cpu":
            box_layout.addWidget(QLabel("<i>No GPU here: full fine-tuning runs, but slowly, on the CPU.</i>"))

        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        settings = QFormLayout()
        settings.addRow("Epochs (at most; stops early):", self.epochs)
        settings.addRow("Learning rate:", self.lr)
        settings.addRow("Batch size:", self.batch)

        self.videos = QListWidget()
        self.videos.setMaximumHeight(120)
        for status in learning.labelled_videos():
            item = QListWidgetItem(f"{status.name} — {status.labelled_pct:.0f}% labelled")
            item.setData(Qt.ItemDataRole.UserRole, status.video.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.videos.addItem(item)
        active = learning.store.models.active()
        start = f"#{active.id} {active.name}" if active is not None else "a new untrained model"
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addLayout(settings)
        layout.addWidget(QLabel("Learn from these labelled videos:"))
        layout.addWidget(self.videos)
        layout.addWidget(QLabel(f"Starts from the active model, {start}."))
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)

        self.modes.idToggled.connect(self._on_mode)
        for spin in (self.epochs, self.batch):
            spin.valueChanged.connect(self._update)
        self.lr.valueChanged.connect(self._update)
        self.videos.itemChanged.connect(self._update)
        self.mode_buttons["features"].setChecked(True)
        self.resize(560, self.sizeHint().height())

    @property
    def mode(self) -> Mode:
        return MODES[max(self.modes.checkedId(), 0)]

    def video_ids(self) -> tuple[int, ...] | None:
        """The checked videos; None when all are, so the run matches the CLI's default."""
        items = [self.videos.item(i) for i in range(self.videos.count())]
        checked = [
            int(i.data(Qt.ItemDataRole.UserRole)) for i in items if i.checkState() == Qt.CheckState.Checked
        ]
        return None if len(checked) == len(items) else tuple(checked)

    def config(self) -> TrainConfig:
        return TrainConfig(
            mode=self.mode,
            epochs=self.epochs.value(),
            lr=self.lr.value(),
            batch_size=self.batch.value(),
            video_ids=self.video_ids(),
        )

    def _on_mode(self, _id: int, checked: bool) -> None:
        if not checked:
            return
        defaults = TrainConfig(self.mode).resolved()  # each mode's own epochs, rate and batch
        for widget in (self.epochs, self.lr, self.batch):
            widget.blockSignals(True)
        self.epochs.setValue(int(defaults.epochs or 1))
        self.lr.setValue(float(defaults.lr or 1e-3))
        self.batch.setValue(int(defaults.batch_size or 1))
        for widget in (self.epochs, self.lr, self.batch):
            widget.blockSignals(False)
        self._update()

    def _update(self) -> None:
        base = self.config()
        plan = self.learning.plan(base)  # reads the labels once; the other modes reuse its count
        device_type = self.learning.device()[0]
        for mode in MODES:
            if mode == base.mode:
                seconds = plan.seconds
            else:
                cfg = replace(TrainConfig(mode), video_ids=base.video_ids)
                seconds = math.nan if plan.problem else estimate_seconds(cfg, plan.windows, device_type)
            self.estimates[mode].setText(f"<small>{duration_text(seconds)} here</small>")
        if plan.problem:
            self.summary.setText(f"<b style='color:#d00000'>{plan.problem}</b>")
        else:
            self.summary.setText(
                f"{plan.windows} labelled windows in {plan.videos} video(s); "
                f"{base.mode} takes {duration_text(plan.seconds)} at most.<br>"
                f"Validation holds out whole events and rests on {plan.events}: the fewer "
                "there are, the less certain its score."
            )
        self.start.setEnabled(not plan.problem and base.video_ids != ())
