"""Caption audio end to end: frozen encoder -> bridge -> caption decoder (the paper's chain).

:class:`Captioner` chains the project's own pieces, loaded by their own loaders: a
:class:`~diffusion_link.encoders.laion_clap.LaionClapEncoder` (audio decoded and batched in
DataLoader workers, as in the ``embedding`` pipeline), any registered bridge
(:func:`~diffusion_link.core.bridges.load_bridge`) or none, and a
:class:`~diffusion_link.decoder.model.CaptionDecoder` of either mode. Plain PyTorch: nothing
here imports Kedro.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from diffusion_link.captioning.inputs import AudioInput, InputChecks, check_input, describe
from diffusion_link.core.baselines import IdentityBridge
from diffusion_link.core.bridges import Bridge, load_bridge
from diffusion_link.decoder.config import GenerationSettings
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.device import resolve_device
from diffusion_link.encoders.base import Encoder
from diffusion_link.encoders.laion_clap import LaionClapEncoder, LaionClapSettings

logger = logging.getLogger(__name__)

# The columns of a captions table: one row per input, then the models that captioned them.
CAPTION_COLUMNS = ["file", "caption", "duration_s", "reason"]


class ModelChainError(ValueError):
    """An encoder, bridge and decoder whose embedding dimensions do not chain."""


@dataclass(frozen=True)
class Caption:
    """One input's caption, or the reason it has none (``text`` None)."""

    source: str
    text: str | None
    duration_s: float | None
    reason: str | None = None

    def line(self) -> str:
        """``<source>\\t<caption>``, or ``<source>\\t[not captioned: <reason>]``."""
        text = self.text if self.reason is None else f"[not captioned: {self.reason}]"
        return f"{self.source}\t{text}"


def check_chain(encoder: Encoder, bridge: Bridge, decoder: CaptionDecoder) -> None:
    """Raise :class:`ModelChainError`, naming both sides, where two neighbours do not fit."""
    sides = [
        (f"encoder {encoder.name} ({encoder.checkpoint_id})", "makes", encoder.dim),
        (f"bridge {bridge.method}", "takes and makes", bridge.dim),
        (f"decoder ({decoder.config.mode})", "takes", decoder.config.embedding_dim),
    ]
    for (left, left_verb, left_dim), (right, right_verb, right_dim) in zip(
        sides, sides[1:], strict=False
    ):
        if left_dim != right_dim:
            raise ModelChainError(
                f"the {left} {left_verb} {left_dim}-d embeddings but the {right} {right_verb} "
                f"{right_dim}-d ones: they do not chain (use models trained on this encoder)"
            )


def warn_on_other_bridge(bridge: Bridge, decoder: CaptionDecoder) -> None:
    """Warn when the decoder was trained on another bridge's outputs than ``bridge``'s."""
    trained = decoder.trained_on.get("bridge")
    if trained is None:
        logger.warning(
            "the decoder does not record which bridge's outputs it was trained on (saved before "
            "this was recorded): cannot check that it fits bridge %r",
            bridge.method,
        )
    elif trained != bridge.method:
        logger.warning(
            "the decoder (%s) was trained on the outputs of bridge %r, but is given bridge %r: "
            "its captions will suffer",
            decoder.trained_on.get("variant", "?"),
            trained,
            bridge.method,
        )


def meaningless_warning(encoder: Encoder) -> str:
    """What makes every caption of this chain meaningless ("" when nothing is known to)."""
    if encoder.untrained:
        return (
            f"THESE CAPTIONS ARE MEANINGLESS: the {encoder.name} checkpoint "
            f"({encoder.checkpoint_id}) was never trained (its batch-norm layers saw 0 batches)"
        )
    return ""


class Captioner:
    """Audio files or waveforms in, one :class:`Caption` per input out, in batches."""

    def __init__(
        self,
        encoder: Encoder,
        bridge: Bridge,
        decoder: CaptionDecoder,
        generation: GenerationSettings | None = None,
        checks: InputChecks | None = None,
        seed: int = 0,
        models: Mapping[str, str] | None = None,
    ) -> None:
        """Chain loaded models; ``models`` names them in captions tables (see from_pretrained)."""
        if encoder.simulated_audio:
            raise ValueError(
                f"the {encoder.name} encoder simulates audio embeddings from captions; captioning "
                "audio needs an encoder that reads it (laion_clap)"
            )
        check_chain(encoder, bridge, decoder)
        warn_on_other_bridge(bridge, decoder)
        self.warning = meaningless_warning(encoder)
        if self.warning:
            logger.warning(self.warning)
        self.encoder, self.decoder = encoder, decoder
        self.device = decoder.device
        self.bridge = bridge.to(self.device)
        self.generation = generation or GenerationSettings()
        self.checks = checks or InputChecks()
        self.seed = seed
        self.models = dict(models or {"encoder": encoder.checkpoint_id, "bridge": bridge.method})
        self.models["warning"] = self.warning

    @classmethod
    def from_pretrained(
        cls,
        encoder: Encoder | LaionClapSettings | str | Path,
        bridge: Bridge | str | Path | None,
        decoder: CaptionDecoder | str | Path,
        device: str = "auto",
        base_model: str | None = None,
        **kwargs: object,
    ) -> Captioner:
        """Load the chain: a LAION-CLAP checkpoint file (or settings, or an encoder), a saved
        bridge folder (or a bridge, or None: the raw encoder embeddings) and a saved decoder
        folder (or a decoder), all on ``device`` (``auto``: CUDA when available).

        ``base_model`` overrides where the decoder's base LLM is found; ``kwargs`` go to
        :class:`Captioner` (``generation``, ``checks``, ``seed``).
        """
        device = str(resolve_device(device))
        if isinstance(encoder, str | Path):
            encoder = LaionClapSettings(checkpoint=encoder, tokenizer=None)
        if isinstance(encoder, LaionClapSettings):
            encoder = LaionClapEncoder(replace(encoder, device=device))
        models = {"encoder": encoder.checkpoint_id, "bridge_folder": "", "decoder_folder": ""}
        if bridge is None:
            bridge = IdentityBridge(encoder.dim)
        elif isinstance(bridge, str | Path):
            models["bridge_folder"] = str(bridge)
            bridge = load_bridge(bridge, map_location=device)
        if isinstance(decoder, str | Path):
            models["decoder_folder"] = str(decoder)
            decoder = CaptionDecoder.from_pretrained(decoder, base_model, device)
        models |= {"bridge": bridge.method, "decoder": decoder.trained_on.get("variant", "")}
        return cls(encoder, bridge, decoder, models=models, **kwargs)

    def caption(
        self,
        inputs: Sequence[AudioInput],
        batch_size: int | None = None,
        num_beams: int | None = None,
        progress: bool = False,
    ) -> list[Caption]:
        """One :class:`Caption` per input: files (paths) or ``(samples, sample_rate)`` pairs.

        Bad inputs (missing, unreadable, empty, silent, unsupported format) get a reason and no
        caption; the others are embedded, bridged (noise seeded by ``seed``) and decoded in
        batches of ``batch_size`` with ``num_beams`` (defaults: the ``generation`` settings).
        """
        inputs = list(inputs)
        bar = tqdm(inputs, desc="checking audio", unit="file", disable=not progress)
        probes = [check_input(item, self.checks) for item in bar]
        good = [i for i, probe in enumerate(probes) if probe.problem is None]
        texts = self._captions([inputs[i] for i in good], batch_size, num_beams)
        by_input = dict(zip(good, texts, strict=True))
        for i, probe in enumerate(probes):
            if probe.problem is not None:
                logger.warning("%s not captioned: %s", describe(inputs[i], i), probe.problem)
        return [
            Caption(describe(item, i), by_input.get(i), probe.duration_s, probe.problem)
            for i, (item, probe) in enumerate(zip(inputs, probes, strict=True))
        ]

    def _captions(
        self, inputs: list[AudioInput], batch_size: int | None, num_beams: int | None
    ) -> list[str]:
        if not inputs:
            return []
        overrides = {"batch_size": batch_size, "num_beams": num_beams}
        settings = replace(self.generation, **{k: v for k, v in overrides.items() if v is not None})
        audio = torch.from_numpy(self.encoder.embed_audio(inputs)).to(self.device)
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        text_like = self.bridge.bridge(audio, modality="audio", generator=generator)
        return self.decoder.generate(text_like, settings)

    def table(self, captions: Sequence[Caption]) -> pd.DataFrame:
        """The captions table: file, caption, duration_s, reason, then the models' columns and
        ``warning`` (why every caption is meaningless, or empty)."""
        rows = [(c.source, c.text, c.duration_s, c.reason) for c in captions]
        table = pd.DataFrame(rows, columns=CAPTION_COLUMNS).astype({"duration_s": float})
        return table.assign(**self.models)
