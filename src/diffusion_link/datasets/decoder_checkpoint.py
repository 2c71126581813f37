"""A Kedro dataset for trained caption decoders (head + LoRA adapter + config, one folder)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from diffusion_link.decoder import CaptionDecoder


class DecoderCheckpointDataset(AbstractVersionedDataset[CaptionDecoder, CaptionDecoder]):
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
        self.metadata = metadata
        super().__init__(filepath=PurePosixPath(filepath), version=version)

    def load(self) -> CaptionDecoder:
        device = self._load_args.get("device", "auto")
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        return CaptionDecoder.from_pretrained(
            Path(self._get_load_path()),
            base_model=self._load_args.get("base_model"),
            device=device,
        )

    def save(self, data: CaptionDecoder) -> None:
        data.save_pretrained(Path(self._get_save_path()))

    def _exists(self) -> bool:
        try:
            path = self._get_load_path()
        except DatasetError:
            return False
        return Path(path).is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version, "load_args": self._load_args}
