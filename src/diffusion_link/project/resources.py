"""Checkpoints, tokenizers and LLMs named in the parameters, checked before any node runs.

A missing or broken resource used to surface deep inside a node, minutes into a run (the
LAION-CLAP tokenizer that offline turns every text into the same ids came out of
``encode_shards`` after 239 s). :func:`check_resources` checks, for the nodes about to run,
each resource they load, cheaply: files exist and are non-empty, tokenizers load and tell two
texts apart. No weights are read. Each problem names its parameter and how to get the file.

Nothing heavy is imported at module level: :mod:`diffusion_link.project.hooks` (and so the project's
settings) use this module, and the encoders and decoder import torch and transformers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


class ResourceError(RuntimeError):
    """Resources named in the parameters that are missing or broken; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "missing or broken resources (nothing has run):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _problem(key: str, check: Callable[[], Any]) -> list[str]:
    """``[]`` when ``check()`` passes, else ``["<key>: <why>"]``."""
    try:
        check()
    except Exception as error:  # every failure of a check is the resource's problem
        return [f"{key}: {error}"]
    return []


def embedding_problems(embedding: Mapping[str, Any]) -> list[str]:
    """The problems of the resources the encoder the ``embedding`` group selects would load."""
    from diffusion_link.encoders import ENCODERS
    from diffusion_link.pipelines.embedding.params import EmbeddingParams

    params = EmbeddingParams.model_validate(embedding)  # checked before, by the parameter hook
    checks = ENCODERS[params.encoder].resource_checks(params)
    return [problem for key, check in checks.items() for problem in _problem(key, check)]


def decoder_problems(settings: Mapping[str, Any]) -> list[str]:
    """The problems of the caption LLM ``decoder_training.settings.model``."""
    from diffusion_link.decoder.base_model import check_base_model

    model = settings.get("model")
    return _problem("decoder_training.settings.model", lambda: check_base_model(str(model)))


def captioning_problems(captioning: Mapping[str, Any]) -> list[str]:
    """The problems of the ``captioning`` group's LAION-CLAP checkpoint and audio folder."""
    from pathlib import Path

    from diffusion_link.encoders.laion_clap import locate_checkpoint

    checkpoint = captioning["encoder"]["checkpoint"]
    problems = _problem("captioning.encoder.checkpoint", lambda: locate_checkpoint(checkpoint))
    folder = captioning.get("audio_dir")
    if folder is None or not Path(folder).is_dir():
        problems.append(
            f"captioning.audio_dir: {folder!r} is not a folder; give the folder of audio files "
            "to caption: --params captioning.audio_dir=<folder>"
        )
    return problems


def _plain(value: Any) -> Mapping[str, Any]:
    """A parameter group as a mapping (Kedro hands typed node inputs over as pydantic models)."""
    return value.model_dump() if hasattr(value, "model_dump") else value


# A node (by its name without namespace) -> the parameter input naming its resources and the
# function listing their problems.
NODE_RESOURCES: dict[str, tuple[str, Callable[[Mapping[str, Any]], list[str]]]] = {
    "encode_shards": ("params:embedding", embedding_problems),
    "train_decoder": ("params:decoder_training.settings", decoder_problems),
    "generate_captions": ("params:decoder_training.settings", decoder_problems),
    "caption_audio_folder": ("params:captioning", captioning_problems),
}


def check_resources(
    node_names: Iterable[str], parameter: Callable[[str], Mapping[str, Any]]
) -> None:
    """Raise :class:`ResourceError` unless the resources of the nodes ``node_names`` are usable.

    ``parameter`` returns a parameter input (``params:embedding``) of the run, as a mapping or
    as the pydantic model Kedro makes of a typed node input. Each kind of resource is checked
    once, however many nodes (decoder variants) use it.
    """
    needed = {}
    for name in node_names:
        entry = NODE_RESOURCES.get(name.rsplit(".", 1)[-1])
        if entry is not None:
            needed[entry] = None
    problems = [p for key, problems_of in needed for p in problems_of(_plain(parameter(key)))]
    if problems:
        raise ResourceError(problems)
