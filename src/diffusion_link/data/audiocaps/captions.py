"""Caption rows: every selected split's CSV read, each row accepted or rejected with its reason.

Identifiers:

- ``clip_id`` is the row's ``youtube_id``, e.g. ``"r1nicOVtvkQ"``: AudioCaps, like AudioSet,
  takes one 10 s segment per video, so a second ``start_time`` for the same video is rejected.
- ``caption_id`` is the row's ``audiocap_id`` as a string; it is unique over all splits.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pandas as pd

from diffusion_link.data.audiocaps.config import SPLITS, AudioCapsConfig
from diffusion_link.data.audiocaps.csv_file import (
    CSV_COLUMNS,
    CaptionFileError,
    column_list,
    file_error,
    missing_columns_problem,
    read_csv_records,
    undecodable,
)
from diffusion_link.data.audiocaps.layout import Layout, SplitSource, display_path, locate
from diffusion_link.data.audiocaps.tables import (
    REJECTED,
    ROW_COLUMNS,
    quality_frame,
    quality_issue,
    summarise,
)

logger = logging.getLogger(__name__)


def normalised_start_time(value: str) -> str | None:
    """``"30"``, ``"30.0"`` -> ``"30"``; ``None`` when not a non-negative finite number."""
    try:
        number = float(value)
    except ValueError:
        return None
    if not np.isfinite(number) or number < 0:
        return None
    return str(int(number)) if number.is_integer() else str(number)


def _unknown_split_csvs(layout: Layout) -> list[dict]:
    """``data_quality`` rows for CSVs at the root of AudioCaps' layout that are no split."""
    if layout.kind != "audiocaps":
        return []
    return [
        quality_issue(
            path.stem,
            path.name,
            "csv",
            f"unknown split '{path.stem}' (expected one of {', '.join(SPLITS)})",
        )
        for path in sorted(layout.root.glob("*.csv"))
        if path.stem not in SPLITS
    ]


class _Rejected(Exception):
    """One caption row is unusable: why, and whatever ids it has."""

    def __init__(
        self, kind: str, reason: str, clip_id: str | None = None, caption_id: str | None = None
    ) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.clip_id, self.caption_id = kind, reason, clip_id, caption_id


def _parse_record(fields: list[str], index: dict[str, int], n_columns: int) -> dict[str, str]:
    """One CSV record as clip_id, caption_id, youtube_id, start_time, caption; or ``_Rejected``."""
    if len(fields) != n_columns:
        raise _Rejected("csv", f"row has {len(fields)} fields, the header has {n_columns}")
    bad_bytes = undecodable(fields)
    if bad_bytes is not None:
        raise _Rejected("csv", f"row is not valid UTF-8: {bad_bytes}")
    caption_id = fields[index["audiocap_id"]].strip()
    youtube_id = fields[index["youtube_id"]].strip()
    raw_start = fields[index["start_time"]]
    start_time = normalised_start_time(raw_start.strip())
    caption = fields[index["caption"]]
    if not caption_id or not youtube_id:
        raise _Rejected("csv", "empty audiocap_id or youtube_id", caption_id=caption_id or None)
    if start_time is None:
        raise _Rejected(
            "csv", f"start_time {raw_start!r} is not a non-negative number", caption_id=caption_id
        )
    if not caption.strip():
        raise _Rejected("caption", "empty or whitespace-only caption", youtube_id, caption_id)
    return {
        "clip_id": youtube_id,
        "caption_id": caption_id,
        "youtube_id": youtube_id,
        "start_time": start_time,
        "caption": caption,
    }


class _SeenIds:
    """Ids accepted so far, over all splits: catches duplicates and clips in two splits."""

    def __init__(self, max_captions_per_clip: int) -> None:
        self.max_captions_per_clip = max_captions_per_clip
        self.caption_at: dict[str, str] = {}  # caption_id -> "file line N"
        self.clip_at: dict[str, tuple[str, str, str]] = {}  # clip_id -> split, start, where
        self.captions_of: Counter[str] = Counter()

    def accept(self, row: dict[str, str], split: str, where: str) -> None:
        """Record the row, or raise ``_Rejected`` if it clashes with an accepted one."""
        clip_id, caption_id = row["clip_id"], row["caption_id"]
        if caption_id in self.caption_at:
            raise _Rejected(
                "csv",
                f"duplicate audiocap_id {caption_id} (first at {self.caption_at[caption_id]})",
                clip_id,
                caption_id,
            )
        first_split, first_start, first_where = self.clip_at.get(
            clip_id, (split, row["start_time"], where)
        )
        if first_split != split:
            raise _Rejected(
                "csv", f"clip already in split '{first_split}' ({first_where})", clip_id, caption_id
            )
        if first_start != row["start_time"]:
            raise _Rejected(
                "csv",
                f"start_time {row['start_time']} differs from {first_start} ({first_where}): "
                "one segment per video",
                clip_id,
                caption_id,
            )
        if self.captions_of[clip_id] >= self.max_captions_per_clip:
            raise _Rejected(
                "caption",
                f"clip already has max_captions_per_clip={self.max_captions_per_clip} captions",
                clip_id,
                caption_id,
            )
        self.caption_at[caption_id] = where
        self.clip_at.setdefault(clip_id, (split, row["start_time"], where))
        self.captions_of[clip_id] += 1


def _split_rows(source: SplitSource, file: str, seen: _SeenIds) -> tuple[list[dict], list[dict]]:
    """Accepted rows and rejected-row issues of one split's CSV.

    Raises ``CaptionFileError`` when the file cannot be used at all: unreadable, not UTF-8 text,
    missing one of ``CSV_COLUMNS``, or without a single valid row.
    """
    path, split = source.csv_path, source.split
    header, records = read_csv_records(path, split)
    if any(column not in header for column in CSV_COLUMNS):
        what, detail = "not an AudioCaps caption CSV", missing_columns_problem(header)
        raise CaptionFileError(file_error(path, split, what, detail, header, len(records)))
    index = {column: header.index(column) for column in CSV_COLUMNS}
    rows, issues = [], []
    for line, fields in records:
        try:
            row = _parse_record(fields, index, len(header))
            seen.accept(row, split, f"{file} line {line}")
        except _Rejected as rejected:
            issues.append(
                quality_issue(
                    split,
                    file,
                    rejected.kind,
                    rejected.reason,
                    REJECTED,
                    line,
                    rejected.clip_id,
                    rejected.caption_id,
                )
            )
            continue
        rows.append({"split": split, "file": file, "row": line, **row})
    if not records:
        raise CaptionFileError(
            f"No caption row accepted from {path} (split '{split}'): the file has a header "
            f"({column_list(header)}) and no row, so split '{split}' would be empty"
        )
    if not rows:
        raise CaptionFileError(
            f"No caption row accepted from {path}: {summarise(quality_frame(issues))}; all "
            f"{len(records)} row(s) read were rejected, so split '{split}' would be empty"
        )
    return rows, issues


def read_caption_rows(config: AudioCapsConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate every caption row of the selected splits.

    Returns the accepted rows (``ROW_COLUMNS``, one per caption) and the rejected ones
    (``QUALITY_COLUMNS``). Raises one ``CaptionFileError`` (a ``ValueError``) naming every
    caption CSV that cannot be used at all (unreadable, not UTF-8 text, missing columns, no valid
    row) and a missing ``train.csv``: the run must not go on with an empty train split.
    """
    layout = locate(config)
    logger.info("Reading AudioCaps (%s layout) from %s", layout.kind, layout.root)
    if "train" not in config.splits:
        logger.warning("data_prep.splits has no 'train': later pipelines will find no train clip")
    issues = _unknown_split_csvs(layout)
    rows: list[dict] = []
    seen = _SeenIds(config.max_captions_per_clip)
    files_read, file_errors = [], []
    for source in layout.sources:
        file = display_path(source.csv_path, layout.root)
        if not source.csv_path.is_file():
            if source.split == "train":
                file_errors.append(
                    f"{source.csv_path}: the caption CSV of split 'train' is not found "
                    f"({layout.kind} layout under {layout.root}); the train split would be empty"
                )
            else:
                issues.append(quality_issue(source.split, file, "csv", "caption CSV not found"))
            continue
        files_read.append(str(source.csv_path))
        try:
            split_rows, split_issues = _split_rows(source, file, seen)
        except CaptionFileError as err:
            file_errors.append(str(err))
            continue
        rows += split_rows
        issues += split_issues
    if len(file_errors) == 1:
        raise CaptionFileError(file_errors[0])
    if file_errors:
        listed = "\n".join(f"- {error}" for error in file_errors)
        raise CaptionFileError(f"{len(file_errors)} caption CSVs cannot be used:\n{listed}")

    quality = quality_frame(issues)
    if not rows:
        raise ValueError(
            "No caption row accepted from "
            f"{', '.join(files_read) or f'{layout.root} (no split CSV found)'}: "
            f"{summarise(quality)}"
        )
    caption_rows = pd.DataFrame(rows, columns=ROW_COLUMNS)
    logger.info("%d caption rows accepted, %d rejected", len(caption_rows), len(quality))
    return caption_rows, quality
