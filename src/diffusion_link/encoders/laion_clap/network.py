"""laion-clap's own network, built offline, with a RoBERTa text branch made from its config.

- ``laion_clap`` is imported lazily, with the Hugging Face hub forced offline during the import:
  the package builds BERT/RoBERTa/BART tokenizers at import time, which hangs for minutes
  without a network. Those tokenizers are never used here.
- The network is laion-clap's own ``create_model`` (its config JSONs, its ``CLAP`` class), so
  parameter names match real checkpoints. The one change: its RoBERTa text branch, which
  ``CLAP.__init__`` fetches with ``RobertaModel.from_pretrained('roberta-base')``, is built from
  roberta-base's configuration instead (:func:`text_branch_from_config`). The pretrained RoBERTa
  weights would be overwritten by the CLAP checkpoint anyway.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from diffusion_link.encoders.laion_clap.errors import LaionClapError

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


def build_clap_model(audio_model: str) -> tuple[torch.nn.Module, dict[str, Any]]:
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
