"""ELAN's EAF 3.0: one tier per class, shared time slots in milliseconds, alignable annotations.

Elements are written in the order EAF 3.0's schema requires (HEADER, TIME_ORDER, TIER*,
LINGUISTIC_TYPE, CONSTRAINT*), or ELAN refuses the file. Milliseconds are coarser than frames
at high frame rates, but every frame start is within half a millisecond of what we write, and
the importer snaps to the nearest frame. On import an annotation's class is its value, or its
tier's name when the value is empty, so both ELAN habits (a tier per class, or one tier whose
values are the classes) import. With tracks, a tier is a track (its participant the track's
subject, its values the classes) and a zero-length annotation is a point event; a file with
several such tiers imports into tracks, one with a single such tier into the default track.

Modifiers and comments go where ELAN itself keeps per-annotation values: dependent tiers
(``Symbolic_Association``, one value per parent annotation, ``REF_ANNOTATION``), named
"<tier> modifiers" and "<tier> comment", modifiers joined with "|". On import any dependent
tier of one of those two linguistic types attaches its values to its parent's annotations,
whatever the tier is called.
"""

from __future__ import annotations

import mimetypes
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from core.atomic import atomic_write
from core.errors import ImportFormatError
from core.interchange.formats.base import BadFile, ParsedFile, ParsedSpan, Span, VideoLabels, VideoRef
from core.interchange.formats.structured import parse_xml

SCHEMA = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
LINGUISTIC_TYPE = "default-lt"
MODIFIERS_TYPE, COMMENT_TYPE = "modifiers-lt", "comment-lt"
"""The linguistic types of the dependent tiers carrying a label's modifiers and its comment."""
MODIFIER_SEPARATOR = "|"
TRACKS_PROPERTY = "c3d-labeller:tiers-are-tracks"
"""A header property saying every tier is a track, so a file with one tier keeps its track."""


class ElanEaf:
    name = "eaf"
    suffix = ".eaf"
    per_video = True
    keeps_notes = True

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        """One video per file; the exporter splits a project into one EAF per video."""
        if len(items) != 1:
            raise ImportFormatError(
                "An EAF file holds one video's labels: export several videos to a folder."
            )
        root = document(items[0])
        ET.indent(root, space="  ")
        with atomic_write(out, "wb") as f:
            f.write(ET.tostring(root, encoding="UTF-8", xml_declaration=True))
            f.write(b"\n")

    def read(self, path: Path) -> ParsedFile:
        root = parse_xml(path)
        if root.tag != "ANNOTATION_DOCUMENT":
            raise BadFile(path, f"<{root.tag}>", "this is not an ELAN file (no ANNOTATION_DOCUMENT)")
        parsed = ParsedFile(path)
        header = root.find("HEADER")
        if header is not None and header.get("TIME_UNITS", "milliseconds") != "milliseconds":
            raise BadFile(path, "HEADER", f"time units {header.get('TIME_UNITS')!r} are not milliseconds")
        video = _video(root, path)
        slots: dict[str, int] = {}
        for slot in root.iterfind("TIME_ORDER/TIME_SLOT"):
            value = slot.get("TIME_VALUE")
            if value is not None and value.strip().isdigit() and len(value.strip()) < 12:
                slots[slot.get("TIME_SLOT_ID", "")] = int(value)
        tiers = list(root.iterfind("TIER"))
        modifiers, comments = _dependent_values(root)
        marked = any(
            p.get("NAME") == TRACKS_PROPERTY and (p.text or "").strip() == "true"
            for p in root.iterfind("HEADER/PROPERTY")
        )
        lanes = [
            t
            for t in tiers
            if (marked and t.find("ANNOTATION/ALIGNABLE_ANNOTATION") is not None) or _is_track_tier(t)
        ]
        with_tracks = marked or len(lanes) > 1 or any(t.get("PARTICIPANT") for t in lanes)
        for tier in tiers:
            tier_id = tier.get("TIER_ID", "")
            track = tier_id if with_tracks and tier in lanes else None
            subject = ((tier.get("PARTICIPANT") or "").strip() or None) if track else None
            for ann in tier.iterfind("ANNOTATION/ALIGNABLE_ANNOTATION"):
                where = f"TIER {tier_id!r}, ANNOTATION {ann.get('ANNOTATION_ID', '?')}"
                refs = ann.get("TIME_SLOT_REF1", ""), ann.get("TIME_SLOT_REF2", "")
                missing = [r for r in refs if r not in slots]
                if missing:
                    parsed.problem(where, f"time slot {missing[0]!r} has no time value")
                    continue
                value = (ann.findtext("ANNOTATION_VALUE") or "").strip()
                start, end = (slots[r] / 1000.0 for r in refs)
                point = track is not None and start == end
                ann_id = ann.get("ANNOTATION_ID", "")
                parsed.spans.append(
                    ParsedSpan(
                        video,
                        value or tier_id,
                        where,
                        start_s=start,
                        end_s=None if point else end,
                        point=point,
                        track=track,
                        subject=subject,
                        modifiers=_split(modifiers.get(ann_id, "")),
                        comment=comments.get(ann_id) or None,
                    )
                )
        return parsed


def document(item: VideoLabels) -> ET.Element:
    root = ET.Element(
        "ANNOTATION_DOCUMENT",
        {
            "AUTHOR": "C3D Labeller",
            "DATE": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "FORMAT": "3.0",
            "VERSION": "3.0",
            "xmlns:xsi": XSI,
            "xsi:noNamespaceSchemaLocation": SCHEMA,
        },
    )
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    media = Path(item.video.path)
    ET.SubElement(
        header,
        "MEDIA_DESCRIPTOR",
        {
            "MEDIA_URL": media.as_uri() if media.is_absolute() else media.name,
            "MIME_TYPE": mimetypes.guess_type(media.name)[0] or "video/*",
            "RELATIVE_MEDIA_URL": f"./{media.name}",
        },
    )
    times = sorted({_ms(item, f) for s in item.segments for f in (s.start_frame, _last(s))})
    slot_id = {ms: f"ts{i + 1}" for i, ms in enumerate(times)}
    last_used = ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"})
    if any(s.track is not None for s in item.segments):  # even one tier is then a track
        ET.SubElement(header, "PROPERTY", {"NAME": TRACKS_PROPERTY}).text = "true"
    order = ET.SubElement(root, "TIME_ORDER")
    for ms in times:
        ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": slot_id[ms], "TIME_VALUE": str(ms)})
    tiers: dict[str, ET.Element] = {}
    extras: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (tier, type) → (annotation, value)
    for n, seg in enumerate(item.segments, start=1):
        tier_id = seg.class_name if seg.track is None else seg.track
        tier = tiers.get(tier_id)
        if tier is None:
            attrs = {"LINGUISTIC_TYPE_REF": LINGUISTIC_TYPE, "TIER_ID": tier_id}
            if seg.subject:
                attrs["PARTICIPANT"] = seg.subject
            tier = ET.SubElement(root, "TIER", attrs)
            tiers[tier_id] = tier
        ann = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION")
        ann.set("ANNOTATION_ID", f"a{n}")
        ann.set("TIME_SLOT_REF1", slot_id[_ms(item, seg.start_frame)])
        ann.set("TIME_SLOT_REF2", slot_id[_ms(item, _last(seg))])
        ET.SubElement(ann, "ANNOTATION_VALUE").text = seg.class_name
        if seg.modifiers:
            extras.setdefault((tier_id, MODIFIERS_TYPE), []).append(
                (f"a{n}", MODIFIER_SEPARATOR.join(seg.modifiers))
            )
        if seg.comment:
            extras.setdefault((tier_id, COMMENT_TYPE), []).append((f"a{n}", seg.comment))
    last_id = _dependent_tiers(root, tiers, extras, len(item.segments))
    last_used.text = str(last_id)
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": LINGUISTIC_TYPE, "TIME_ALIGNABLE": "true"},
    )
    for type_id in (MODIFIERS_TYPE, COMMENT_TYPE):
        if any(kind == type_id for _, kind in extras):
            ET.SubElement(
                root,
                "LINGUISTIC_TYPE",
                {
                    "CONSTRAINTS": "Symbolic_Association",
                    "GRAPHIC_REFERENCES": "false",
                    "LINGUISTIC_TYPE_ID": type_id,
                    "TIME_ALIGNABLE": "false",
                },
            )
    for stereotype, text in CONSTRAINTS:
        ET.SubElement(root, "CONSTRAINT", {"DESCRIPTION": text, "STEREOTYPE": stereotype})
    return root


CONSTRAINTS = (
    ("Time_Subdivision", "Time subdivision of parent annotation's time interval, no time gaps allowed"),
    (
        "Symbolic_Subdivision",
        "Symbolic subdivision of a parent annotation. Annotations cannot be time-aligned",
    ),
    ("Symbolic_Association", "1-1 association with a parent annotation"),
    ("Included_In", "Time alignable annotations within the parent annotation's time interval, gaps allowed"),
)
"""ELAN writes these four into every file; some tools expect them."""


def _dependent_tiers(
    root: ET.Element,
    tiers: dict[str, ET.Element],
    extras: dict[tuple[str, str], list[tuple[str, str]]],
    last_id: int,
) -> int:
    """One symbolically associated tier per parent tier and kind; returns the last annotation id."""
    taken = set(tiers)
    for (parent, type_id), values in extras.items():
        base = f"{parent} {'modifiers' if type_id == MODIFIERS_TYPE else 'comment'}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base} {n}", n + 1
        taken.add(name)
        attrs = {"LINGUISTIC_TYPE_REF": type_id, "PARENT_REF": parent, "TIER_ID": name}
        participant = tiers[parent].get("PARTICIPANT")
        if participant:
            attrs["PARTICIPANT"] = participant
        tier = ET.SubElement(root, "TIER", attrs)
        for ref, value in values:
            last_id += 1
            ann = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "REF_ANNOTATION")
            ann.set("ANNOTATION_ID", f"a{last_id}")
            ann.set("ANNOTATION_REF", ref)
            ET.SubElement(ann, "ANNOTATION_VALUE").text = value
    return last_id


def _dependent_values(root: ET.Element) -> tuple[dict[str, str], dict[str, str]]:
    """The modifiers and comments the dependent tiers give, by their parent annotation's id."""
    types = {t.get("LINGUISTIC_TYPE_ID", ""): t for t in root.iterfind("LINGUISTIC_TYPE")}
    found: dict[str, dict[str, str]] = {MODIFIERS_TYPE: {}, COMMENT_TYPE: {}}
    for tier in root.iterfind("TIER"):
        type_id = tier.get("LINGUISTIC_TYPE_REF", "")
        if type_id not in found or type_id not in types:
            continue
        for ann in tier.iterfind("ANNOTATION/REF_ANNOTATION"):
            found[type_id][ann.get("ANNOTATION_REF", "")] = ann.findtext("ANNOTATION_VALUE") or ""
    return found[MODIFIERS_TYPE], found[COMMENT_TYPE]


def _split(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(MODIFIER_SEPARATOR) if v.strip())


def _last(seg: Span) -> int:
    """Where an annotation ends: a point event is zero-length, at its frame's start."""
    return seg.start_frame if seg.point else seg.end_frame


def _is_track_tier(tier: ET.Element) -> bool:
    """A tier whose values name classes other than the tier itself holds a track's labels."""
    tier_id = tier.get("TIER_ID", "")
    values = {
        (v.text or "").strip() for v in tier.iterfind("ANNOTATION/ALIGNABLE_ANNOTATION/ANNOTATION_VALUE")
    }
    return any(v and v != tier_id for v in values)


def _ms(item: VideoLabels, frame: int) -> int:
    return round(item.seconds(frame) * 1000)


def _video(root: ET.Element, path: Path) -> VideoRef:
    descriptor = root.find("HEADER/MEDIA_DESCRIPTOR")
    if descriptor is not None:
        url = descriptor.get("MEDIA_URL", "")
        relative = descriptor.get("RELATIVE_MEDIA_URL", "")
        full = unquote(urlparse(url).path) if url.startswith("file:") else ""
        name = Path(unquote(relative or url).replace("\\", "/")).name
        if full or name:
            return VideoRef(path=full or None, name=name or None)
    return VideoRef(name=path.stem)
