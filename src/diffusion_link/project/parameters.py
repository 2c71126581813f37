"""Every parameter group of the project, checked whole before a run.

Kedro itself validates only the parameters a node declares with a type (one bridge, one
variant), and silently keeps any other key: ``--params bridge_training.bridgs...`` would run
the default. :func:`check_parameters` checks each group of the pipelines being run against its
model (the ones the nodes use, extra keys forbidden), every top-level key against the known
groups, and that every key of a checked group is read by some node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import Any, get_args, get_origin

from kedro.pipeline import Pipeline
from pydantic import BaseModel, ValidationError

from diffusion_link.pipelines.bridge_training.params import BridgeTrainingParams
from diffusion_link.pipelines.captioning.params import CaptioningParams
from diffusion_link.pipelines.data_prep.params import DataPrepParams
from diffusion_link.pipelines.decoder_training.params import DecoderTrainingParams
from diffusion_link.pipelines.embedding.params import EmbeddingParams
from diffusion_link.pipelines.evaluation.params import EvaluationParams
from diffusion_link.project.tracking import TrackingParams

# Top-level key of conf/*/parameters_<group>.yml -> the model of the whole group.
PARAMETER_GROUPS: dict[str, type[BaseModel]] = {
    "data_prep": DataPrepParams,
    "embedding": EmbeddingParams,
    "bridge_training": BridgeTrainingParams,
    "decoder_training": DecoderTrainingParams,
    "evaluation": EvaluationParams,
    "tracking": TrackingParams,
    "captioning": CaptioningParams,
}
# Groups that the project's hooks read, not a node: checked for every run.
HOOK_GROUPS = frozenset({"tracking"})

_UNKNOWN_KEY = {"extra_forbidden", "unexpected_keyword_argument"}


class ParameterError(ValueError):
    """Parameters that do not fit the project's groups; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid parameters (nothing has run):\n" + "\n".join(f"  - {p}" for p in problems)
        )


def read_parameters(pipelines: Iterable[Pipeline]) -> set[str]:
    """The dotted parameter keys the nodes of ``pipelines`` read ("" for all of them)."""
    keys = set()
    for pipeline in pipelines:
        for name in pipeline.inputs():
            if name == "parameters":
                keys.add("")
            elif name.startswith("params:"):
                keys.add(name.removeprefix("params:"))
    return keys


def _dotted(group: str, loc: tuple[int | str, ...]) -> str:
    key = group
    for part in loc:
        if part == "[key]":  # pydantic's marker for a dict key (not a value) that failed
            continue
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key


def _fields(annotation: Any) -> dict[str, Any]:
    """A pydantic model's or pydantic dataclass's fields by name ({} for anything else)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_fields
    return getattr(annotation, "__pydantic_fields__", {}) if isinstance(annotation, type) else {}


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model allows at ``loc`` (a nested model's fields); [] where it cannot tell."""
    annotation: Any = model
    for part in loc:
        if _fields(annotation):
            field = _fields(annotation).get(str(part))
            annotation = field.annotation if field else None
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return []
    return list(_fields(annotation))


def _problem(group: str, error: Mapping[str, Any]) -> str:
    key = _dotted(group, error["loc"])
    if error["type"] in _UNKNOWN_KEY:
        known = _keys_at(PARAMETER_GROUPS[group], error["loc"][:-1])
        close = get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(known)})"
        return f"{key}: unknown key{hint if known else ''}"
    if error["loc"][-1:] == ("[key]",):
        expected = error.get("ctx", {}).get("expected", "")
        return f"{key}: unknown name {error['input']!r}; allowed: {expected}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if value is None or isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    return f"{key}: {message}"


def _unread(key: str, value: Any, read: set[str]) -> list[str]:
    """Keys under ``key`` that no node reads (itself, one of its parents or children)."""
    if "" in read or any(key == r or key.startswith(f"{r}.") for r in read):
        return []
    if isinstance(value, Mapping) and any(r.startswith(f"{key}.") for r in read):
        return [k for child, v in value.items() for k in _unread(f"{key}.{child}", v, read)]
    return [key]


def parameter_problems(parameters: Mapping[str, Any], read: set[str]) -> list[str]:
    """Every problem of ``parameters`` for a run whose nodes read the keys ``read``.

    A top-level key that is no group is a problem; so is each error of a group some node reads
    against its model (by its dotted key), and, once the group fits its model, each of its keys
    no node of the run reads (e.g. a decoder variant given only by ``--params``).
    """
    problems = []
    for group, value in parameters.items():
        if group not in PARAMETER_GROUPS:
            close = get_close_matches(group, PARAMETER_GROUPS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(PARAMETER_GROUPS)}"
            problems.append(f"{group}: unknown parameter group ({hint})")
            continue
        if not any(r == "" or r.split(".")[0] == group for r in read):
            continue  # no pipeline of this run uses the group
        try:
            PARAMETER_GROUPS[group].model_validate(value)
        except ValidationError as error:
            problems.extend(_problem(group, e) for e in error.errors())
            continue
        problems.extend(
            f"{key}: no node of this run reads it" for key in _unread(group, value, read)
        )
    return problems


def check_parameters(parameters: Mapping[str, Any], pipelines: Iterable[Pipeline]) -> None:
    """Raise :class:`ParameterError` unless ``parameters`` fit a run of ``pipelines``."""
    problems = parameter_problems(parameters, read_parameters(pipelines) | HOOK_GROUPS)
    if problems:
        raise ParameterError(problems)
