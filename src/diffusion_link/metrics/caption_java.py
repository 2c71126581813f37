"""The Java programs behind the caption metrics (pycocoevalcap 1.2): PTB tokeniser, METEOR, SPICE.

Each is started once per call however many captions it handles (see
:mod:`diffusion_link.metrics.caption_metrics`). SPICE's Stanford CoreNLP jars are looked for
**before** anything starts, so pycocoevalcap never tries its download. :func:`metric_jars` names
the jars a call ran (the report's provenance hashes them), :func:`java_version` the Java.

SPICE runs **without** ``-cache``: spice-1.0.jar's cache serialises parses with FST 2.47 into
LMDB, which fails on Java 17 (FST reflects into ``java.base`` internals that Java 17 no longer
opens). pycocoevalcap's own wrapper passes ``-cache``; here the cache lay in a temporary folder
deleted after each call, so it was never reused and leaving it out loses nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPICE_CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
SPICE_JAR = "spice-1.0.jar"


class JavaNotFoundError(RuntimeError):
    """pycocoevalcap's tokeniser, METEOR and SPICE need a Java runtime on PATH."""


def package_dir() -> Path:
    """pycocoevalcap's installed folder (its jars live under it)."""
    import pycocoevalcap

    # pycocoevalcap is a namespace-like package without __file__ in some installs
    return Path(next(iter(pycocoevalcap.__path__)))


def java_executable() -> str:
    """The ``java`` executable on PATH; :class:`JavaNotFoundError` when there is none."""
    java = shutil.which("java")
    if java is None:
        raise JavaNotFoundError(
            "caption metrics need Java (pycocoevalcap's PTB tokenizer, METEOR and SPICE are Java "
            "programs) but no `java` is on PATH: install a Java runtime, e.g. "
            "`apt-get install -y default-jre-headless` (Java 17 works)"
        )
    return java


def java_version() -> str:
    """The first line of ``java -version`` (e.g. ``openjdk version "17.0.15" 2025-04-15``)."""
    result = subprocess.run(
        [java_executable(), "-version"], capture_output=True, text=True, check=True
    )
    return (result.stderr or result.stdout).splitlines()[0].strip()


def tokenizer_jar() -> Path:
    """The Stanford CoreNLP 3.4.1 jar that runs PTBTokenizer (pycocoevalcap's)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import STANFORD_CORENLP_3_4_1_JAR

    return package_dir() / "tokenizer" / STANFORD_CORENLP_3_4_1_JAR


def meteor_jar() -> Path:
    """meteor-1.5.jar, which pycocoevalcap's ``Meteor`` starts from its own folder."""
    from pycocoevalcap.meteor.meteor import METEOR_JAR

    return package_dir() / "meteor" / METEOR_JAR


def metric_jars(spice_dir: Path | None) -> list[Path]:
    """Every jar a scoring call runs: the tokeniser's and METEOR's, and, when ``spice_dir`` is
    given (SPICE ran), spice-1.0.jar and the jars of its ``lib`` folder (its class path)."""
    jars = [tokenizer_jar(), meteor_jar()]
    if spice_dir is not None:
        jars += [spice_dir / SPICE_JAR, *sorted((spice_dir / "lib").glob("*.jar"))]
    return jars


def spice_unavailable_reason(spice_dir: Path | None = None) -> str | None:
    """Why SPICE cannot run here, or ``None`` when its jars are all in place.

    Only looks at files: never calls pycocoevalcap's ``get_stanford_models`` (which downloads).
    """
    spice_dir = spice_dir or package_dir() / "spice"
    if not (spice_dir / SPICE_JAR).is_file():
        return f"SPICE's jar {spice_dir / SPICE_JAR} is missing"
    missing = [name for name in SPICE_CORENLP_JARS if not (spice_dir / "lib" / name).is_file()]
    if missing:
        return (
            f"Stanford CoreNLP 3.6.0 is not installed for SPICE: {', '.join(missing)} not in "
            f"{spice_dir / 'lib'} (pycocoevalcap downloads them from nlp.stanford.edu on first "
            "use, which this machine cannot reach; copy them there from "
            "stanford-corenlp-full-2015-12-09.zip to enable SPICE and SPIDEr)"
        )
    return None


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """PTB-tokenise ``sentences`` in ONE Java process, exactly as pycocoevalcap's PTBTokenizer.

    pycocoevalcap's own wrapper writes its temporary file into site-packages and does not check
    the tokeniser's output; this one uses a private temporary file and checks the line count.
    """
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

    lines = [sentence.replace("\n", " ").replace("\r", " ") for sentence in sentences]
    with tempfile.TemporaryDirectory(prefix="ptb-") as folder:
        path = Path(folder) / "sentences.txt"
        path.write_text("\n".join(lines), encoding="utf-8")
        result = subprocess.run(
            [
                java_executable(),
                "-cp",
                str(tokenizer_jar()),
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                str(path),
            ],
            capture_output=True,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"PTBTokenizer failed: {result.stderr.decode(errors='replace')}")
    tokenised = result.stdout.decode("utf-8").split("\n")[: len(lines)]
    if len(tokenised) != len(lines):
        raise RuntimeError(f"PTBTokenizer returned {len(tokenised)} lines for {len(lines)}")
    return [
        " ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS) for line in tokenised
    ]


class Meteor:
    """One running ``meteor-1.5.jar -stdio`` (pycocoevalcap's wrapper), closed on exit."""

    def __enter__(self) -> Meteor:
        """Start the jar."""
        from pycocoevalcap.meteor.meteor import Meteor as PycocoMeteor

        self.meteor = PycocoMeteor()
        return self

    def score(self, gts: dict[str, list[str]], res: dict[str, list[str]]) -> float:
        """METEOR of ``res`` against ``gts``: one ``EVAL`` request, the jar's corpus score."""
        try:
            score, _ = self.meteor.compute_score(gts, res)
        except ValueError as error:  # the jar died: its stdout ended early
            stderr = self.meteor.meteor_p.stderr.read1().decode(errors="replace")
            raise RuntimeError(f"METEOR (meteor-1.5.jar) failed: {stderr or error}") from error
        return float(score)

    def __exit__(self, *exc: Any) -> None:
        """Close the jar's input and end it."""
        process = self.meteor.meteor_p
        if process.stdin:
            process.stdin.close()
        process.kill()
        process.wait()


def spice_command(spice_dir: Path, in_file: Path, out_file: Path) -> list[str]:
    """The command line of one spice-1.0.jar run: safe on Java 17 (no ``-cache``, see the
    module's docstring), 8 GB of heap as pycocoevalcap gives it."""
    return [
        java_executable(),
        "-Xmx8G",
        "-jar",
        str(spice_dir / SPICE_JAR),
        str(in_file),
        "-out",
        str(out_file),
        "-subset",
        "-silent",
    ]


def spice_scores(
    gts: dict[str, list[str]], res: dict[str, list[str]], spice_dir: Path
) -> dict[str, float]:
    """Per-caption SPICE F-scores of ``res`` against ``gts`` in ONE spice-1.0.jar run."""
    with tempfile.TemporaryDirectory(prefix="spice-") as folder:
        in_file, out_file = Path(folder) / "in.json", Path(folder) / "out.json"
        in_file.write_text(
            json.dumps([{"image_id": k, "test": res[k][0], "refs": gts[k]} for k in res])
        )
        subprocess.run(spice_command(spice_dir, in_file, out_file), cwd=spice_dir, check=True)
        results = json.loads(out_file.read_text())
    return {item["image_id"]: float(item["scores"]["All"]["f"]) for item in results}
