"""Security properties of the package that must stay true as the code changes.

Every ``.py`` file under ``src/`` is parsed (``ast``, so comments and strings never count) and
must not:

- import or use ``pickle`` (nor ``_pickle``, ``cPickle``, ``dill``, ``cloudpickle``), call
  ``read_pickle`` or pass ``allow_pickle=True``: unpickling runs code;
- call ``torch.load`` without ``weights_only=True``;
- pass ``trust_remote_code`` anything but ``False`` (it runs code downloaded with a model);
- pass ``shell`` anything but ``False``, or call ``os.system``/``os.popen``/
  ``subprocess.getoutput``/``subprocess.getstatusoutput`` (all go through a shell);
- call ``eval`` or ``exec``.

There are no exceptions (no allow-list): ``encoders/laion_clap/checkpoint.py`` recognises torch's
``weights_only`` refusal without importing ``pickle``.

Every ``subprocess`` call must receive its command as a list (a list display, or a name bound in
the same function to one or to the result of a function annotated ``-> list[...]``), and the
decoder's ``accelerate launch`` command, built from catalog parameters, is shown to pass hostile
parameter values as single, intact arguments that no shell ever interprets.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
SOURCES = sorted(SRC.rglob("*.py"))
HANG_GUARD_S = 300  # only against a hung child; the whole hostile-launch test took 7.8 s (make test-busy, 2026-12-03)

PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle"}
TORCH_LOADS = {"torch.load", "torch.serialization.load"}
SHELL_CALLS = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"}
SUBPROCESS_CALLS = {
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
}
CODE_RUNNERS = {"eval", "exec", "builtins.eval", "builtins.exec"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (``t`` -> ``torch``, ``load`` -> ...)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``torch.load`` for ``torch.load`` / ``t.load`` (import torch as t) / ``load`` (from ...)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _is_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _list_functions(tree: ast.Module) -> set[str]:
    """Functions of the module annotated to return a list."""
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.returns is not None
        and ast.unparse(node.returns).split("[")[0] in {"list", "List", "typing.List"}
    }


def _is_list_value(node: ast.AST, list_functions: set[str]) -> bool:
    if isinstance(node, ast.List | ast.ListComp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in list_functions or node.func.id == "list"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_list_value(node.left, list_functions) and _is_list_value(
            node.right, list_functions
        )
    return False


def _argv_is_a_list(call: ast.Call, function: ast.AST | None, list_functions: set[str]) -> bool:
    """The command (first argument or ``args=``) is a list, not a string for a shell."""
    command = (
        call.args[0]
        if call.args
        else next((k.value for k in call.keywords if k.arg == "args"), None)
    )
    if command is None:
        return False
    if _is_list_value(command, list_functions):
        return True
    if isinstance(command, ast.Name) and function is not None:
        bindings = [
            node.value
            for node in ast.walk(function)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == command.id for t in node.targets)
        ] + [
            node.value
            for node in ast.walk(function)
            if isinstance(node, ast.AugAssign | ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == command.id
            and node.value is not None
        ]
        return bool(bindings) and all(_is_list_value(v, list_functions) for v in bindings)
    return False


def _functions_by_node(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    """Every node -> the innermost function that contains it."""
    owner: dict[ast.AST, ast.AST] = {}

    def visit(node: ast.AST, function: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if function is not None:
                owner[child] = function
            visit(child, inner)

    visit(tree, None)
    return owner


def scan_source(source: str, path: str = "<string>") -> list[Finding]:
    """Every breach of the rules in the module docstring found in ``source``."""
    tree = ast.parse(source, filename=path)
    aliases = _aliases(tree)
    list_functions = _list_functions(tree)
    owner = _functions_by_node(tree)
    found: list[Finding] = []

    def report(node: ast.AST, rule: str) -> None:
        found.append(Finding(path, getattr(node, "lineno", 0), rule))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PICKLE_MODULES:
                    report(node, f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in PICKLE_MODULES:
                report(node, f"imports from {node.module}")
            for alias in node.names:
                if alias.name in PICKLE_MODULES:
                    report(node, f"imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in PICKLE_MODULES or node.attr in {"read_pickle", "to_pickle"}:
                report(node, f"uses .{node.attr}")
            dotted = _dotted(node, aliases)
            if dotted and dotted.split(".")[0] in PICKLE_MODULES:
                report(node, f"uses {dotted}")
        elif isinstance(node, ast.Name) and aliases.get(node.id, "").split(".")[0] in (
            PICKLE_MODULES
        ):
            report(node, f"uses {node.id} ({aliases[node.id]})")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in {"trust_remote_code", "shell"}
                    and not _is_false(value)
                ):
                    report(node, f"{key.value} in a dict of options")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if name in CODE_RUNNERS:
            report(node, f"calls {name}()")
        if name in TORCH_LOADS and not _is_true(keywords.get("weights_only", ast.Constant(None))):
            report(node, "torch.load without weights_only=True")
        if "trust_remote_code" in keywords and not _is_false(keywords["trust_remote_code"]):
            report(node, "trust_remote_code not False")
        if "shell" in keywords and not _is_false(keywords["shell"]):
            report(node, "shell not False")
        if "allow_pickle" in keywords and not _is_false(keywords["allow_pickle"]):
            report(node, "allow_pickle not False")
        if name in SHELL_CALLS:
            report(node, f"calls {name}() (a shell)")
        if name in SUBPROCESS_CALLS and not _argv_is_a_list(node, owner.get(node), list_functions):
            report(node, f"{name} with a command that is not shown to be a list")
    return found


def scan_tree(root: Path) -> Iterator[Finding]:
    for path in sorted(root.rglob("*.py")):
        yield from scan_source(path.read_text(encoding="utf-8"), str(path.relative_to(root)))


def test_the_sources_are_found():
    assert len(SOURCES) > 20
    assert SRC / "diffusion_link" / "decoder" / "launch.py" in SOURCES


def test_no_source_file_breaks_a_rule():
    findings = list(scan_tree(SRC))
    assert not findings, "\n".join(map(str, findings))


def test_every_subprocess_call_in_the_sources_is_checked():
    """The list rule is not vacuous: the package's known subprocess calls are all seen."""
    calls = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = _aliases(tree)
        calls += [
            path.relative_to(SRC / "diffusion_link").as_posix()
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _dotted(node.func, aliases) in SUBPROCESS_CALLS
        ]
    assert {"decoder/launch.py", "metrics/caption_java.py"} <= set(calls)


BAD = {
    "import pickle": "imports pickle",
    "import cloudpickle as cp": "imports cloudpickle",
    "from pickle import loads": "imports from pickle",
    "import torch\ntorch.serialization.pickle.loads(b'')": "uses .pickle",
    "import pandas as pd\npd.read_pickle('x')": "uses .read_pickle",
    "import numpy as np\nnp.load('x', allow_pickle=True)": "allow_pickle not False",
    "import torch\ntorch.load('x')": "torch.load without weights_only=True",
    "import torch as t\nt.load('x', weights_only=False)": "torch.load without weights_only=True",
    "from torch import load\nload('x', map_location='cpu')": "torch.load without weights_only=True",
    "def f(m):\n    m.from_pretrained('x', trust_remote_code=True)": "trust_remote_code not False",
    "def f(m, o):\n    m.from_pretrained('x', **{'trust_remote_code': o})": "trust_remote_code in a",
    "import subprocess\nsubprocess.run('ls', shell=True)": "shell not False",
    "import subprocess\nsubprocess.run('ls -l')": "not shown to be a list",
    "import subprocess\ndef f(x):\n    c = f'ls {x}'\n    subprocess.run(c)": "not shown to be",
    "import os\nos.system('ls')": "calls os.system() (a shell)",
    "from subprocess import getoutput\ngetoutput('ls')": "calls subprocess.getoutput()",
    "eval('1 + 1')": "calls eval()",
    "exec('x = 1')": "calls exec()",
    "import builtins\nbuiltins.exec('x = 1')": "calls builtins.exec()",
}


@pytest.mark.parametrize("source", BAD, ids=list(range(len(BAD))))
def test_the_scanner_catches_each_breach(source):
    rules = [finding.rule for finding in scan_source(source)]
    assert any(BAD[source] in rule for rule in rules), rules


def test_the_scanner_ignores_comments_strings_and_lookalikes():
    source = """
import subprocess
import torch

# import pickle; torch.load(x); eval("1"); subprocess.run(cmd, shell=True)
DOC = "pickle.loads(data) and exec('x') and trust_remote_code=True"


def build(args: list[str]) -> list[str]:
    return ["echo", *args]


def run(model, path, args):
    model.eval()  # a torch module's eval(), not the builtin
    torch.load(path, map_location="cpu", weights_only=True)
    model.from_pretrained("x", trust_remote_code=False)
    command = build(args)
    command += ["--flag"]
    subprocess.run(command, check=False)
    subprocess.run(["ls", path], shell=False)
"""
    assert scan_source(source) == []


# -- the decoder's `accelerate launch` command: parameters are arguments, never shell text --

HOSTILE = "; touch {canary} #"


def hostile_launch(tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    """The real command that ``train_decoder`` would run for hostile catalog parameters."""
    from diffusion_link.decoder.launch import launch_command
    from diffusion_link.pipelines.decoder_training.params import DecoderSettings

    canary = tmp_path / "owned"
    values = {
        "job_dir": f"{tmp_path}/jobs{HOSTILE.format(canary=canary)}",
        "main_process_ip": f"127.0.0.1{HOSTILE.format(canary=canary)}",
        "extra_arg": f"$(touch {canary})`touch {canary}`",
    }
    settings = DecoderSettings.model_validate(
        {
            "model": "unused",
            "job_dir": values["job_dir"],
            "accelerate": {
                "main_process_ip": values["main_process_ip"],
                "main_process_port": 29517,
                "extra_args": ["--debug", values["extra_arg"]],
            },
        }
    )
    # as train_decoder does: the job folder is Path(job_dir) / "<mode>_<bridge>"
    job_folder = Path(settings.job_dir) / "zero_shot_none"
    return launch_command(job_folder, settings.launch(), machine_rank=0), values, canary


def test_hostile_parameters_are_single_intact_arguments(tmp_path):
    from diffusion_link.decoder.launch import LaunchSettings, worker_command

    command, values, canary = hostile_launch(tmp_path)
    assert f"{values['job_dir']}/zero_shot_none" == command[-1]
    assert command[command.index("--main_process_ip") + 1] == values["main_process_ip"]
    assert values["extra_arg"] in command
    assert all(isinstance(part, str) for part in command)
    # the command printed for the other machines of a cluster is quoted for a shell: it splits
    # back into exactly the same arguments
    launch = LaunchSettings(
        num_processes=2,
        num_machines=2,
        main_process_ip=values["main_process_ip"],
        main_process_port=29517,
        extra_args=(values["extra_arg"],),
    )
    worker = worker_command(Path(values["job_dir"]), launch, machine_rank=1)
    split = shlex.split(worker)
    assert split[-3:] == [values["job_dir"], "--wait", "3600"]
    assert values["main_process_ip"] in split and values["extra_arg"] in split
    assert not canary.exists()


def test_running_the_hostile_launch_command_cannot_run_the_injected_text(tmp_path):
    """Run it as ``train_in_processes`` does: accelerate and the worker get the values intact
    (the worker names the job folder it could not find) and nothing creates the canary."""
    command, values, canary = hostile_launch(tmp_path)
    command.remove("--debug")
    command.remove(values["extra_arg"])  # an unknown accelerate option would stop it earlier
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, timeout=HANG_GUARD_S
    )
    assert completed.returncode != 0
    assert f"no decoder job at {values['job_dir']}/zero_shot_none" in completed.stderr
    assert not canary.exists()
    assert command[0] == sys.executable
