"""Read an AudioCaps root into a clip manifest, a caption table and a data-quality report.

Plain Python (no Kedro): the ``data_prep`` pipeline's nodes are thin wrappers around the three
steps here, and a notebook can call :func:`prepare_audiocaps` directly.

Two layouts are accepted under ``audiocaps_root``:

- AudioCaps' own: ``train.csv``, ``val.csv``, ``test.csv`` and audio under
  ``audio/<split>/<youtube_id>*`` (wav, flac, mp3 or ogg).
- What ``aac-datasets`` writes: ``AUDIOCAPS/`` (``audiocaps_root`` may be its parent or the folder
  itself) with the CSVs in ``csv_files_<version>/`` (or, for v1, directly in ``AUDIOCAPS/``) and
  audio in ``audio_<sr>Hz/<split>/<youtube_id>_<start_time>.flac``.

Identifiers:

- ``clip_id`` is the row's ``youtube_id``, e.g. ``"r1nicOVtvkQ"``: AudioCaps, like AudioSet,
  takes one 10 s segment per video, so a second ``start_time`` for the same video is rejected.
- ``caption_id`` is the row's ``audiocap_id`` as a string; it is unique over all splits.

An audio file belongs to a clip when its name is ``<youtube_id>`` followed by ``.`` or ``_``; a
name ``<youtube_id>_<number>`` must carry the clip's own start time. ``<youtube_id>_<start_time>``
is preferred to ``<youtube_id>``. Hidden files (``.name``) are ignored.

Nothing under the root is ever written; files are only opened for reading. Every row or file that
is not used ends up in ``data_quality`` with its reason, except a caption CSV that cannot be used
at all (unreadable, not UTF-8 text, missing columns, no valid row) or a missing ``train.csv``:
those stop the run with one :class:`CaptionFileError` naming the file(s).
"""

from __future__ import annotations

import bisect
import csv
import io
import logging
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from tqdm.auto import tqdm

from diffusion_link.data.audio import AUDIO_EXTENSIONS, read_audio

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
CSV_COLUMNS: tuple[str, ...] = ("audiocap_id", "youtube_id", "start_time", "caption")
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

# libsndfile repairs a WAV whose data chunk runs past the end of the file and only says so in its
# log ("data : 88200 (should be 44078)"), so a truncated WAV decodes without an error.
_WAV_CHUNK_CUT = re.compile(r"^\s*data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


class DataPrepParams(BaseModel):
    """The ``data_prep`` parameter group (``conf/*/parameters_data_prep.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    audiocaps_root: Path
    require_audio: StrictBool
    min_duration_s: float = Field(ge=0)
    silence_peak: float = Field(ge=0, lt=1)
    truncation_tolerance_s: float = Field(ge=0)
    splits: list[Literal["train", "val", "test"]] = Field(min_length=1)
    max_captions_per_clip: int = Field(ge=1)
    num_workers: int = Field(ge=1)
    aac_datasets_version: Literal["v1", "v2"]
    aac_datasets_sample_rate: int | None = Field(gt=0)


_UNPARSED = "cannot parse the caption CSV"


class CaptionFileError(ValueError):
    """A caption CSV cannot be used at all, or the train split would be empty: the run stops."""


@dataclass(frozen=True)
class SplitSource:
    """Where one split's caption CSV and audio folder are expected (neither need exist)."""

    split: str
    csv_path: Path
    audio_dir: Path


@dataclass(frozen=True)
class Layout:
    """The resolved root: its kind, the folder holding the audio split folders, each split."""

    kind: Literal["audiocaps", "aac_datasets"]
    root: Path
    audio_root: Path
    sources: tuple[SplitSource, ...]


@dataclass(frozen=True)
class AudioProbe:
    """What decoding one file found; ``problem`` is None when the file is usable."""

    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    problem: str | None

    @classmethod
    def unusable(cls, problem: str) -> AudioProbe:
        """A file that could not be measured."""
        return cls(None, None, None, problem)


def _issue(
    split: str | None,
    file: str,
    kind: str,
    reason: str,
    action: str = REJECTED,
    row: int | None = None,
    clip_id: str | None = None,
    caption_id: str | None = None,
) -> dict:
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


def _quality_frame(issues: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(issues, columns=QUALITY_COLUMNS)
    text = [column for column in QUALITY_COLUMNS if column != "row"]
    return frame.astype({"row": "Int64", **dict.fromkeys(text, "str")})


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def locate(params: DataPrepParams) -> Layout:
    """Resolve ``audiocaps_root`` to one of the two layouts; raise if it is not a folder."""
    root = params.audiocaps_root.expanduser().absolute()
    if not root.is_dir():
        raise FileNotFoundError(f"data_prep.audiocaps_root: {root} is not a folder")
    base = root / "AUDIOCAPS" if (root / "AUDIOCAPS").is_dir() else root
    rate_dirs = sorted(p for p in base.glob("audio_*Hz") if p.is_dir())
    if not rate_dirs and not any(p.is_dir() for p in base.glob("csv_files_*")):
        return Layout(
            "audiocaps",
            root,
            root / "audio",
            tuple(SplitSource(s, root / f"{s}.csv", root / "audio" / s) for s in params.splits),
        )

    if params.aac_datasets_sample_rate is not None:
        audio_root = base / f"audio_{params.aac_datasets_sample_rate}Hz"
    elif len(rate_dirs) == 1:
        audio_root = rate_dirs[0]
    elif not rate_dirs:
        audio_root = base / "audio_32000Hz"  # aac-datasets' default; absent, so all text-only
    else:
        names = ", ".join(p.name for p in rate_dirs)
        raise ValueError(
            f"{base} holds several audio folders ({names}): "
            "set data_prep.aac_datasets_sample_rate to choose one"
        )
    version = params.aac_datasets_version
    csv_dir = base / f"csv_files_{version}"
    if version == "v1" and (base / "train.csv").is_file():
        csv_dir = base  # aac-datasets' older v1 layout
    return Layout(
        "aac_datasets",
        root,
        audio_root,
        tuple(SplitSource(s, csv_dir / f"{s}.csv", audio_root / s) for s in params.splits),
    )


def _start_time(value: str) -> str | None:
    """``"30"``, ``"30.0"`` -> ``"30"``; ``None`` when not a non-negative finite number."""
    try:
        number = float(value)
    except ValueError:
        return None
    if not np.isfinite(number) or number < 0:
        return None
    return str(int(number)) if number.is_integer() else str(number)


def _undecodable(fields: list[str]) -> str | None:
    """The first field holding bytes that were not UTF-8 (decoded with surrogateescape)."""
    for field in fields:
        if any("\udc80" <= char <= "\udcff" for char in field):
            return repr(field.encode("utf-8", "surrogateescape"))
    return None


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _column_list(names: list[str] | None, limit: int = 8) -> str:
    """Column names for a message: odd ones (empty, control or non-UTF-8 characters) as bytes."""
    if names is None:
        return "none (the file was not read as CSV)"
    if not names:
        return "none"
    shown = [
        _cut(name if name.isprintable() and name else repr(name.encode("utf-8", "surrogateescape")))
        for name in names[:limit]
    ]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(shown) + more


def _file_error(
    path: Path, split: str, what: str, detail: str, header: list[str] | None, n_rows: int
) -> str:
    """``"<path>: <what> (split 's'): <detail>; missing columns: ..; found columns: ..; N rows"``."""
    missing = [column for column in CSV_COLUMNS if column not in (header or [])]
    parts = [f"{path}: {what} (split '{split}'): {detail}"]
    if missing:
        parts.append(f"missing columns: {', '.join(missing)}")
    parts += [f"found columns: {_column_list(header)}", f"{n_rows} row(s) read"]
    return "; ".join(parts)


def _not_utf8_text(data: bytes) -> str | None:
    """Why bytes are not UTF-8 text at all (a UTF-16/32 byte-order mark, NUL bytes), or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 or UTF-32 text (byte-order mark); save it as UTF-8"
    if b"\x00" in data:
        return "it holds NUL bytes: a binary file, or UTF-16/32 text without a byte-order mark"
    return None


def _read_csv_records(path: Path, split: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` records of one CSV; ``CaptionFileError`` if unusable.

    Bytes are decoded with ``surrogateescape`` so that a non-UTF-8 byte spoils only its own row;
    a file that is not UTF-8 text at all (NUL bytes, UTF-16) is a file-level error.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CaptionFileError(f"{path}: cannot read the caption CSV: {err}") from err
    not_text = _not_utf8_text(data)
    if not_text is not None:
        raise CaptionFileError(_file_error(path, split, _UNPARSED, not_text, None, 0))
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header: list[str] = []
    records: list[tuple[int, list[str]]] = []
    try:
        first = next(reader, None)
        if first is None:
            detail = "the file is empty"
            raise CaptionFileError(_file_error(path, split, _UNPARSED, detail, [], 0))
        header = [name.strip().lower() for name in first]
        last_line = reader.line_num
        for fields in reader:
            if fields:  # blank lines are not rows
                records.append((last_line + 1, fields))
            last_line = reader.line_num
    except csv.Error as err:
        detail = f"line {reader.line_num}: {err}"
        raise CaptionFileError(
            _file_error(path, split, _UNPARSED, detail, header, len(records))
        ) from err
    return header, records


def _missing_columns_problem(header: list[str]) -> str:
    """Why a header lacks AudioCaps' columns, with a hint when the cause is plain to see."""
    problem = f"it needs the columns {', '.join(CSV_COLUMNS)}"
    if _undecodable(header) is not None:
        return f"{problem}; its header row is not UTF-8 text (a binary file or another encoding?)"
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        return f"{problem}; its header has one column: are the fields not separated by commas?"
    return problem


def _unknown_split_csvs(layout: Layout) -> list[dict]:
    if layout.kind != "audiocaps":
        return []
    return [
        _issue(
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
    bad_bytes = _undecodable(fields)
    if bad_bytes is not None:
        raise _Rejected("csv", f"row is not valid UTF-8: {bad_bytes}")
    caption_id = fields[index["audiocap_id"]].strip()
    youtube_id = fields[index["youtube_id"]].strip()
    raw_start = fields[index["start_time"]]
    start_time = _start_time(raw_start.strip())
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
    header, records = _read_csv_records(path, split)
    if any(column not in header for column in CSV_COLUMNS):
        what, detail = "not an AudioCaps caption CSV", _missing_columns_problem(header)
        raise CaptionFileError(_file_error(path, split, what, detail, header, len(records)))
    index = {column: header.index(column) for column in CSV_COLUMNS}
    rows, issues = [], []
    for line, fields in records:
        try:
            row = _parse_record(fields, index, len(header))
            seen.accept(row, split, f"{file} line {line}")
        except _Rejected as rejected:
            issues.append(
                _issue(
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
            f"({_column_list(header)}) and no row, so split '{split}' would be empty"
        )
    if not rows:
        raise CaptionFileError(
            f"No caption row accepted from {path}: {_summary(_quality_frame(issues))}; all "
            f"{len(records)} row(s) read were rejected, so split '{split}' would be empty"
        )
    return rows, issues


def read_caption_rows(params: DataPrepParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate every caption row of the selected splits.

    Returns the accepted rows (``ROW_COLUMNS``, one per caption) and the rejected ones
    (``QUALITY_COLUMNS``). Raises one ``CaptionFileError`` (a ``ValueError``) naming every
    caption CSV that cannot be used at all (unreadable, not UTF-8 text, missing columns, no valid
    row) and a missing ``train.csv``: the run must not go on with an empty train split.
    """
    layout = locate(params)
    logger.info("Reading AudioCaps (%s layout) from %s", layout.kind, layout.root)
    if "train" not in params.splits:
        logger.warning("data_prep.splits has no 'train': later pipelines will find no train clip")
    issues = _unknown_split_csvs(layout)
    rows: list[dict] = []
    seen = _SeenIds(params.max_captions_per_clip)
    files_read, file_errors = [], []
    for source in layout.sources:
        file = _relative(source.csv_path, layout.root)
        if not source.csv_path.is_file():
            if source.split == "train":
                file_errors.append(
                    f"{source.csv_path}: the caption CSV of split 'train' is not found "
                    f"({layout.kind} layout under {layout.root}); the train split would be empty"
                )
            else:
                issues.append(_issue(source.split, file, "csv", "caption CSV not found"))
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

    quality = _quality_frame(issues)
    if not rows:
        raise ValueError(
            "No caption row accepted from "
            f"{', '.join(files_read) or f'{layout.root} (no split CSV found)'}: "
            f"{_summary(quality)}"
        )
    caption_rows = pd.DataFrame(rows, columns=ROW_COLUMNS)
    logger.info("%d caption rows accepted, %d rejected", len(caption_rows), len(quality))
    return caption_rows, quality


def _summary(quality: pd.DataFrame) -> str:
    """``"3 csv, 1 caption; first: train.csv line 2: <reason>"``."""
    if quality.empty:
        return "no issue recorded"
    kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(quality["kind"]).most_common())
    first = quality.iloc[0]
    line = "" if pd.isna(first["row"]) else f" line {first['row']}"
    return f"{kinds}; first: {first['file']}{line}: {first['reason']}"


def _truncation(
    declared_frames: int, frames: int, tolerance_frames: int, decoder_log: str
) -> str | None:
    """Why the file looks truncated (its header promises more than it holds), or None.

    MP3 headers count the encoder's delay and padding, which decoders drop (~2,000 frames), so
    a shortfall up to ``tolerance_frames`` is normal.
    """
    if declared_frames - frames > tolerance_frames:
        return f"truncated: the header declares {declared_frames} frames, {frames} decoded"
    for declared, present in _WAV_CHUNK_CUT.findall(decoder_log):
        if int(declared) > int(present):
            return f"truncated: the data chunk declares {declared} bytes, {present} present"
    return None


def _content_problem(
    waveform: np.ndarray, duration_s: float, min_duration_s: float, silence_peak: float
) -> str | None:
    """Why decoded samples are unusable: empty, NaN/inf, too short, all silent; or None."""
    if len(waveform) == 0:
        return "no audio frames (zero-length audio)"
    if not np.isfinite(waveform).all():
        return "non-finite samples (NaN or inf)"
    if duration_s < min_duration_s:
        return f"shorter than min_duration_s: {duration_s:.3f} s < {min_duration_s:g} s"
    peak = float(np.abs(waveform).max())
    if peak < silence_peak:
        return f"all-silent: peak {peak:.3g} < silence_peak {silence_peak:g}"
    return None


def probe_audio_file(
    path: Path, min_duration_s: float, silence_peak: float, truncation_tolerance_s: float
) -> AudioProbe:
    """Decode one file fully and say whether it is usable: readable, complete, long, not silent.

    Any sample rate and channel count is accepted (the encoder resamples and mixes down).
    """
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        expected = ", ".join(AUDIO_EXTENSIONS)
        return AudioProbe.unusable(f"wrong extension '{path.suffix}' (expected one of {expected})")
    try:
        if path.stat().st_size == 0:
            return AudioProbe.unusable("zero-length file (0 bytes)")
        info = sf.info(str(path))
        waveform, sample_rate = read_audio(path)
    except Exception as err:  # a C decoder on arbitrary bytes: any failure is this file's fault
        return AudioProbe.unusable(f"unreadable or truncated: {err}")
    frames, channels = waveform.shape
    duration_s = frames / sample_rate
    tolerance_frames = round(truncation_tolerance_s * sample_rate)
    problem = _truncation(
        info.frames, frames, tolerance_frames, info.extra_info
    ) or _content_problem(waveform, duration_s, min_duration_s, silence_peak)
    return AudioProbe(duration_s, sample_rate, channels, problem)


class _AudioFolder:
    """The names in one audio folder, sorted, for ``<youtube_id>*`` look-ups."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.exists = folder.is_dir()
        entries = []
        if self.exists:
            with os.scandir(folder) as scan:
                entries = list(scan)
        self.names = sorted(e.name for e in entries if not e.name.startswith("."))
        self.not_files = {e.name for e in entries if not e.is_file()}
        self.matched: set[str] = set()  # names that belong to some clip
        self.chosen: set[str] = set()  # the one name per clip that is decoded

    def candidates(self, youtube_id: str, start_time: str) -> list[str]:
        """Files of this clip, best first: ``<id>_<start>.*``, ``<id>.*``, then the rest."""
        found = []
        for name in self.names[bisect.bisect_left(self.names, youtube_id) :]:
            if not name.startswith(youtube_id):
                break
            rest = name[len(youtube_id) :]
            if name in self.not_files or rest[:1] not in ("_", "."):
                continue
            other_start = re.fullmatch(r"_(\d+(?:\.\d+)?)(\.[^.]*)?", rest)
            if other_start and _start_time(other_start.group(1)) != start_time:
                continue  # another segment of the same video
            found.append(name)
        exact = {f"{youtube_id}_{start_time}": 0, youtube_id: 1}
        return sorted(found, key=lambda n: (exact.get(Path(n).stem, 2), n))

    def choose(self, youtube_id: str, start_time: str) -> Path | None:
        """The clip's file (an audio extension preferred), or None; remembers what matched."""
        names = self.candidates(youtube_id, start_time)
        if not names:
            return None
        audio = [n for n in names if Path(n).suffix.lower() in AUDIO_EXTENSIONS]
        self.matched.update(names)
        self.chosen.add((audio or names)[0])
        return self.folder / (audio or names)[0]


def _unused_files(folder: _AudioFolder, split: str, layout: Layout) -> list[dict]:
    issues = []
    for name in folder.names:
        file = _relative(folder.folder / name, layout.root)
        if name in folder.not_files:
            reason = "not a regular file"
        elif name not in folder.matched:
            reason = "no accepted caption row refers to this file"
        elif name not in folder.chosen:
            reason = "another file was used for the same clip"
        else:
            continue
        issues.append(_issue(split, file, "audio", reason))
    return issues


def _unknown_audio_folders(layout: Layout) -> list[dict]:
    if not layout.audio_root.is_dir():
        return []
    issues = []
    for entry in sorted(layout.audio_root.iterdir()):
        if entry.name.startswith(".") or entry.name in SPLITS:
            continue
        reason = (
            f"unknown split folder '{entry.name}' (expected one of {', '.join(SPLITS)})"
            if entry.is_dir()
            else "audio file outside a split folder"
        )
        split = entry.name if entry.is_dir() else None
        issues.append(_issue(split, _relative(entry, layout.root), "audio", reason))
    return issues


def probe_clip_audio(
    caption_rows: pd.DataFrame, params: DataPrepParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Find and decode every clip's audio file (a thread pool, with a progress bar).

    Returns one probe per clip (``PROBE_COLUMNS``: ``problem`` says why a clip has no usable
    audio) and the audio files that no clip uses (``QUALITY_COLUMNS``).
    """
    layout = locate(params)
    clips = caption_rows.drop_duplicates("clip_id")[
        ["clip_id", "split", "youtube_id", "start_time"]
    ]
    folders = {s.split: _AudioFolder(s.audio_dir) for s in layout.sources}
    paths = [
        folders[split].choose(youtube_id, start_time)
        for split, youtube_id, start_time in zip(
            clips["split"], clips["youtube_id"], clips["start_time"], strict=True
        )
    ]
    to_decode = [path for path in paths if path is not None]
    with ThreadPoolExecutor(max_workers=params.num_workers) as pool:
        decoded = dict(
            zip(
                to_decode,
                tqdm(
                    pool.map(
                        lambda path: probe_audio_file(
                            path,
                            params.min_duration_s,
                            params.silence_peak,
                            params.truncation_tolerance_s,
                        ),
                        to_decode,
                    ),
                    total=len(to_decode),
                    desc="Decoding audio",
                    unit="file",
                ),
                strict=True,
            )
        )

    probes = []
    for clip_id, split, youtube_id, path in zip(
        clips["clip_id"], clips["split"], clips["youtube_id"], paths, strict=True
    ):
        folder = folders[split]
        if path is None:
            expected = _relative(folder.folder, layout.root)
            probe = AudioProbe.unusable(
                f"no audio file {youtube_id}* in {expected}/"
                if folder.exists
                else f"no audio folder {expected}/"
            )
            file = f"{expected}/{youtube_id}*"
        else:
            probe = decoded[path]
            file = _relative(path, layout.root)
        usable = probe.problem is None
        probes.append(
            {
                "clip_id": clip_id,
                "split": split,
                "audio_path": str(path) if usable else None,
                "duration_s": probe.duration_s if usable else None,
                "sample_rate": probe.sample_rate if usable else None,
                "channels": probe.channels if usable else None,
                "file": file,
                "problem": probe.problem,
            }
        )

    issues = _unknown_audio_folders(layout)
    for split, folder in folders.items():
        issues += _unused_files(folder, split, layout)
    probe_frame = pd.DataFrame(probes, columns=PROBE_COLUMNS)
    probe_frame["duration_s"] = probe_frame["duration_s"].astype("float64")
    probe_frame[["sample_rate", "channels"]] = probe_frame[["sample_rate", "channels"]].astype(
        "Int64"
    )
    logger.info(
        "%d clips: %d with usable audio, %d without",
        len(probe_frame),
        probe_frame["problem"].isna().sum(),
        probe_frame["problem"].notna().sum(),
    )
    return probe_frame, _quality_frame(issues)


def assemble(
    caption_rows: pd.DataFrame,
    text_quality: pd.DataFrame,
    audio_probes: pd.DataFrame,
    audio_quality: pd.DataFrame,
    params: DataPrepParams,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply ``require_audio`` and return ``clips``, ``captions`` and ``data_quality``.

    A clip without usable audio is rejected with all its captions when ``require_audio`` is
    true, and kept text-only otherwise; either way ``data_quality`` has one row saying why.
    Raises ``CaptionFileError`` when that leaves the train split without a clip.
    """
    action = REJECTED if params.require_audio else KEPT_TEXT_ONLY
    no_audio = audio_probes[audio_probes["problem"].notna()]
    n_captions = caption_rows["clip_id"].value_counts()
    clip_issues = [
        _issue(
            split,
            file,
            "audio",
            f"{problem} ({n_captions[clip_id]} caption row(s) rejected)"
            if params.require_audio
            else problem,
            action,
            clip_id=clip_id,
        )
        for clip_id, split, file, problem in zip(
            no_audio["clip_id"],
            no_audio["split"],
            no_audio["file"],
            no_audio["problem"],
            strict=True,
        )
    ]
    quality = pd.concat(
        [
            frame
            for frame in (text_quality, _quality_frame(clip_issues), audio_quality)
            if not frame.empty
        ]
        or [_quality_frame([])],
        ignore_index=True,
    )

    clips = audio_probes
    if params.require_audio:
        clips = audio_probes[audio_probes["problem"].isna()]
        if clips.empty:
            raise ValueError(
                f"data_prep.require_audio is true and no clip has usable audio in "
                f"{', '.join(sorted(set(caption_rows['file'])))} under {params.audiocaps_root}: "
                f"{_summary(quality)}"
            )
        if "train" in params.splits and not (clips["split"] == "train").any():
            train_files = sorted(set(caption_rows.loc[caption_rows["split"] == "train", "file"]))
            raise CaptionFileError(
                f"data_prep.require_audio is true and no clip of split 'train' has usable audio "
                f"({', '.join(train_files)} under {params.audiocaps_root}): the train split would "
                f"be empty; {_summary(quality[quality['split'] == 'train'])}"
            )
    kept = caption_rows["clip_id"].isin(clips["clip_id"])
    captions = caption_rows.loc[kept, CAPTION_COLUMNS].reset_index(drop=True)
    clips = clips[CLIP_COLUMNS].reset_index(drop=True)
    for split in params.splits:
        in_split = clips["split"] == split
        logger.info(
            "%s: %d clips (%d with audio), %d captions",
            split,
            in_split.sum(),
            clips.loc[in_split, "audio_path"].notna().sum(),
            (captions["split"] == split).sum(),
        )
    logger.info("data_quality: %d entries (%s)", len(quality), _summary(quality))
    return clips, captions, quality


def prepare_audiocaps(params: DataPrepParams) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """All three steps at once: ``clips``, ``captions`` and ``data_quality`` for a root."""
    caption_rows, text_quality = read_caption_rows(params)
    audio_probes, audio_quality = probe_clip_audio(caption_rows, params)
    return assemble(caption_rows, text_quality, audio_probes, audio_quality, params)
