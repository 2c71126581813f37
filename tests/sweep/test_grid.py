"""The sweep's grid: parsing as ``kedro run --params`` parses, points, digests, bad grids."""

from __future__ import annotations

import pytest

from diffusion_link.project.parameters import ParameterError
from diffusion_link.sweep.grid import (
    check_grid,
    code_version,
    default_name,
    grid_points,
    merged,
    nested,
    overlapping_keys,
    parse_items,
    point_digest,
    short_names,
    split_values,
    unread_keys,
)

S_STAR = "bridge_training.bridges.diffusion_link.model.s_star"
TOPOLOGY = "bridge_training.bridges.diffusion_link.loss.topology_weight"


def test_values_are_typed_as_kedro_params_types_them():
    grid, problems = parse_items(
        [f"{S_STAR}=100,200", f"{TOPOLOGY}=0,0.5", "a.b=true,null,text,[1,2]"], "--grid"
    )
    assert problems == []
    assert grid == {S_STAR: [100, 200], TOPOLOGY: [0, 0.5], "a.b": [True, None, "text", [1, 2]]}


def test_commas_inside_brackets_and_quotes_do_not_split():
    assert split_values("[1,2], '3,4' ,5,") == ["[1,2]", "'3,4'", "5"]


def test_points_are_the_cartesian_product_first_key_slowest():
    points = grid_points({S_STAR: [100, 200], TOPOLOGY: [0, 1]})
    assert points == [
        {S_STAR: 100, TOPOLOGY: 0},
        {S_STAR: 100, TOPOLOGY: 1},
        {S_STAR: 200, TOPOLOGY: 0},
        {S_STAR: 200, TOPOLOGY: 1},
    ]


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([f"{S_STAR}="], f"{S_STAR}: empty value list in --grid"),
        ([f"{S_STAR}=1", f"{S_STAR}=2"], f"{S_STAR}: given twice in --grid"),
        ([f"{S_STAR}=1", "bridge_training.bridges=2"], "bridge_training.bridges: overlaps"),
        ([f"{S_STAR}=1,1"], f"{S_STAR}: a value is given twice"),
        (["tracking.enabled=false"], "tracking.enabled: set by the sweep itself"),
        (["no_equals"], "--grid 'no_equals': expected key=value"),
    ],
)
def test_bad_items_name_the_key(items, problem):
    _, problems = parse_items(items, "--grid")
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_key_in_both_grid_and_params_is_refused():
    assert overlapping_keys({S_STAR: [1]}, {"bridge_training.bridges.diffusion_link": {}}) == [
        f"{S_STAR}: given both in --grid and in --params (as bridge_training.bridges.diffusion_link)"
    ]


def test_unread_keys_are_named():
    read = {"bridge_training.bridges.diffusion_link", "evaluation"}
    assert unread_keys([S_STAR, "evaluation.split", "decoder_training.x"], read) == [
        "decoder_training.x: no node of the swept pipelines reads it"
    ]


def test_check_grid_raises_every_problem_once():
    with pytest.raises(ParameterError, match="nothing has run") as error:
        check_grid(["a: bad", "b: bad", "a: bad"])
    assert error.value.problems == ["a: bad", "b: bad"]
    check_grid([])


def test_overrides_merge_into_the_parameters_as_runtime_params_do():
    parameters = {
        "bridge_training": {"bridges": {"diffusion_link": {"model": {"s_star": 100, "width": 8}}}}
    }
    assert nested({S_STAR: 300}) == {
        "bridge_training": {"bridges": {"diffusion_link": {"model": {"s_star": 300}}}}
    }
    result = merged(parameters, {S_STAR: 300})
    assert result["bridge_training"]["bridges"]["diffusion_link"]["model"] == {
        "s_star": 300,
        "width": 8,
    }
    assert parameters["bridge_training"]["bridges"]["diffusion_link"]["model"]["s_star"] == 100


def test_the_digest_changes_with_each_input_but_not_the_pipeline_order():
    base = (["a", "b"], "local", {S_STAR: 100}, {}, {"x": 1}, "git:abc")
    digest = point_digest(*base)
    assert point_digest(["b", "a"], *base[1:]) == digest
    for index, changed in enumerate([["a"], "paper", {S_STAR: 200}, {"y": 1}, {"x": 2}, "git:def"]):
        assert point_digest(*base[:index], changed, *base[index + 1 :]) != digest


def test_code_version_without_git_hashes_src_and_conf_but_not_caches(tmp_path):
    (tmp_path / "src" / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "conf").mkdir()
    (tmp_path / "src" / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "conf" / "p.yml").write_text("a: 1\n")
    first = code_version(tmp_path)
    assert first.startswith("files:")
    (tmp_path / "src" / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"cache")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "out.csv").write_text("outputs do not count")
    assert code_version(tmp_path) == first
    (tmp_path / "conf" / "p.yml").write_text("a: 2\n")
    assert code_version(tmp_path) != first


def test_short_names_are_the_shortest_distinct_suffixes():
    keys = [S_STAR, "bridge_training.bridges.diffgap.model.s_star", TOPOLOGY]
    assert short_names(keys) == {
        S_STAR: "diffusion_link.model.s_star",
        "bridge_training.bridges.diffgap.model.s_star": "diffgap.model.s_star",
        TOPOLOGY: "topology_weight",
    }
    assert default_name([S_STAR, TOPOLOGY]) == "s_star-topology_weight"
