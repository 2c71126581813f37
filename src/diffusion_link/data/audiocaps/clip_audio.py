"""Each clip's audio file found in its split folder and probed; the files no clip uses.

An audio file belongs to a clip when its name is ``<youtube_id>`` followed by ``.`` or ``_``; a
name ``<youtube_id>_<number>`` must carry the clip's own start time. ``<youtube_id>_<start_time>``
is preferred to ``<youtube_id>``. Hidden files (``.name``) are ignored.
"""

from __future__ import annotations

import bisect
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from diffusion_link.data.audio import AUDIO_EXTENSIONS
from diffusion_link.data.audiocaps.captions import normalised_start_time
from diffusion_link.data.audiocaps.config import SPLITS, AudioCapsConfig
from diffusion_link.data.audiocaps.layout import Layout, display_path, locate
from diffusion_link.data.audiocaps.probe import AudioProbe, probe_audio_file
from diffusion_link.data.audiocaps.tables import PROBE_COLUMNS, quality_frame, quality_issue

logger = logging.getLogger(__name__)


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
            if other_start and normalised_start_time(other_start.group(1)) != start_time:
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
    """``data_quality`` rows for the files of a split folder that no clip uses."""
    issues = []
    for name in folder.names:
        file = display_path(folder.folder / name, layout.root)
        if name in folder.not_files:
            reason = "not a regular file"
        elif name not in folder.matched:
            reason = "no accepted caption row refers to this file"
        elif name not in folder.chosen:
            reason = "another file was used for the same clip"
        else:
            continue
        issues.append(quality_issue(split, file, "audio", reason))
    return issues


def _unknown_audio_folders(layout: Layout) -> list[dict]:
    """``data_quality`` rows for what lies in the audio root besides the split folders."""
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
        issues.append(quality_issue(split, display_path(entry, layout.root), "audio", reason))
    return issues


def probe_clip_audio(
    caption_rows: pd.DataFrame, config: AudioCapsConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Find and decode every clip's audio file (a thread pool, with a progress bar).

    Returns one probe per clip (``PROBE_COLUMNS``: ``problem`` says why a clip has no usable
    audio) and the audio files that no clip uses (``QUALITY_COLUMNS``).
    """
    layout = locate(config)
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
    with ThreadPoolExecutor(max_workers=config.num_workers) as pool:
        decoded = dict(
            zip(
                to_decode,
                tqdm(
                    pool.map(
                        lambda path: probe_audio_file(
                            path,
                            config.min_duration_s,
                            config.silence_peak,
                            config.truncation_tolerance_s,
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
            expected = display_path(folder.folder, layout.root)
            probe = AudioProbe.unusable(
                f"no audio file {youtube_id}* in {expected}/"
                if folder.exists
                else f"no audio folder {expected}/"
            )
            file = f"{expected}/{youtube_id}*"
        else:
            probe = decoded[path]
            file = display_path(path, layout.root)
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
    return probe_frame, quality_frame(issues)
