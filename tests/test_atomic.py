"""Reading safetensors files: a truncated or corrupt file is an error naming it and the fix."""

import pytest
import torch
from safetensors.torch import save_file

from diffusion_link.atomic import read_safetensors


def _saved(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.arange(6.0).reshape(2, 3)}, path, metadata={"json": "{}"})
    return path


def test_tensors_and_metadata_are_read_back(tmp_path):
    tensors, metadata = read_safetensors(_saved(tmp_path), "rerun")
    assert torch.equal(tensors["w"], torch.arange(6.0).reshape(2, 3))
    assert metadata == {"json": "{}"}


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b[:5], lambda b: b"", lambda b: b"\x00" * len(b)],
    ids=["half", "header-cut", "empty", "zeroed"],
)
def test_a_damaged_file_names_itself_and_the_remedy(tmp_path, damage):
    path = _saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(
        ValueError, match="weights.safetensors is not a readable safetensors"
    ) as error:
        read_safetensors(path, "delete it and rerun the pipeline")
    assert "delete it and rerun the pipeline" in str(error.value)
