"""The layout's rules, checked on the sources (CONTRIBUTING.md, "Layout").

- the method and its helpers never import Kedro;
- no import cycle between the package's modules (imports anywhere in a module count);
- no module over 350 lines, no node function over 30 lines;
- a pipeline's wiring reads no configuration and no environment variable.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from kedro.framework.project import configure_project

from diffusion_link.pipeline_registry import register_pipelines

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "diffusion_link"
KEDRO_FREE = ("core", "data", "encoders", "decoder", "metrics", "reporting", "captioning")
KEDRO_FREE_MODULES = ("config", "device", "hub", "atomic")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports (at any depth of its code)."""
    names = set()
    package = (
        module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    )
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                )
            names.add(base.strip("."))
            names.update(f"{base}.{alias.name}".strip(".") for alias in node.names)
    return {name for name in names if name in MODULES}


def test_the_method_and_its_helpers_never_import_kedro():
    offenders = []
    for name, path in MODULES.items():
        inner = name.split(".")[1] if "." in name else ""
        if inner in KEDRO_FREE or inner in KEDRO_FREE_MODULES:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                modules = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                bad = [
                    m
                    for m in modules
                    if m.split(".")[0] == "kedro"
                    or ".pipelines" in m
                    or ".project" in m
                    or ".datasets" in m
                ]
                offenders += [f"{name}: imports {m}" for m in bad]
    assert offenders == []


def _cycle() -> list[str]:
    graph = {name: imported(path) - {name} for name, path in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return stack[stack.index(child) :] + [child]
            if child not in state and (found := visit(child)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return []


def test_there_is_no_import_cycle():
    assert _cycle() == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_350_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= 350, f"{name}: {lines} lines"


def test_no_node_function_is_over_30_lines():
    configure_project("diffusion_link")
    long = []
    for pipeline in register_pipelines().values():
        for node in pipeline.nodes:
            lines, _ = inspect.getsourcelines(inspect.unwrap(node.func))
            if len(lines) > 30:
                long.append(f"{node.func.__module__}.{node.func.__name__}: {len(lines)} lines")
    assert sorted(set(long)) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("pipelines/*/pipeline.py")), ids=str)
def test_a_pipeline_module_only_wires(path):
    source = path.read_text(encoding="utf-8")
    for reads in ("OmegaConfigLoader", "os.environ", "getenv", "KEDRO_ENV", "open("):
        assert reads not in source, f"{path.name} reads configuration: {reads}"
