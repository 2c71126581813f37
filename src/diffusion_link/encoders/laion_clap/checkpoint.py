"""LAION-CLAP checkpoints: where one is (a local file or an official name), and loading it safely."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from diffusion_link.encoders.laion_clap.errors import LaionClapError
from diffusion_link.hub import hub_offline

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
# Written by transformers < 4.31 as a persistent buffer; real checkpoints carry it.
OBSOLETE_KEYS = frozenset({"text_branch.embeddings.position_ids"})
# Width of HTSAT's patch embedding, to name the architecture a checkpoint was trained with.
_HTSAT_BY_PATCH_WIDTH = {96: "HTSAT-tiny", 128: "HTSAT-base", 256: "HTSAT-large"}


_CHECKPOINT_HINT = (
    f"official checkpoints are at https://huggingface.co/{HF_REPO} (e.g. "
    f"https://huggingface.co/{HF_REPO}/resolve/main/630k-audioset-best.pt)"
)


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


def never_trained(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict comes from a model that never ran a training batch: every
    batch-norm layer's ``num_batches_tracked`` is 0 (False when it has no batch norm to tell
    by). A checkpoint saved after any training in train mode counts its batches there."""
    counts = [v for k, v in state.items() if k.endswith("num_batches_tracked")]
    return bool(counts) and all(int(count) == 0 for count in counts)


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


def check_official_checkpoint(checkpoint: str | Path, audio_model: str) -> None:
    """Refuse an official checkpoint name (not a local file) that does not fit the settings.

    Raises ``NotImplementedError`` for a fusion checkpoint and :class:`LaionClapError` when it
    was trained with another audio model than ``audio_model``.
    """
    official = _official_name(checkpoint)
    if official is None or Path(checkpoint).expanduser().is_file():
        return
    if "fusion" in official:
        raise NotImplementedError(f"{official} is a fusion checkpoint; see enable_fusion")
    if OFFICIAL_CHECKPOINTS[official] != audio_model:
        raise LaionClapError(
            f"the official checkpoint {official} was trained with "
            f"{OFFICIAL_CHECKPOINTS[official]}, not audio_model={audio_model!r}"
        )


def checkpoint_identity(path: Path) -> str:
    """The checkpoint's identity in embedding metadata: file name and a short sha256."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 24), b""):
            digest.update(block)
    return f"{path.name}@sha256:{digest.hexdigest()[:16]}"


def _official_name(checkpoint: str | Path) -> str | None:
    name = str(checkpoint)
    for candidate in (name, f"{name}.pt"):
        if candidate in OFFICIAL_CHECKPOINTS:
            return candidate
    return None


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
