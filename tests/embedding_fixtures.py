"""Small real embedding tables for pipeline tests: default captions through all-MiniLM-L6-v2
and their clips' audio simulated by the gap simulator fitted on the train split, exactly as
the embedding pipeline does (its nodes and the project's parameters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from diffusion_link.data.embeddings import with_embeddings
from diffusion_link.pipelines.embedding.nodes import fit_gap_simulator_node, make_audio_embeddings
from diffusion_link.pipelines.embedding.params import EmbeddingParams

PROJECT = Path(__file__).resolve().parents[1]


def simulated_tables(
    captions: pd.DataFrame,
    text_embeddings: np.ndarray,
    checkpoint_id: str,
    counts: dict[str, int],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(audio, text) tables of the first ``counts[split]`` captions of each split."""
    rows = np.concatenate(
        [
            np.flatnonzero(captions["split"].to_numpy() == split)[:count]
            for split, count in counts.items()
        ]
    )
    chosen = captions.iloc[rows].reset_index(drop=True)
    attrs = {
        "encoder": "gap_simulator",
        "checkpoint": checkpoint_id,
        "dim": int(text_embeddings.shape[1]),
        "simulated_audio": True,
        "modality": "text",
        "num_shards": 1,
    }
    text = with_embeddings(chosen[["clip_id", "caption_id", "split"]], text_embeddings[rows], attrs)
    params = yaml.safe_load((PROJECT / "conf/base/parameters_embedding.yml").read_text())
    embedding_params = EmbeddingParams.model_validate(params["embedding"])
    fit = fit_gap_simulator_node(text, embedding_params)
    clips = chosen[["clip_id", "split"]].drop_duplicates("clip_id").reset_index(drop=True)
    clips["audio_path"] = None
    return make_audio_embeddings({}, clips, text, fit, embedding_params), text
