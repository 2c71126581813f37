"""The paper's frozen LAION-CLAP encoder: texts and audio files to L2-normalised embeddings.

Audio is decoded by :mod:`diffusion_link.data.audio` in DataLoader workers and embedded in
batches, computing what ``CLAP_Module.get_audio_embedding_from_data`` computes (non-fusion)
under ``torch.inference_mode`` (and bfloat16 autocast on CUDA). The network, the checkpoint and
the tokenizer come from the sibling modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from diffusion_link.data.audio import (
    INT16_SCALE,
    Waveform,
    describe_input,
    read_audio,
    to_clap_int16,
)
from diffusion_link.device import resolve_device
from diffusion_link.encoders.laion_clap.checkpoint import (
    check_official_checkpoint,
    checkpoint_identity,
    load_checkpoint_into,
    load_clap_state_dict,
    locate_checkpoint,
    never_trained,
    resolve_checkpoint,
)
from diffusion_link.encoders.laion_clap.errors import AudioDecodeError, LaionClapError
from diffusion_link.encoders.laion_clap.network import build_clap_model
from diffusion_link.encoders.laion_clap.settings import LaionClapSettings
from diffusion_link.encoders.laion_clap.tokenizer import CONTEXT_LENGTH, load_tokenizer

if TYPE_CHECKING:
    from diffusion_link.encoders.base import EncoderChoice

logger = logging.getLogger(__name__)


class LaionClapEncoder:
    """Frozen LAION-CLAP (non-fusion, RoBERTa text branch): texts and audio files to embeddings.

    Built from :class:`LaionClapSettings` (its docstring describes each setting).
    """

    name = "laion_clap"
    simulated_audio = False

    def __init__(self, settings: LaionClapSettings) -> None:
        """Load the tokenizer and the checkpoint ``settings`` name onto their device."""
        if settings.enable_fusion:
            raise NotImplementedError(
                "enable_fusion=True: this encoder implements LAION-CLAP's non-fusion path (the "
                "paper's); use a non-fusion checkpoint such as 630k-audioset-best.pt"
            )
        check_official_checkpoint(settings.checkpoint, settings.audio_model)
        self.batch_size = settings.batch_size
        self.num_workers = settings.num_workers
        self.device = resolve_device(settings.device)
        self.amp_dtype = self._amp_dtype(settings.amp)

        self.tokenizer = None if settings.tokenizer is None else load_tokenizer(settings.tokenizer)
        path = resolve_checkpoint(settings.checkpoint)
        self.checkpoint_id = checkpoint_identity(path)
        model, model_cfg = build_clap_model(settings.audio_model)
        state = load_clap_state_dict(path)
        load_checkpoint_into(model, state, str(path))
        self.untrained = never_trained(state)
        if self.untrained:
            logger.warning(
                "the LAION-CLAP checkpoint %s was never trained (every batch-norm layer has "
                "seen 0 batches): its embeddings carry no meaning",
                path,
            )
        vocab_size = model.text_branch.config.vocab_size
        if self.tokenizer is not None and len(self.tokenizer) > vocab_size:
            raise LaionClapError(
                f"tokenizer {settings.tokenizer} has {len(self.tokenizer)} tokens, more than "
                f"the text branch's {vocab_size}: it is not a RoBERTa tokenizer"
            )
        self.model = model.requires_grad_(False).to(self.device)
        self.dim = int(model.joint_embed_shape)
        audio_cfg = model_cfg["audio_cfg"]
        self.sample_rate = int(audio_cfg["sample_rate"])
        self.seconds = audio_cfg["clip_samples"] / self.sample_rate
        logger.info(
            "LAION-CLAP %s loaded from %s (%s, %.0fM parameters), tokenizer %s, device %s%s",
            settings.audio_model,
            path,
            self.checkpoint_id,
            sum(p.numel() for p in model.parameters()) / 1e6,
            settings.tokenizer,
            self.device,
            f", autocast {self.amp_dtype}" if self.amp_dtype else "",
        )

    @classmethod
    def from_params(cls, params: EncoderChoice) -> LaionClapEncoder:
        """The encoder the ``embedding`` parameters configure (``embedding.laion_clap``)."""
        return cls(params.laion_clap)

    @classmethod
    def resource_checks(cls, params: EncoderChoice) -> dict[str, Callable[[], object]]:
        """The checkpoint is found and the tokenizer loads and tells texts apart."""
        clap = params.laion_clap
        checks = {"embedding.laion_clap.checkpoint": lambda: locate_checkpoint(clap.checkpoint)}
        if clap.tokenizer is not None:
            checks["embedding.laion_clap.tokenizer"] = lambda: load_tokenizer(clap.tokenizer)
        return checks

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised text embeddings, float32 of shape ``(len(texts), dim)``."""
        texts = list(texts)
        if self.tokenizer is None:
            raise LaionClapError("this LAION-CLAP encoder was built audio-only (tokenizer: null)")
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("embed_text expects a sequence of strings")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with tqdm(total=len(texts), desc="LAION-CLAP text", unit="text") as bar:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                tokens = self.tokenizer(
                    batch,
                    padding="max_length",
                    truncation=True,
                    max_length=CONTEXT_LENGTH,
                    return_tensors="pt",
                )
                with torch.inference_mode(), self._autocast():
                    # As CLAP.get_text_embedding: text branch, projection, then L2 norm.
                    embedding = self.model.encode_text(
                        {k: tokens[k] for k in ("input_ids", "attention_mask")}, device=self.device
                    )
                out[start : start + len(batch)] = _normalise(embedding)
                bar.update(len(batch))
        return _finite(out, lambda i: f"text {texts[i]!r}")

    def embed_audio(self, paths: Sequence[str | Path | Waveform]) -> np.ndarray:
        """L2-normalised audio embeddings, float32 of shape ``(len(paths), dim)``.

        Files (or in-memory ``(samples, sample_rate)`` waveforms) are decoded, mixed to mono,
        resampled and cut or repeat-padded to CLAP's 10 s in DataLoader workers. Raises
        :class:`AudioDecodeError` naming the first bad input.
        """
        paths = [p if isinstance(p, tuple) else Path(p) for p in paths]
        out = np.empty((len(paths), self.dim), dtype=np.float32)
        if not paths:
            return out
        loader = DataLoader(
            _ClapInputs(paths, self.sample_rate, self.seconds),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=_collate,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.num_workers else None,
        )
        with tqdm(total=len(paths), desc="LAION-CLAP audio", unit="clip") as bar:
            for indices, waveforms, errors in loader:
                if errors:
                    index, message = errors[0]
                    raise AudioDecodeError(f"cannot read {describe_input(paths, index)}: {message}")
                waveforms = waveforms.to(self.device, non_blocking=True).float() / INT16_SCALE
                with torch.inference_mode(), self._autocast():
                    # As CLAP.get_audio_embedding on get_audio_features' dict; the non-fusion
                    # audio branch reads only the waveform.
                    features = self.model.encode_audio({"waveform": waveforms}, device=self.device)
                    embedding = self.model.audio_projection(features["embedding"])
                out[indices] = _normalise(embedding)
                bar.update(len(indices))
        return _finite(out, lambda i: describe_input(paths, i))

    def _amp_dtype(self, amp: bool) -> torch.dtype | None:
        if not amp or self.device.type != "cuda":
            return None
        # float16 would overflow HTSAT's power spectrogram on loud audio; bfloat16 does not.
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        logger.info("this GPU lacks bfloat16: LAION-CLAP runs in float32")
        return None

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


class _ClapInputs(Dataset):
    """CLAP input waveforms, or the error that prevented one, per audio file."""

    def __init__(self, paths: list[Path | Waveform], sample_rate: int, seconds: float) -> None:
        self.paths, self.sample_rate, self.seconds = paths, sample_rate, seconds

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        item = self.paths[index]
        try:
            waveform, rate = item if isinstance(item, tuple) else read_audio(item)
            waveform = np.asarray(waveform, dtype=np.float32)
            if not np.isfinite(waveform).all():
                raise ValueError("non-finite samples")
            clip = to_clap_int16(waveform, rate, self.sample_rate, self.seconds)
        except Exception as error:  # reported, with the file's name, by the main process
            return index, None, f"{type(error).__name__}: {error}"
        return index, torch.from_numpy(clip), None


def _collate(
    items: list[tuple[int, torch.Tensor | None, str | None]],
) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    errors = [(index, error) for index, _, error in items if error is not None]
    if errors:
        return [index for index, _, _ in items], None, errors
    return [index for index, _, _ in items], torch.stack([clip for _, clip, _ in items]), []


def _normalise(embedding: torch.Tensor) -> np.ndarray:
    return F.normalize(embedding.float(), dim=-1).cpu().numpy()


def _finite(embeddings: np.ndarray, describe: Callable[[int], str]) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
    if bad.size:
        raise LaionClapError(f"non-finite LAION-CLAP embedding for {describe(bad[0])}")
    return embeddings
