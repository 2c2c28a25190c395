"""Finding the project's video (and class) that a file's label refers to.

Videos are matched by path, then content hash (the file moved), then file name (the labels came
from another machine); a name shared by two project videos is ambiguous and says so. Classes are
matched ignoring case and spacing, after the user's ``old=new`` renames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.interchange.formats.base import VideoRef
from core.store.classes import name_key
from core.store.records import LabelClass, Video
from core.store.videos import normalize_path


class VideoMatcher:
    def __init__(self, videos: Sequence[Video]) -> None:
        self._by_path = {v.path: v for v in videos}
        self._by_hash: dict[str, Video] = {}
        self._by_name: dict[str, list[Video]] = defaultdict(list)
        for v in videos:
            self._by_hash.setdefault(v.content_hash, v)
            path = Path(v.path)
            self._by_name[path.name.casefold()].append(v)
            if path.stem.casefold() != path.name.casefold():
                self._by_name[path.stem.casefold()].append(v)

    def match(self, ref: VideoRef) -> tuple[Video | None, str]:
        """The video, or None and the reason no single video fits."""
        if ref.path:
            found = self._by_path.get(ref.path) or self._by_path.get(_normal(ref.path))
            if found is not None:
                return found, ""
        if ref.content_hash and ref.content_hash in self._by_hash:
            return self._by_hash[ref.content_hash], ""
        name = ref.name or (Path(ref.path.replace("\\", "/")).name if ref.path else None)
        if name:
            candidates = self._by_name.get(name.casefold(), [])
            if len(candidates) == 1:
                return candidates[0], ""
            if len(candidates) > 1:
                return None, (
                    f"the video '{name}' is ambiguous: {len(candidates)} videos in this project have that "
                    "name; use this app's CSV, which names videos by path and content"
                )
        return None, f"the video '{ref.describe()}' is not in this project; add it with 'videos add' first"


def _normal(path: str) -> str:
    try:
        return normalize_path(path)
    except (OSError, ValueError):
        return path


class ClassMapper:
    """A file's class name → the project's class name, or a new class when creating is allowed."""

    def __init__(self, classes: Sequence[LabelClass], renames: Mapping[str, str], create: bool) -> None:
        self._known = {name_key(c.name): c.name for c in classes}
        self._renames = {name_key(old): new for old, new in renames.items()}
        self._create = create
        self.new: dict[str, str] = {}
        """Classes to create, by key, in the order first seen."""

    def resolve(self, name: str) -> tuple[str | None, str]:
        """The project's (or new) class name, or None and why not."""
        target = self._renames.get(name_key(name), name)
        key = name_key(target)
        if not key:
            return None, "the label has no class name"
        if key in self._known:
            return self._known[key], ""
        if key in self.new:
            return self.new[key], ""
        if len(" ".join(target.split())) > 100:
            return None, f"the class name '{target[:40]}…' is longer than 100 characters"
        if self._create:
            self.new[key] = " ".join(target.split())
            return self.new[key], ""
        return None, (
            f"the class '{target}' is not in this project; create it (--create-classes) "
            f"or map it to one (--map-classes '{target}=NAME')"
        )
