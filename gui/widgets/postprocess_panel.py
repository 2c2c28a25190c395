"""Per-class post-processing controls; every change re-derives the predicted events at once."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from core.analysis.postprocess import PostprocessParams
from gui.state import CurrentVideo


class PostprocessPanel(QWidget):
    def __init__(self, state: CurrentVideo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._loading = False
        self.class_box = QComboBox()
        self.smoothing = QSpinBox()
        self.smoothing.setRange(1, 301)
        self.smoothing.setSingleStep(2)
        self.smoothing.setSuffix(" frames")
        self.open_threshold = QDoubleSpinBox()
        self.close_threshold = QDoubleSpinBox()
        for box in (self.open_threshold, self.close_threshold):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(3)
        self.min_length = QSpinBox()
        self.min_length.setRange(1, 100000)
        self.min_length.setSuffix(" frames")
        self.fill_gaps = QSpinBox()
        self.fill_gaps.setRange(0, 100000)
        self.fill_gaps.setSuffix(" frames")
        form = QFormLayout(self)
        form.addRow("Class", self.class_box)
        form.addRow("Smoothing", self.smoothing)
        form.addRow("Open at ≥", self.open_threshold)
        form.addRow("Close below", self.close_threshold)
        form.addRow("Min length", self.min_length)
        form.addRow("Fill gaps ≤", self.fill_gaps)
        self.class_box.currentIndexChanged.connect(self._load)
        for spin in (self.smoothing, self.min_length, self.fill_gaps):
            spin.valueChanged.connect(self._apply)
        for dspin in (self.open_threshold, self.close_threshold):
            dspin.valueChanged.connect(self._apply)
        state.predictions_changed.connect(self._classes)
        self._classes()

    def _classes(self) -> None:
        preds = self.state.predictions
        names = [] if preds is None else list(preds.class_names)
        current = [self.class_box.itemText(i) for i in range(self.class_box.count())]
        if names == current:
            return
        self._loading = True
        self.class_box.clear()
        for index, name in enumerate(names):
            if preds is not None and index != preds.background_index:
                self.class_box.addItem(name, index)
        self._loading = False
        self.setEnabled(self.class_box.count() > 0)
        self._load()

    def _load(self) -> None:
        index = self.class_box.currentData()
        if index is None:
            return
        params = self.state.params.get(int(index), PostprocessParams())
        self._loading = True
        self.smoothing.setValue(params.smoothing)
        self.open_threshold.setValue(params.open_threshold)
        self.close_threshold.setValue(params.close_threshold)
        self.min_length.setValue(params.min_length)
        self.fill_gaps.setValue(params.fill_gaps)
        self._loading = False

    def _apply(self) -> None:
        index = self.class_box.currentData()
        if self._loading or index is None:
            return
        smoothing = self.smoothing.value() | 1  # odd widths only
        close = min(self.close_threshold.value(), self.open_threshold.value())
        params = PostprocessParams(
            smoothing=smoothing,
            open_threshold=self.open_threshold.value(),
            close_threshold=close,
            min_length=self.min_length.value(),
            fill_gaps=self.fill_gaps.value(),
        )
        self.state.set_params(int(index), params)
