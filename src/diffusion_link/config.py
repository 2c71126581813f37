"""The one base of every typed setting: unknown keys are errors, not silently kept.

The method's configs (``DiffusionConfig``, ``TrainConfig``, ...) are pydantic dataclasses built
with :data:`STRICT`; the Kedro parameter models of ``pipelines/<p>/params.py`` derive from
:class:`StrictModel` and nest those configs instead of restating their fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

STRICT = ConfigDict(extra="forbid")


class StrictModel(BaseModel):
    """A pydantic model whose unknown keys are validation errors (a typo never runs a default)."""

    model_config = STRICT


def at_least_one(value: int | None, reason: str) -> int | None:
    """``value`` unless it is below 1: then pydantic's "greater than 0" error for that field.

    ``reason`` (the domain's own wording, e.g. ``s_star must be between 1 and T=1000, got 0``)
    follows pydantic's phrase, so a parameter error names the exact key and why.
    """
    if value is not None and value < 1:
        raise PydanticCustomError(
            "greater_than", "Input should be greater than 0 ({reason})", {"gt": 0, "reason": reason}
        )
    return value
