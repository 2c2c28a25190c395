"""Per-window class probabilities from a model over a video, saved as inference goes.

Windows are written in batches as they are scored, so a run that stops (cancelled,
crashed, app closed) resumes from ``done_starts`` instead of starting over.
"""

from __future__ import annotations

import logging

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from core.errors import StoreError
from core.store.changes import PredictionsChanged
from core.store.orm import Base, ModelVersionRow, PredictionRunRow, VideoRow, WindowPredictionRow, utc_now
from core.store.records import PredictionRun, RunStatus
from core.store.unit import Repository

log = logging.getLogger(__name__)

_WINDOWS = Base.metadata.tables[WindowPredictionRow.__tablename__]


def to_record(row: PredictionRunRow) -> PredictionRun:
    return PredictionRun(
        id=row.id,
        video_id=row.video_id,
        model_version_id=row.model_version_id,
        stride=row.stride,
        status=RunStatus(row.status),
        windows_done=row.windows_done,
        windows_total=row.windows_total,
    )


class PredictionRepository(Repository):
    def start_run(
        self, video_id: int, model_version_id: int, stride: int, windows_total: int
    ) -> PredictionRun:
        """Begin, or resume, the run of this model over this video at this stride."""
        if stride < 1:
            raise StoreError(f"The window stride must be at least 1 frame (got {stride}).")
        with self._write("start the prediction run") as session:
            if session.get(VideoRow, video_id) is None:
                raise StoreError(f"There is no video with id {video_id}; it may have been removed.")
            if session.get(ModelVersionRow, model_version_id) is None:
                raise StoreError(f"There is no model version with id {model_version_id}.")
            row = session.scalar(
                select(PredictionRunRow).where(
                    PredictionRunRow.video_id == video_id,
                    PredictionRunRow.model_version_id == model_version_id,
                    PredictionRunRow.stride == stride,
                )
            )
            if row is None:
                row = PredictionRunRow(
                    video_id=video_id,
                    model_version_id=model_version_id,
                    stride=stride,
                    windows_done=0,
                    windows_total=windows_total,
                    status=RunStatus.RUNNING,
                )
                session.add(row)
            else:
                log.info(
                    "Resuming prediction run %d (%d/%d windows)", row.id, row.windows_done, windows_total
                )
                row.status, row.windows_total, row.updated_at = RunStatus.RUNNING, windows_total, utc_now()
            session.flush()
            self._changed(PredictionsChanged(video_id))
            return to_record(row)

    def add_windows(self, run_id: int, starts: np.ndarray, probs: np.ndarray) -> PredictionRun:
        """Save a batch of scored windows; starts already saved are skipped, so retries are safe."""
        starts_i, probs_f = _check_windows(starts, probs)
        with self._write("save the predictions") as session:
            row = _row(session, run_id)
            if len(starts_i):
                existing = set(
                    session.scalars(
                        select(WindowPredictionRow.start_frame).where(
                            WindowPredictionRow.run_id == run_id,
                            WindowPredictionRow.start_frame.between(int(starts_i.min()), int(starts_i.max())),
                        )
                    )
                )
                _bulk_insert(session, run_id, starts_i, probs_f, existing)
            _touch(session, row)
            self._changed(PredictionsChanged(row.video_id))
            return to_record(row)

    def replace_windows(self, run_id: int, starts: np.ndarray, probs: np.ndarray) -> PredictionRun:
        """Swap in a complete new set of windows, e.g. after re-scoring cached features."""
        starts_i, probs_f = _check_windows(starts, probs)
        with self._write("save the predictions") as session:
            row = _row(session, run_id)
            session.execute(delete(WindowPredictionRow).where(WindowPredictionRow.run_id == run_id))
            _bulk_insert(session, run_id, starts_i, probs_f, set())
            _touch(session, row)
            self._changed(PredictionsChanged(row.video_id))
            return to_record(row)

    def done_starts(self, run_id: int) -> set[int]:
        with self._read("read the prediction progress") as session:
            query = select(_WINDOWS.c.start_frame).where(_WINDOWS.c.run_id == run_id)
            return set(session.connection().execute(query).scalars())

    def windows(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts int64 sorted, probs float32 of shape (n, classes)), read in one query."""
        with self._read("read the predictions") as session:
            row = _row(session, run_id)
            version = session.get_one(ModelVersionRow, row.model_version_id)
            tracks = (version.summary or {}).get("tracks") or []
            n_classes = (
                sum(
                    len([c for c in t["classes"] if t["kind"] == "state" or c.casefold() != "background"])
                    for t in tracks
                )
                if tracks
                else len(version.class_names)
            )
            query = (
                select(_WINDOWS.c.start_frame, _WINDOWS.c.probs)
                .where(_WINDOWS.c.run_id == run_id)
                .order_by(_WINDOWS.c.start_frame)
            )
            # Core rather than ORM: a one-hour video has ~13,500 rows and ORM rows cost 3x.
            found = session.connection().execute(query).all()
        if not found:
            return np.empty(0, dtype=np.int64), np.empty((0, n_classes), dtype=np.float32)
        starts = np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found))
        blob = b"".join(r[1] for r in found)
        probs = np.frombuffer(blob, dtype="<f4").reshape(len(found), -1).astype(np.float32, copy=False)
        return starts, probs

    def finish(self, run_id: int, status: RunStatus, windows_total: int | None = None) -> PredictionRun:
        """Close a run; ``windows_total`` corrects the header's guess once decoding found the end."""
        with self._write("finish the prediction run") as session:
            row = _row(session, run_id)
            row.status, row.updated_at = RunStatus(status), utc_now()
            if windows_total is not None:
                row.windows_total = windows_total
            self._changed(PredictionsChanged(row.video_id))
            return to_record(row)

    def windows_done_total(self, run_ids: list[int]) -> int:
        """Windows stored over many runs, in one query per 500 runs (progress of a cluster job)."""
        total = 0
        with self._read("read the prediction progress") as session:
            for i in range(0, len(run_ids), 500):
                part = run_ids[i : i + 500]
                query = select(func.sum(PredictionRunRow.windows_done)).where(PredictionRunRow.id.in_(part))
                total += int(session.scalar(query) or 0)
        return total

    def get(self, run_id: int) -> PredictionRun:
        with self._read("read the prediction run") as session:
            return to_record(_row(session, run_id))

    def latest_run(self, video_id: int, model_version_id: int | None = None) -> PredictionRun | None:
        """The most recently updated run for a video (of one model, if given)."""
        with self._read("find the latest predictions") as session:
            query = select(PredictionRunRow).where(PredictionRunRow.video_id == video_id)
            if model_version_id is not None:
                query = query.where(PredictionRunRow.model_version_id == model_version_id)
            query = query.order_by(PredictionRunRow.updated_at.desc(), PredictionRunRow.id.desc())
            row = session.scalars(query).first()
            return None if row is None else to_record(row)

    def runs_for_model(self, model_version_id: int) -> list[PredictionRun]:
        with self._read("list the prediction runs") as session:
            query = (
                select(PredictionRunRow)
                .where(PredictionRunRow.model_version_id == model_version_id)
                .order_by(PredictionRunRow.id)
            )
            return [to_record(r) for r in session.scalars(query)]


def _check_windows(starts: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts_i = np.asarray(starts).astype(np.int64, copy=False).reshape(-1)
    probs_f = np.ascontiguousarray(probs, dtype="<f4")
    if probs_f.ndim != 2 or probs_f.shape[0] != len(starts_i):
        raise StoreError(
            f"Predictions do not line up: {len(starts_i)} window starts but probabilities of shape "
            f"{probs_f.shape}. This is a bug; please report it."
        )
    return starts_i, probs_f


def _bulk_insert(
    session: Session, run_id: int, starts: np.ndarray, probs: np.ndarray, skip: set[int]
) -> None:
    """One executemany; a start repeated within the batch keeps its first probabilities."""
    rows = []
    for start, row_probs in zip(starts.tolist(), probs, strict=True):
        if start in skip:
            continue
        skip.add(start)
        rows.append({"run_id": run_id, "start_frame": start, "probs": row_probs.tobytes()})
    if rows:
        session.connection().execute(insert(_WINDOWS), rows)  # a plain executemany


def _touch(session: Session, row: PredictionRunRow) -> None:
    count = select(func.count()).where(WindowPredictionRow.run_id == row.id)
    row.windows_done = int(session.scalar(count) or 0)
    row.updated_at = utc_now()


def _row(session: Session, run_id: int) -> PredictionRunRow:
    row = session.get(PredictionRunRow, run_id)
    if row is None:
        raise StoreError(
            f"There is no prediction run with id {run_id}; its video or model may have been removed."
        )
    return row
