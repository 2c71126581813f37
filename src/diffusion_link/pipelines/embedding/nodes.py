"""Nodes of the ``embedding`` pipeline: clips and captions in, L2-normalised embeddings out.

The configured back-end (:data:`diffusion_link.encoders.ENCODERS`) embeds the captions shard by
shard (:mod:`.shards`). How it makes audio embeddings is its own answer: a back-end that reads
audio embeds each shard's files; one that simulates audio (the gap simulator) is fitted on the
train split's captions and simulates one embedding per clip from its captions.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from diffusion_link.data.embeddings import embedding_matrix, with_embeddings
from diffusion_link.encoders import (
    ENCODERS,
    Encoder,
    GapSimulator,
    GapSimulatorEncoder,
    GapSimulatorFit,
    fit_gap_simulator,
)
from diffusion_link.encoders.gap_simulator import mean_caption_embeddings, split_statistics
from diffusion_link.pipelines.embedding.params import EmbeddingParams
from diffusion_link.pipelines.embedding.shards import (
    align,
    load_partitions,
    partition_name,
    shard_of,
)

logger = logging.getLogger(__name__)

SIMULATED_WARNING = (
    "SIMULATED AUDIO: embedding.encoder is gap_simulator, so audio embeddings are synthesised "
    "from captions, not computed from audio"
)


def encode_shards(
    clips: pd.DataFrame, captions: pd.DataFrame, params: EmbeddingParams
) -> dict[str, pd.DataFrame]:
    """Embed the captions (and, for a back-end that reads audio, the audio) of the shards.

    ``embedding.shard: null`` encodes every shard in this run; an integer encodes only that
    shard, for spreading the work over machines. Returns one partition per modality and shard.
    """
    encoder = _build_encoder(params)
    n = params.num_shards
    shards = range(n) if params.shard is None else [params.shard]
    caption_shard = shard_of(captions["clip_id"], n)
    clip_shard = shard_of(clips["clip_id"], n)
    partitions: dict[str, pd.DataFrame] = {}
    for k in shards:
        shard_clips, shard_captions = clips[clip_shard == k], captions[caption_shard == k]
        partitions.update(_embed_shard(encoder, shard_clips, shard_captions, k, n))
    return partitions


def combine_text_embeddings(
    embedding_shards: dict[str, Any], captions: pd.DataFrame, params: EmbeddingParams
) -> pd.DataFrame:
    """One table of caption embeddings (clip_id, caption_id, split, embedding)."""
    table = load_partitions(embedding_shards, "text", params.encoder, params.num_shards)
    return align(table, captions, "caption_id", "text embeddings")


def fit_gap_simulator_node(
    text_embeddings: pd.DataFrame, params: EmbeddingParams
) -> dict[str, Any]:
    """Fit the gap simulator on the train split; a record saying why not, for real audio."""
    if not ENCODERS[params.encoder].simulated_audio:
        return {"used": False, "reason": f"embedding.encoder is {params.encoder}: audio is real"}
    train = text_embeddings[text_embeddings["split"] == "train"]
    if train.empty:
        raise ValueError("the gap simulator needs train-split captions to fit; there are none")
    clip_ids = pd.Index(train["clip_id"].unique())
    fit = fit_gap_simulator(
        clip_ids.tolist(),
        embedding_matrix(train),
        _pair_index(train, clip_ids),
        params.gap_simulator,
    )
    logger.info("Gap simulator fitted on %d train captions: %s", len(train), fit.summary())
    return {"used": True, "simulated_audio": True, **fit.to_dict()}


def make_audio_embeddings(
    embedding_shards: dict[str, Any],
    clips: pd.DataFrame,
    text_embeddings: pd.DataFrame,
    gap_simulator_fit: dict[str, Any],
    params: EmbeddingParams,
) -> pd.DataFrame:
    """One table of clip embeddings (clip_id, split, embedding).

    Real audio: the combined audio shards, for every clip that has audio. Simulated audio: one
    embedding per clip with captions, from the fitted modality transform.
    """
    if ENCODERS[params.encoder].simulated_audio:
        return _simulated_audio(clips, text_embeddings, gap_simulator_fit)
    table = load_partitions(embedding_shards, "audio", params.encoder, params.num_shards)
    with_audio = clips[clips["audio_path"].notna()]
    logger.info("%d of %d clips have audio embeddings", len(with_audio), len(clips))
    return align(table, with_audio, "clip_id", "audio embeddings")


def _build_encoder(params: EmbeddingParams) -> Encoder:
    backend = ENCODERS[params.encoder]
    if backend.simulated_audio:
        logger.warning(SIMULATED_WARNING)
    return backend.from_params(params)


def _attrs(encoder: Encoder, modality: str, **extra: Any) -> dict[str, Any]:
    return {
        "encoder": encoder.name,
        "checkpoint": encoder.checkpoint_id,
        "dim": encoder.dim,
        "simulated_audio": encoder.simulated_audio,
        "modality": modality,
        **extra,
    }


def _embed_shard(
    encoder: Encoder, clips: pd.DataFrame, captions: pd.DataFrame, k: int, n: int
) -> dict[str, pd.DataFrame]:
    """Shard ``k`` of ``n``: its captions' embeddings, and its audio files' where read."""
    logger.info("Shard %d/%d: embedding %d captions", k + 1, n, len(captions))
    vectors = encoder.embed_text(captions["caption"].tolist())
    partitions = {
        partition_name("text", k, n): with_embeddings(
            captions[["clip_id", "caption_id", "split"]], vectors, _attrs(encoder, "text", shard=k)
        )
    }
    if encoder.simulated_audio:  # simulated from all captions by make_audio_embeddings
        return partitions
    audio = clips[clips["audio_path"].notna()]
    logger.info("Shard %d/%d: embedding %d audio clips", k + 1, n, len(audio))
    vectors = encoder.embed_audio(audio["audio_path"].tolist())
    partitions[partition_name("audio", k, n)] = with_embeddings(
        audio[["clip_id", "split"]], vectors, _attrs(encoder, "audio", shard=k)
    )
    return partitions


def _pair_index(text: pd.DataFrame, clip_ids: pd.Index) -> np.ndarray:
    return clip_ids.get_indexer(text["clip_id"])


def _simulated_audio(
    clips: pd.DataFrame, text_embeddings: pd.DataFrame, fit_record: dict[str, Any]
) -> pd.DataFrame:
    """One simulated audio embedding per clip with captions, with the simulator's statistics."""
    logger.warning(SIMULATED_WARNING)
    fit = GapSimulatorFit.from_dict(
        {k: v for k, v in fit_record.items() if k not in ("used", "simulated_audio")}
    )
    clip_table = clips[clips["clip_id"].isin(text_embeddings["clip_id"])][["clip_id", "split"]]
    clip_ids = pd.Index(clip_table["clip_id"])
    text = embedding_matrix(text_embeddings)
    pair_index = _pair_index(text_embeddings, clip_ids)
    simulator = GapSimulator(fit)
    audio = simulator.simulate(
        clip_ids.tolist(), mean_caption_embeddings(text, pair_index, len(clip_ids))
    )
    statistics = split_statistics(
        simulator,
        audio,
        clip_ids.tolist(),
        clip_table["split"].tolist(),
        text,
        text_embeddings["clip_id"].tolist(),
        text_embeddings["split"].tolist(),
    )
    for split, values in statistics.items():
        logger.info("Simulated %s split: %s", split, {k: round(v, 4) for k, v in values.items()})
    attrs = {
        **{k: v for k, v in text_embeddings.attrs.items() if k not in ("modality", "num_shards")},
        "encoder": GapSimulatorEncoder.name,
        "checkpoint": f"gap_simulator(seed={fit.seed}) over {text_embeddings.attrs['checkpoint']}",
        "simulated_audio": True,
        "modality": "audio",
        "split_statistics": statistics,
        "gap_simulator_targets": fit.targets,
        "gap_simulator_achieved": fit.achieved,
        "gap_simulator_missed": fit.missed,
    }
    return with_embeddings(clip_table, audio, attrs)
