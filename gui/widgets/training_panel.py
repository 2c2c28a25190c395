"""The Training dock: live loss and validation macro-F1, progress, time left and Cancel.

It renders what ``LearningState`` collects from the run's progress records; the run itself
is on a worker thread, so labelling goes on meanwhile.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.learning.training import TrainingProgress, TrainingResult
from core.learning.training.closed_form import val_events_text
from gui.state.learning import LearningState

LOSS_COLOR = "#4da6ff"
F1_COLOR = "#ffb000"


class TrainingPanel(QWidget):
    def __init__(self, learning: LearningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learning = learning
        self.status = QLabel("No training run yet: Model › Fine-tune…")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        self.left = QLabel()
        self._result_id: int | None = None  # the model the last run in this session made
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(learning.cancel_training)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(120)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "epoch")
        self.plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen(LOSS_COLOR, width=1), name="loss")
        self.f1_curve = self.plot.plot(
            [], [], pen=pg.mkPen(F1_COLOR, width=1), symbol="o", symbolSize=5, symbolBrush=F1_COLOR,
            name="val macro-F1",
        )  # fmt: skip

        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.left)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)

        learning.project.model_changed.connect(self._on_model)
        learning.training_progress.connect(self._on_progress)
        learning.training_finished.connect(self._on_finished)
        learning.runner.jobs.changed.connect(self._on_jobs)
        self._on_model()

    def _on_model(self) -> None:
        """Between runs the panel names the active model, so a restart does not forget it."""
        model = self.learning.project.model
        if self.learning.training or (model is not None and model.id == self._result_id):
            return  # the run's own report is more detailed
        if model is None:
            self.status.setText("No training run yet: Model › Fine-tune…")
        elif model.untrained:
            self.status.setText(f"Model #{model.id} is untrained: Model › Fine-tune… on your labels.")
        else:
            text = (
                f"Model #{model.id} {model.name}" + (f" ({model.mode})" if model.mode else "") + " is active"
            )
            f1 = model.metrics.get("val_macro_f1")
            if isinstance(f1, int | float) and math.isfinite(f1):
                text += f": val macro-F1 {f1:.3f}"
            self.status.setText(text + ".")

    def points(self) -> int:
        """Points plotted so far (loss and metric together)."""
        return len(self.learning.loss_points) + len(self.learning.f1_points)

    def _on_jobs(self) -> None:
        running = self.learning.training
        if running and not self.cancel.isEnabled():
            self.loss_curve.setData([], [])
            self.f1_curve.setData([], [])
            self.bar.setRange(0, 0)  # busy until the first progress record
            self.left.setText("")
            self.status.setText("Loading the model and the training set…")
        self.cancel.setEnabled(running)

    def _on_progress(self, item: object) -> None:
        if not isinstance(item, TrainingProgress):
            return
        if item.phase in ("train", "validate") and item.epochs > 0 and item.epoch > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * item.fraction))
            eta = item.eta_s
            self.left.setText("" if math.isnan(eta) else f"{eta:.0f} s left")
            text = f"Epoch {item.epoch}/{item.epochs}, step {item.step}/{item.steps}"
            if math.isfinite(item.loss):
                text += f" — loss {item.loss:.3f}"
            if math.isfinite(item.val_macro_f1):
                text += f", val macro-F1 {item.val_macro_f1:.3f}"
            self.status.setText(text)
        else:
            self.bar.setRange(0, 0)
            self.status.setText(item.message.capitalize() or item.phase)
        if item.message and item.phase == "train" and item.epoch == 0:
            self.status.setText(item.message)
        for curve, points in (
            (self.loss_curve, self.learning.loss_points),
            (self.f1_curve, self.learning.f1_points),
        ):
            if points:
                xs, ys = zip(*points, strict=True)
                curve.setData(list(xs), list(ys))

    def _on_finished(self, result: object) -> None:
        self.bar.setRange(0, 1000)
        self.left.setText("")
        self.cancel.setEnabled(False)
        if isinstance(result, TrainingResult):
            self._result_id = result.version.id
            self.bar.setValue(1000)
            m = result.metrics
            early = " (stopped early)" if result.stopped_early else ""
            rests_on = val_events_text(m)
            f1, epochs = m.get("val_macro_f1", math.nan), m.get("epochs_run", 0)
            validation = (
                f"validation {rests_on}" if rests_on else f"val macro-F1 {f1:.3f}, {epochs} epochs{early}"
            )
            self.status.setText(
                f"Model #{result.version.id} ({result.version.mode}) is active: {validation}, "
                f"{result.seconds:.1f} s."
            )
        else:
            self.bar.setValue(0)
            self.status.setText("Training stopped: no new model was registered.")
