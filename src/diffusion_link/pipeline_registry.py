"""Project pipelines: every folder under ``pipelines/`` is one registered pipeline.

``decoder_training`` is registered as the sub-pipeline of the run's decoder variants: those
named in ``decoder_training.variants`` of the run's configuration environment, which
:class:`~diffusion_link.project.hooks.DecoderVariantsHook` passes to
:func:`use_decoder_variants` once the context exists, before Kedro builds the pipelines
(every variant when no run has named them, e.g. ``kedro viz``).
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from diffusion_link.pipelines import decoder_training
from diffusion_link.pipelines.decoder_training.params import VARIANTS

_decoder_variants: tuple[str, ...] = tuple(VARIANTS)


def use_decoder_variants(names: Iterable[str]) -> None:
    """Register ``decoder_training`` (and so ``__default__``) with the variants ``names``."""
    global _decoder_variants
    _decoder_variants = tuple(names)


# Pipelines that need the user's own input (``captioning``: an audio folder): registered, but
# not part of ``__default__``.
ON_REQUEST_ONLY = ("captioning",)


def register_pipelines() -> dict[str, Pipeline]:
    """Register each pipeline by its folder name; ``__default__`` runs all but ON_REQUEST_ONLY."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["decoder_training"] = decoder_training.create_pipeline(_decoder_variants)
    default = [p for name, p in pipelines.items() if name not in ON_REQUEST_ONLY]
    pipelines["__default__"] = sum(default, Pipeline([]))
    return pipelines
