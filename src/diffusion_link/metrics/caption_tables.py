"""Tables 3-4 from a ``generated_captions`` table: its checks, its variants, the scores by mode
and bridge, and the per-clip results (no Kedro; the scoring itself is
:func:`~diffusion_link.metrics.caption_metrics.caption_report`).
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


CAPTION_RESULTS_COLUMNS = ("mode", "bridge", "clip_id", "caption", "references", "cider_d")
"""The columns of ``caption_results``: one row per (variant, clip); ``cider_d`` is x100."""


def caption_results(
    variants: dict[Variant, dict[str, str]],
    references: dict[str, list[str]],
    cider_d: dict[Variant, dict[str, float]],
) -> pd.DataFrame:
    """``caption_results``: each variant's caption of each clip, all the clip's reference
    captions and its CIDEr-D (x100), sorted by mode, bridge and clip."""
    rows = [
        (mode, bridge, clip, caption, list(references[clip]), cider_d[(mode, bridge)][clip])
        for (mode, bridge), captions in variants.items()
        for clip, caption in captions.items()
    ]
    table = pd.DataFrame(rows, columns=list(CAPTION_RESULTS_COLUMNS))
    return table.sort_values(["mode", "bridge", "clip_id"], ignore_index=True)


def captioning_table(
    variants: dict[Variant, dict[str, str]],
    references: dict[str, list[str]],
    training_captions: list[str],
    constant_candidates: int,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Every variant scored (:func:`caption_report`), laid out as report.json's ``captioning``,
    and the per-clip results (:func:`caption_results`).

    Returns ``({"captioning": {mode: {bridge: {metric: score}}, "constant_caption": {...}},
    "unavailable": {metric: reason}, "jars": [path of every jar that ran]}, caption_results)``.
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
    scores = {
        "captioning": table,
        "unavailable": result["unavailable"],
        "jars": [str(jar) for jar in result["jars"]],
    }
    return scores, caption_results(variants, references, result["cider_d"])
