"""The paper's frozen LAION-CLAP encoder, through the ``laion-clap`` package.

How the model is built (and why):

- ``laion_clap`` is imported lazily, with the Hugging Face hub forced offline during the import:
  the package builds BERT/RoBERTa/BART tokenizers at import time, which hangs for minutes
  without a network. Those tokenizers are never used here.
- The network is laion-clap's own ``create_model`` (its config JSONs, its ``CLAP`` class), so
  parameter names match real checkpoints. The one change: its RoBERTa text branch, which
  ``CLAP.__init__`` fetches with ``RobertaModel.from_pretrained('roberta-base')``, is built from
  roberta-base's configuration instead (:func:`text_branch_from_config`). The pretrained RoBERTa
  weights would be overwritten by the CLAP checkpoint anyway.
- The tokenizer is this class's own (``tokenizer`` argument), checked with probe sentences:
  transformers 5 silently returns a tokenizer that knows only special tokens when it cannot
  reach the hub, which would give every text the same embedding.
- Audio is decoded by :mod:`diffusion_link.data.audio` in DataLoader workers and embedded in batches,
  computing what ``CLAP_Module.get_audio_embedding_from_data`` computes (non-fusion) under
  ``torch.inference_mode`` (and bfloat16 autocast on CUDA).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from diffusion_link.data.audio import INT16_SCALE, read_audio, to_clap_int16
from diffusion_link.project.resources import hub_offline

logger = logging.getLogger(__name__)

HF_REPO = "lukewys/laion_clap"
# Official checkpoints (LAION-CLAP README) and the audio model each was trained with.
OFFICIAL_CHECKPOINTS: dict[str, str] = {
    "630k-best.pt": "HTSAT-tiny",
    "630k-audioset-best.pt": "HTSAT-tiny",
    "630k-fusion-best.pt": "HTSAT-tiny",
    "630k-audioset-fusion-best.pt": "HTSAT-tiny",
    "music_audioset_epoch_15_esc_90.14.pt": "HTSAT-base",
    "music_speech_epoch_15_esc_89.25.pt": "HTSAT-base",
    "music_speech_audioset_epoch_15_esc_89.98.pt": "HTSAT-base",
}
# roberta-base's config.json; transformers' RobertaConfig() defaults differ from it.
ROBERTA_BASE_CONFIG: dict[str, Any] = {
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}
# Written by transformers < 4.31 as a persistent buffer; real checkpoints carry it.
OBSOLETE_KEYS = frozenset({"text_branch.embeddings.position_ids"})
CONTEXT_LENGTH = 77  # laion-clap's RoBERTa tokenisation: pad/truncate to 77 tokens
PROBE_TEXTS = ("a dog barks", "rain falls on a metal roof")
# Width of HTSAT's patch embedding, to name the architecture a checkpoint was trained with.
_HTSAT_BY_PATCH_WIDTH = {96: "HTSAT-tiny", 128: "HTSAT-base", 256: "HTSAT-large"}


_CHECKPOINT_HINT = (
    f"official checkpoints are at https://huggingface.co/{HF_REPO} (e.g. "
    f"https://huggingface.co/{HF_REPO}/resolve/main/630k-audioset-best.pt)"
)
_TOKENIZER_HINT = (
    "point `tokenizer` at a local folder holding roberta-base's vocab.json and merges.txt (or "
    "tokenizer.json), downloaded from https://huggingface.co/FacebookAI/roberta-base, or run "
    "once online so the Hugging Face cache holds it"
)


class LaionClapError(RuntimeError):
    """A LAION-CLAP checkpoint, tokenizer or set-up problem, with what to do about it."""


class AudioDecodeError(LaionClapError):
    """An audio file that cannot be turned into a CLAP input; the message names the file."""


@contextmanager
def forced_hub_offline() -> Iterator[None]:
    """Make Hugging Face libraries offline within the block, restoring the setting after.

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, at its own import, so both the environment
    variable and the module constant are set.
    """
    from huggingface_hub import constants

    saved_env, saved_flag = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved_flag
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


def import_clap_module() -> Any:
    """Import laion-clap offline-safely; return its ``clap_module`` package.

    ``import laion_clap`` appends the package's own folder to ``sys.path`` (exposing top-level
    ``clap_module``, ``training`` and ``evaluate``) and its ``CLAP_Module`` uses the top-level
    ``clap_module``. That one is returned: importing ``laion_clap.clap_module`` as well would
    load a second copy with distinct classes.
    """
    with forced_hub_offline():
        import laion_clap  # noqa: F401

    return importlib.import_module("clap_module")


@contextmanager
def text_branch_from_config() -> Iterator[None]:
    """Within the block, laion-clap builds its RoBERTa text branch from roberta-base's config.

    ``clap_module.model.CLAP`` calls ``RobertaModel.from_pretrained('roberta-base')``; this swaps
    that module-level name for a stand-in whose ``from_pretrained`` builds the same
    architecture, randomly initialised, without touching the network.
    """
    from transformers import RobertaConfig, RobertaModel

    model_module = importlib.import_module("clap_module.model")

    class _RobertaBaseFromConfig:
        @staticmethod
        def from_pretrained(name: str, *args: Any, **kwargs: Any) -> RobertaModel:
            if name != "roberta-base":
                raise LaionClapError(f"laion-clap asked for text model {name!r}, not roberta-base")
            return RobertaModel(RobertaConfig(**ROBERTA_BASE_CONFIG))

    original = model_module.RobertaModel
    model_module.RobertaModel = _RobertaBaseFromConfig
    try:
        yield
    finally:
        model_module.RobertaModel = original


def build_clap_model(audio_model: str = "HTSAT-base") -> tuple[torch.nn.Module, dict[str, Any]]:
    """laion-clap's non-fusion ``CLAP`` (RoBERTa text branch), randomly initialised, on CPU.

    Returns the model and its laion-clap model config (``audio_cfg`` holds sample rate and
    clip length).
    """
    clap_module = import_clap_module()
    if audio_model not in clap_module.list_models():
        raise LaionClapError(
            f"unknown LAION-CLAP audio model {audio_model!r}; laion-clap knows "
            f"{[m for m in clap_module.list_models() if m.startswith(('HTSAT', 'PANN'))]}"
        )
    with text_branch_from_config():
        model, model_cfg = clap_module.create_model(
            audio_model, "roberta", precision="fp32", device=torch.device("cpu")
        )
    return model.eval(), model_cfg


def locate_checkpoint(checkpoint: str | Path) -> Path | None:
    """Where ``checkpoint`` is without downloading anything; cheap (no weights are read).

    A local file must be non-empty; an official name is looked up in the Hugging Face cache.
    Returns None for an official name that is not cached while the hub is reachable (the
    caller downloads it). Raises :class:`LaionClapError` (missing or empty file, an official
    name offline and not cached) or ``FileNotFoundError`` (no file, no official name), each
    saying how to obtain the file.
    """
    path = Path(checkpoint).expanduser()
    if path.is_file():
        if path.stat().st_size == 0:
            raise LaionClapError(
                f"LAION-CLAP checkpoint {path} is empty (an interrupted download?): delete it and "
                f"download it again ({_CHECKPOINT_HINT})"
            )
        return path
    name = _official_name(checkpoint)
    if name is None:
        raise FileNotFoundError(
            f"LAION-CLAP checkpoint {str(checkpoint)!r} is neither an existing file nor an official "
            f"checkpoint name ({', '.join(OFFICIAL_CHECKPOINTS)}); {_CHECKPOINT_HINT}"
        )
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(HF_REPO, name)
    if isinstance(cached, str):
        return Path(cached)
    if hub_offline():
        raise LaionClapError(
            f"the LAION-CLAP checkpoint {name!r} is not in the Hugging Face cache and the hub is "
            f"offline (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE). On a machine with internet, "
            f"download https://huggingface.co/{HF_REPO}/resolve/main/{name} and set the "
            "checkpoint to the local file's path."
        )
    return None


def resolve_checkpoint(checkpoint: str | Path) -> Path:
    """A local checkpoint file, or an official name fetched from the LAION-CLAP hub repository.

    Official names are read from the Hugging Face cache or downloaded with
    ``huggingface_hub.hf_hub_download``; offline or on failure this raises at once.
    """
    located = locate_checkpoint(checkpoint)
    if located is not None:
        return located
    name = _official_name(checkpoint)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(HF_REPO, name))
    except Exception as error:  # offline mode, no network, no such file: all end the same way
        raise LaionClapError(
            f"cannot obtain the LAION-CLAP checkpoint {name!r} from the Hugging Face repository "
            f"{HF_REPO} ({type(error).__name__}: {error}). On a machine with internet (and "
            f"HF_HUB_OFFLINE unset), download https://huggingface.co/{HF_REPO}/resolve/main/{name} "
            "and set the checkpoint to the local file's path."
        ) from error


def _refused_by_weights_only(error: BaseException) -> bool:
    """Whether ``torch.load(weights_only=True)`` refused the file's content.

    torch raises ``pickle.UnpicklingError`` (or a subclass) for that. It is recognised by its
    class name so that this package never imports ``pickle`` (tests/test_security.py bans it).
    """
    return any(
        cls.__name__ == "UnpicklingError" and cls.__module__ in {"pickle", "_pickle"}
        for cls in type(error).__mro__
    )


def load_clap_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A LAION-CLAP checkpoint's state dict, keys as the model names them.

    Mirrors laion-clap's ``load_state_dict``: take ``checkpoint["state_dict"]`` when present,
    strip the ``module.`` prefix of DataParallel training, drop ``position_ids``. Unlike it, the
    pickle is read with ``weights_only=True``, which admits only tensors and plain containers
    (all a real checkpoint holds) and never runs code. ``.safetensors`` files are read directly.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        raw: Any = load_file(str(path))
    else:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            if not _refused_by_weights_only(error):
                raise LaionClapError(
                    f"{path}: not a readable torch checkpoint ({error})"
                ) from error
            raise LaionClapError(
                f"{path}: refused by torch.load(weights_only=True): it holds objects other than "
                "tensors and plain containers. LAION-CLAP checkpoints hold only those; if you "
                "trust this file, re-save its state dict (torch.save({'state_dict': sd}, ...) or "
                f"safetensors) and load that. ({error})"
            ) from error
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else raw
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise LaionClapError(f"{path}: no state dict (name -> tensor) found in the checkpoint")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return {k: v for k, v in state.items() if k not in OBSOLETE_KEYS}


def load_checkpoint_into(
    model: torch.nn.Module, state: dict[str, torch.Tensor], source: str
) -> None:
    """Load ``state`` strictly; any missing, unexpected or mis-shaped weight is an error.

    The error lists the offending keys and, when it can tell, which audio model or fusion
    setting the checkpoint was trained with.
    """
    expected = model.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    )
    if missing or unexpected or mismatched:
        parts = [f"checkpoint {source} does not fit the model"]
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape", mismatched),
        ):
            if keys:
                parts.append(
                    f"{len(keys)} {label}: {', '.join(keys[:8])}{' ...' * (len(keys) > 8)}"
                )
        parts.append(_architecture_hint(state, expected))
        raise LaionClapError("; ".join(p for p in parts if p))
    model.load_state_dict(state, strict=True)


class LaionClapEncoder:
    """Frozen LAION-CLAP (non-fusion, RoBERTa text branch): texts and audio files to embeddings.

    Args:
        checkpoint: a local ``.pt`` (laion-clap's format) or ``.safetensors`` state dict, or an
            official checkpoint name such as ``630k-audioset-best.pt`` (downloaded when online).
        tokenizer: a hub name (``roberta-base``) or a local folder with vocab.json + merges.txt
            or tokenizer.json, loaded with transformers' ``RobertaTokenizer``.
        audio_model: laion-clap's audio model config; must match the checkpoint (the official
            630k checkpoints are HTSAT-tiny, the music ones HTSAT-base).
        enable_fusion: only ``False`` (the paper's setting) is implemented.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1`` ...
        batch_size: clips or texts per forward pass.
        num_workers: DataLoader workers decoding audio; 0 decodes in this process.
        amp: bfloat16 autocast on CUDA (ignored on CPU).
    """

    name = "laion_clap"
    simulated_audio = False

    def __init__(
        self,
        checkpoint: str | Path,
        tokenizer: str | Path = "roberta-base",
        audio_model: str = "HTSAT-base",
        enable_fusion: bool = False,
        device: str = "auto",
        batch_size: int = 32,
        num_workers: int = 2,
        amp: bool = True,
    ) -> None:
        if enable_fusion:
            raise NotImplementedError(
                "enable_fusion=True: this encoder implements LAION-CLAP's non-fusion path (the "
                "paper's); use a non-fusion checkpoint such as 630k-audioset-best.pt"
            )
        if batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"need batch_size >= 1 and num_workers >= 0, got {batch_size}, {num_workers}"
            )
        official = _official_name(checkpoint)
        if official and not Path(checkpoint).expanduser().is_file():
            if "fusion" in official:
                raise NotImplementedError(f"{official} is a fusion checkpoint; see enable_fusion")
            if OFFICIAL_CHECKPOINTS[official] != audio_model:
                raise LaionClapError(
                    f"the official checkpoint {official} was trained with "
                    f"{OFFICIAL_CHECKPOINTS[official]}, not audio_model={audio_model!r}"
                )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        )
        self.amp_dtype = self._amp_dtype(amp)

        self.tokenizer = load_tokenizer(tokenizer)
        path = resolve_checkpoint(checkpoint)
        self.checkpoint_id = f"{path.name}@sha256:{_sha256(path)[:16]}"
        model, model_cfg = build_clap_model(audio_model)
        load_checkpoint_into(model, load_clap_state_dict(path), str(path))
        vocab_size = model.text_branch.config.vocab_size
        if len(self.tokenizer) > vocab_size:
            raise LaionClapError(
                f"tokenizer {tokenizer} has {len(self.tokenizer)} tokens, more than the text "
                f"branch's {vocab_size}: it is not a RoBERTa tokenizer"
            )
        self.model = model.requires_grad_(False).to(self.device)
        self.dim = int(model.joint_embed_shape)
        audio_cfg = model_cfg["audio_cfg"]
        self.sample_rate = int(audio_cfg["sample_rate"])
        self.seconds = audio_cfg["clip_samples"] / self.sample_rate
        logger.info(
            "LAION-CLAP %s loaded from %s (%s, %.0fM parameters), tokenizer %s, device %s%s",
            audio_model,
            path,
            self.checkpoint_id,
            sum(p.numel() for p in model.parameters()) / 1e6,
            tokenizer,
            self.device,
            f", autocast {self.amp_dtype}" if self.amp_dtype else "",
        )

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised text embeddings, float32 of shape ``(len(texts), dim)``."""
        texts = list(texts)
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

    def embed_audio(self, paths: Sequence[str | Path]) -> np.ndarray:
        """L2-normalised audio embeddings, float32 of shape ``(len(paths), dim)``.

        Files are decoded, mixed to mono, resampled and cut or repeat-padded to CLAP's 10 s in
        DataLoader workers. Raises :class:`AudioDecodeError` naming the first bad file.
        """
        paths = [Path(p) for p in paths]
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
                    raise AudioDecodeError(f"cannot read audio file {paths[index]}: {message}")
                waveforms = waveforms.to(self.device, non_blocking=True).float() / INT16_SCALE
                with torch.inference_mode(), self._autocast():
                    # As CLAP.get_audio_embedding on get_audio_features' dict; the non-fusion
                    # audio branch reads only the waveform.
                    features = self.model.encode_audio({"waveform": waveforms}, device=self.device)
                    embedding = self.model.audio_projection(features["embedding"])
                out[indices] = _normalise(embedding)
                bar.update(len(indices))
        return _finite(out, lambda i: f"audio file {paths[i]}")

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


def load_tokenizer(source: str | Path) -> Any:
    """transformers' RobertaTokenizer from a local folder or a hub name, checked to work.

    Raises :class:`LaionClapError` when the tokenizer turns probe sentences into special tokens
    only (what transformers 5 silently returns when the hub is unreachable or offline).
    """
    from transformers import RobertaTokenizer

    folder = Path(source).expanduser()
    local = folder.is_dir()
    if not local and (
        folder.is_absolute() or str(source).startswith(".") or str(source).count("/") > 1
    ):
        raise FileNotFoundError(f"tokenizer folder {source} does not exist: {_TOKENIZER_HINT}")
    try:
        tokenizer = RobertaTokenizer.from_pretrained(str(folder if local else source))
    except Exception as error:
        raise LaionClapError(
            f"cannot load RoBERTa tokenizer {source} ({error}): {_TOKENIZER_HINT}"
        ) from error
    ids = [tokenizer(text)["input_ids"] for text in PROBE_TEXTS]
    special = set(tokenizer.all_special_ids)
    if all(set(i) <= special for i in ids) or len({tuple(i) for i in ids}) == 1:
        raise LaionClapError(
            f"RoBERTa tokenizer {source} is broken: {PROBE_TEXTS[0]!r} -> "
            f"{tokenizer.convert_ids_to_tokens(ids[0])} ({len(tokenizer)} tokens), so every text "
            "would get the same embedding. transformers returns such a tokenizer when it cannot "
            f"download one (offline, HF_HUB_OFFLINE=1): {_TOKENIZER_HINT}."
        )
    logger.info("RoBERTa tokenizer %s: %d tokens", source, len(tokenizer))
    return tokenizer


class _ClapInputs(Dataset):
    """CLAP input waveforms, or the error that prevented one, per audio file."""

    def __init__(self, paths: list[Path], sample_rate: int, seconds: float) -> None:
        self.paths, self.sample_rate, self.seconds = paths, sample_rate, seconds

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            waveform, rate = read_audio(self.paths[index])
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


def _official_name(checkpoint: str | Path) -> str | None:
    name = str(checkpoint)
    for candidate in (name, f"{name}.pt"):
        if candidate in OFFICIAL_CHECKPOINTS:
            return candidate
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def _architecture_hint(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> str:
    """Name the audio model or fusion setting a non-fitting checkpoint was trained with."""
    key = "audio_branch.patch_embed.proj.weight"
    found = _HTSAT_BY_PATCH_WIDTH.get(int(state[key].shape[0])) if key in state else None
    wanted = _HTSAT_BY_PATCH_WIDTH.get(int(expected[key].shape[0])) if key in expected else None
    hints = []
    if found and found != wanted:
        hints.append(
            f"its audio branch is {found}, the model's {wanted}: set audio_model={found!r}"
        )
    if any("fusion" in k or "mel_conv" in k for k in state):
        hints.append("it is a fusion checkpoint; only non-fusion ones are supported")
    return "; ".join(hints)
