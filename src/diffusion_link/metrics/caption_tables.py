"""Tables 3-4 from a ``generated_captions`` table: its checks, its variants, the scores by mode
and bridge (no Kedro; the scoring itself is :func:`~diffusion_link.metrics.caption_metrics.caption_report`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from diffusion_link.metrics.caption_metrics import CONSTANT_CAPTION, caption_report

logger = logging.getLogger(__name__)

Variant = tuple[str, str]
"""A decoder variant of ``generated_captions``: (mode, bridge)."""


def caption_references(
    generated_captions: pd.DataFrame,
    captions: pd.DataFrame,
    split: str,
    modes: Sequence[str],
    bridges: Sequence[str],
) -> dict[str, list[str]]:
    """Check ``generated_captions``; every reference caption of each ``split`` clip."""
    missing = {"clip_id", "mode", "bridge", "caption"} - set(generated_captions.columns)
    if missing:
        raise ValueError(f"generated_captions lacks columns {sorted(missing)}")
    for column, allowed in (("mode", tuple(modes)), ("bridge", tuple(bridges))):
        unknown = sorted(set(generated_captions[column]) - set(allowed))
        if unknown:
            raise ValueError(f"generated_captions: unknown {column} {unknown}; allowed {allowed}")
    duplicated = generated_captions.duplicated(["clip_id", "mode", "bridge"])
    if duplicated.any():
        first = generated_captions[duplicated].iloc[0]
        raise ValueError(
            f"generated_captions: {int(duplicated.sum())} repeated (clip_id, mode, bridge), e.g. "
            f"({first['clip_id']}, {first['mode']}, {first['bridge']}): one caption each expected"
        )
    references = (
        captions[captions["split"] == split].groupby("clip_id", sort=False)["caption"].agg(list)
    ).to_dict()
    outside = sorted(set(generated_captions["clip_id"]) - set(references))
    if outside:
        raise ValueError(
            f"generated_captions has {len(outside)} clips with no {split!r} reference "
            f"captions (e.g. {outside[:3]}): captions must be generated for the {split!r} split"
        )
    return references


def caption_variants(generated_captions: pd.DataFrame) -> dict[Variant, dict[str, str]]:
    """Each (mode, bridge) variant's captions: ``{(mode, bridge): {clip id: caption}}``."""
    return {
        (mode, bridge): dict(zip(rows["clip_id"], rows["caption"].astype(str), strict=True))
        for (mode, bridge), rows in generated_captions.groupby(["mode", "bridge"], sort=True)
    }


def captioning_table(
    variants: dict[Variant, dict[str, str]],
    references: dict[str, list[str]],
    training_captions: list[str],
    constant_candidates: int,
) -> dict[str, dict[str, Any]]:
    """Every variant scored (:func:`caption_report`), laid out as report.json's ``captioning``.

    Returns ``{"captioning": {mode: {bridge: {metric: score}}, "constant_caption": {...}},
    "unavailable": {metric: reason}}``.
    """
    result = caption_report(variants, references, training_captions, constant_candidates)
    table: dict[str, dict[str, Any]] = {}
    for (mode, bridge), values in result["scores"].items():
        table.setdefault(mode, {})[bridge] = values
        logger.info(
            "captioning %s/%s on %d clips: METEOR %.1f, CIDEr-D %.1f, %.0f%% distinct, Vocab %d",
            *(mode, bridge, len(variants[(mode, bridge)]), values["METEOR"], values["CIDEr"]),
            *(100 * values["distinct_share"], values["Vocab"]),
        )
    constant = result["constant_caption"]
    if constant is not None:
        table[CONSTANT_CAPTION] = constant
        logger.info("constant caption %r: CIDEr-D %.1f", constant["caption"], constant["CIDEr"])
    return {"captioning": table, "unavailable": result["unavailable"]}
