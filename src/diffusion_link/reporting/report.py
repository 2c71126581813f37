"""report.json: every number of the evaluation, JSON-safe, with what was unavailable and why.

:class:`EmbeddingTables` reads what the report states of the run's embedding tables;
:func:`report_json` gathers the evaluation's outputs into report.json's schema (non-finite
numbers become ``None`` and are listed as unavailable). The markdown beside it is written by
:mod:`diffusion_link.reporting.report_markdown`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from diffusion_link.core.pairs import split_pairs


@dataclass(frozen=True)
class EmbeddingTables:
    """What the report states of the run's embedding tables on the evaluated split."""

    n_clips: int
    n_captions: int  # reference captions of those clips
    n_train_captions: int
    simulated_audio: bool
    attrs: dict[str, Any]  # the text table's, then the audio table's: encoder, checkpoint, ...

    @classmethod
    def read(
        cls, text_embeddings: pd.DataFrame, audio_embeddings: pd.DataFrame, split: str, train: str
    ) -> EmbeddingTables:
        """The counts of ``split`` (and of the ``train`` split's captions) and the attributes."""
        split_audio = audio_embeddings.loc[audio_embeddings["split"] == split, "clip_id"]
        pairs = split_pairs(split_audio, text_embeddings, split)
        return cls(
            n_clips=len(pairs.clip_ids),
            n_captions=len(pairs.captions),
            n_train_captions=int((text_embeddings["split"] == train).sum()),
            simulated_audio=bool(audio_embeddings.attrs.get("simulated_audio", False)),
            attrs={**text_embeddings.attrs, **audio_embeddings.attrs},
        )

    def header(self, dataset_name: str) -> dict[str, Any]:
        """report.json's ``dataset``, ``encoder`` and ``simulated_audio`` entries."""
        return {
            "dataset": {
                "name": dataset_name,
                "n_test_clips": self.n_clips,
                "n_train_captions": self.n_train_captions,
            },
            "encoder": str(self.attrs.get("encoder", "unknown")),
            "simulated_audio": self.simulated_audio,
        }


def report_json(
    header: dict[str, Any],
    modality_gap: dict[str, dict[str, float]],
    s_star: dict[str, float],
    captioning: dict[str, dict[str, Any]],
    training: dict[str, dict[str, Any]],
    agreement: dict[str, float],
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """report.json: every number of the run, JSON-safe, non-finite ones listed as unavailable.

    ``header`` is :meth:`EmbeddingTables.header`; ``captioning`` is ``{"captioning": ...,
    "unavailable": ...}`` as the captioning metrics return it; ``agreement`` adds each bridge's
    ``draw_agreement`` to its gap measures; ``provenance`` is what produced the run
    (:func:`diffusion_link.reporting.provenance.provenance`), stored as it is.
    """
    report = {
        **header,
        "modality_gap": {
            bridge: {
                key: _number(value)
                for key, value in {**values, **_only(agreement, bridge, "draw_agreement")}.items()
            }
            for bridge, values in modality_gap.items()
        },
        "s_star_sweep": {key: _number(value) for key, value in s_star.items()},
        "captioning": captioning["captioning"],
        "unavailable": dict(captioning["unavailable"]),
        "training": training,
        "provenance": provenance,
    }
    for bridge, values in report["modality_gap"].items():
        for key, value in values.items():
            if value is None:
                report["unavailable"][f"modality_gap.{bridge}.{key}"] = "not a finite number"
    for key, value in report["s_star_sweep"].items():
        if value is None:
            report["unavailable"][f"s_star_sweep.{key}"] = "not a finite number"
    return report


def _only(values: dict[str, float], key: str, name: str) -> dict[str, float]:
    """``{name: values[key]}`` when ``values`` has ``key``, else nothing."""
    return {name: values[key]} if key in values else {}


def _number(value: float) -> float | None:
    """``value`` rounded to 6 decimals, or ``None`` when it is not finite."""
    return round(float(value), 6) if math.isfinite(value) else None
