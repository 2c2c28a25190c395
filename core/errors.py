"""The one error hierarchy of the application.

Every message says what failed and what the user can do about it; the GUI shows it in a
dialog and the CLI prints it as one line, so no user mistake ever ends in a traceback.
"""


class AppError(Exception):
    """Base of every error a user can cause or fix."""


class VideoError(AppError):
    """A video file cannot be opened or decoded."""


class CheckpointError(AppError):
    """A model file is missing, malformed or does not fit the project."""


class StoreError(AppError):
    """The label store cannot be read or written."""


class ConflictError(StoreError):
    """Someone else changed the frames an edit (or undo) was about to change; nothing was written.

    ``video_id``/``start``/``end`` name the range, so the view can be refreshed to show theirs.
    """

    def __init__(
        self, message: str, video_id: int | None = None, start: int = 0, end: int = 0, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.video_id, self.start, self.end = video_id, start, end
        self.retryable = retryable
        """Two writes met on one row at the same moment: running the edit again may well succeed."""


class ImportFormatError(AppError):
    """An interchange file cannot be imported."""


class InferenceError(AppError):
    """Running the model failed."""


class Cancelled(AppError):
    """A long task stopped because the user asked it to."""


class TrainingError(AppError):
    """A fine-tuning run cannot start or had to stop without producing a model."""


class FileWriteError(AppError):
    """An output file (an export, a model file) could not be written; the old one is intact."""


class ClusterError(AppError):
    """Ray is missing, the cluster cannot be reached, or a distributed run could not start."""
