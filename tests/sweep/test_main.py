"""``python -m diffusion_link.sweep``: a bad grid exits 2 with the problems, naming the key."""

from __future__ import annotations

from diffusion_link.sweep.__main__ import main

S_STAR = "bridge_training.bridges.diffusion_link.model.s_star"


def test_a_bad_grid_exits_2_naming_the_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # refused before the project is even read
    grid = ["--grid", f"{S_STAR}=", "--grid", "bridge_training.settings.device=cpu,cpu"]
    assert main(["--pipeline", "bridge_training", *grid, "--params", f"{S_STAR}=1"]) == 2
    problems = capsys.readouterr().err.splitlines()
    assert problems == [
        "invalid parameters (nothing has run):",
        f"  - {S_STAR}: empty value list in --grid",
        "  - bridge_training.settings.device: a value is given twice in --grid (cpu,cpu)",
    ]
    assert list(tmp_path.iterdir()) == []
