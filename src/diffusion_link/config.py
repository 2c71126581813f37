"""The one base of every typed setting: unknown keys are errors, not silently kept.

The method's configs (``DiffusionConfig``, ``TrainConfig``, ...) are pydantic dataclasses built
with :data:`STRICT`; the Kedro parameter models of ``pipelines/<p>/params.py`` derive from
:class:`StrictModel` and nest those configs instead of restating their fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

STRICT = ConfigDict(extra="forbid")


class StrictModel(BaseModel):
    """A pydantic model whose unknown keys are validation errors (a typo never runs a default)."""

    model_config = STRICT
