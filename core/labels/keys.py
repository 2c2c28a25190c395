"""Which keys a label class may take: not another class's, not an app action's, not a digit.

The app's action keys are passed in (the GUI owns that table), so the rule stays Qt-free and
the same check serves every caller. A clash would make both the class key and the action
dead (Qt calls an ambiguous shortcut neither), so it is refused with a sentence instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import StoreError

POSITION_KEYS = tuple(str(n) for n in range(10))
"""0 labels background and 1–9 the other classes by position, whatever their own keys."""

_MODIFIERS = ("ctrl", "shift", "alt", "meta")
_ALIASES = {"esc": "escape", "del": "delete", "pgup": "pageup", "pgdown": "pagedown", "return": "enter"}


def key_id(text: str) -> str:
    """A comparable form of a key text: "shift+a", "A+Shift" and " Shift + A " are one key."""
    parts = [p.strip().casefold() for p in text.split("+")] if text.strip() != "+" else ["+"]
    if text.strip().endswith("++"):  # "Ctrl++": the plus key with a modifier
        parts = [p for p in parts if p] + ["+"]
    parts = [_ALIASES.get(p, p) for p in parts if p]
    mods = sorted(p for p in parts if p in _MODIFIERS)
    keys = [p for p in parts if p not in _MODIFIERS]
    return "+".join([*mods, *keys])


def check_class_key(key: str | None, reserved: Mapping[str, str]) -> None:
    """Refuse a class key that is a digit or an action's key; ``reserved`` maps key → action."""
    if key is None or not key.strip():
        return
    wanted = key_id(key)
    if wanted in POSITION_KEYS:
        raise StoreError(f"The key '{key}' already labels a class by its position; choose a letter.")
    for other, action in reserved.items():
        if key_id(other) == wanted:
            raise StoreError(f"The key '{key}' is used by “{action}”; choose another key.")
