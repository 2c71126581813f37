"""The tables the AudioCaps steps pass on, and the rows of ``data_quality``.

Every row or file that is not used ends up in ``data_quality`` (``QUALITY_COLUMNS``) with its
``kind`` (``csv``, ``caption`` or ``audio``), its reason and what was done: ``rejected``, or
``kept_text_only`` for a clip kept without its audio.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

CLIP_COLUMNS = ["clip_id", "split", "audio_path", "duration_s", "sample_rate", "channels"]
CAPTION_COLUMNS = ["clip_id", "caption_id", "split", "caption"]
QUALITY_COLUMNS = ["split", "file", "row", "clip_id", "caption_id", "kind", "reason", "action"]
# Intermediate tables passed between the steps.
ROW_COLUMNS = [
    "split",
    "file",
    "row",
    "clip_id",
    "caption_id",
    "youtube_id",
    "start_time",
    "caption",
]
PROBE_COLUMNS = [*CLIP_COLUMNS, "file", "problem"]

REJECTED = "rejected"
KEPT_TEXT_ONLY = "kept_text_only"


def quality_issue(
    split: str | None,
    file: str,
    kind: str,
    reason: str,
    action: str = REJECTED,
    row: int | None = None,
    clip_id: str | None = None,
    caption_id: str | None = None,
) -> dict:
    """One ``data_quality`` row (``QUALITY_COLUMNS``) as a dict."""
    return {
        "split": split,
        "file": file,
        "row": row,
        "clip_id": clip_id,
        "caption_id": caption_id,
        "kind": kind,
        "reason": reason,
        "action": action,
    }


def quality_frame(issues: list[dict]) -> pd.DataFrame:
    """``data_quality`` rows as a frame of ``QUALITY_COLUMNS`` (``row`` nullable, the rest text)."""
    frame = pd.DataFrame(issues, columns=QUALITY_COLUMNS)
    text = [column for column in QUALITY_COLUMNS if column != "row"]
    return frame.astype({"row": "Int64", **dict.fromkeys(text, "str")})


def summarise(quality: pd.DataFrame) -> str:
    """``"3 csv, 1 caption; first: train.csv line 2: <reason>"``."""
    if quality.empty:
        return "no issue recorded"
    kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(quality["kind"]).most_common())
    first = quality.iloc[0]
    line = "" if pd.isna(first["row"]) else f" line {first['row']}"
    return f"{kinds}; first: {first['file']}{line}: {first['reason']}"
