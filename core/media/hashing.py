"""Content fingerprints that find a video again after it was moved or renamed.

Hashing a whole multi-gigabyte video would stall the import of a folder, so the fingerprint reads
only the size and three 1 MiB samples (start, middle, end). That separates real-world videos: the
start holds the container header, the end the index or the last frames, and the size differs
between nearly every pair of recordings. The version tag lets a future scheme coexist with
fingerprints already stored.
"""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path

from core.errors import VideoError

log = logging.getLogger(__name__)

VERSION = "fp1"
CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """``"fp1:<sha256 hex>"`` of the file size and its first, middle and last MiB."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):
                raise VideoError(
                    f"'{path}' is not a regular file, so it cannot be fingerprinted; choose a video file."
                )
            size = st.st_size
            digest = hashlib.sha256(f"{VERSION}:{size}:".encode())
            if size <= 3 * CHUNK:
                digest.update(fh.read())
            else:
                for offset in (0, (size - CHUNK) // 2, size - CHUNK):
                    fh.seek(offset)
                    digest.update(fh.read(CHUNK))
    except FileNotFoundError as exc:
        raise VideoError(
            f"Video file '{path}' does not exist, so it cannot be fingerprinted; check the path."
        ) from exc
    except IsADirectoryError as exc:
        raise VideoError(f"'{path}' is a folder, not a video file; choose a video file instead.") from exc
    except OSError as exc:
        raise VideoError(
            f"Video file '{path}' cannot be read ({exc.strerror}); check its permissions."
        ) from exc
    return f"{VERSION}:{digest.hexdigest()}"
