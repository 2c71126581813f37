"""A Kedro dataset for trained caption decoders (head + LoRA adapter + config, one folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io.core import DatasetError, Version

from diffusion_link.datasets.pretrained_folder import PretrainedFolderDataset
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.device import resolve_device


class DecoderCheckpointDataset(PretrainedFolderDataset[CaptionDecoder]):
    """A :class:`CaptionDecoder` folder: ``head.safetensors``, PEFT ``adapter/``, config JSON.

    The base LLM is not copied: loading reads it from where the saved config names it, or from
    ``load_args.base_model`` (e.g. the same model in another folder), and refuses a base model
    the adapter was not trained on. Versioned folders appear only once complete.

    Args:
        filepath: the folder (one sub-folder per version when versioned).
        load_args: ``base_model`` (override), ``device`` ("auto", "cpu", "cuda", ...).
    """

    def __init__(
        self,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._load_args = dict(load_args or {})
        unknown = set(self._load_args) - {"base_model", "device"}
        if unknown:
            raise DatasetError(f"DecoderCheckpointDataset: unknown load_args {sorted(unknown)}")
        super().__init__(filepath, version, metadata)

    def load(self) -> CaptionDecoder:
        """The saved decoder on ``load_args.device`` (``auto``: CUDA when available)."""
        return CaptionDecoder.from_pretrained(
            Path(self._get_load_path()),
            base_model=self._load_args.get("base_model"),
            device=resolve_device(self._load_args.get("device", "auto")),
        )

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "load_args": self._load_args}
