"""Diffusion-Link's losses against hand computations: reconstruction (eq. 6), topology (eq. 7)."""

import math

import pytest
import torch

from diffusion_link.core.losses import cross_sample_objective, reconstruction_loss, topology_loss
from diffusion_link.core.model import DiffusionConfig, DiffusionLink

# A 3 x 2 example. Text rows (1, 0), (0, 1), (3, 4) normalise to (1, 0), (0, 1), (.6, .8);
# text-like rows (2, 0), (1, 1), (0, 2) normalise to (1, 0), (c, c), (0, 1) with c = 1/sqrt 2.
TEXT = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]], dtype=torch.float64)
TEXT_LIKE = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)


def test_topology_loss_by_hand():
    # S_xx     = [[1, 0, .6], [0, 1, .8], [.6, .8, 1]]
    # S_x,xhat = [[1, c, 0], [0, c, 1], [.6, 1.4c, .8]]
    # S_xx - S_x,xhat = [[0, -c, .6], [0, 1 - c, -.2], [0, .8 - 1.4c, .2]]
    # ||.||_F^2 = c^2 + .36 + (1 - c)^2 + .04 + (.8 - 1.4c)^2 + .04 = 4.06 - 2.12 sqrt 2
    c = 1 / math.sqrt(2)
    difference = torch.tensor(
        [[0.0, -c, 0.6], [0.0, 1 - c, -0.2], [0.0, 0.8 - 1.4 * c, 0.2]], dtype=torch.float64
    )
    expected = 4.06 - 2.12 * math.sqrt(2)
    assert difference.pow(2).sum().item() == pytest.approx(expected, rel=1e-12)
    assert topology_loss(TEXT, TEXT_LIKE).item() == pytest.approx(expected, rel=1e-12)
    assert topology_loss(TEXT.float(), TEXT_LIKE.float()).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_topology_loss_is_zero_when_the_geometry_is_kept():
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(16, 8, generator=generator)
    assert topology_loss(text, text).item() == pytest.approx(0.0, abs=1e-10)
    # A positive rescaling of each row leaves the normalised rows, hence the loss, unchanged.
    scales = torch.rand(16, 1, generator=generator) * 10 + 0.1
    assert topology_loss(text, text * scales).item() == pytest.approx(0.0, abs=1e-9)
    # ... but another geometry does not.
    assert topology_loss(text, torch.randn(16, 8, generator=generator)).item() > 0.1


def test_topology_loss_gradient_is_finite_and_bounded_at_all_zero_predictions():
    # A zero-initialised output layer predicts exactly zero at step 0.
    text = TEXT.float()
    text_like = torch.zeros(3, 2, requires_grad=True)
    loss = topology_loss(text, text_like)
    # x_hat' is 0, so S_x,xhat = 0 and the loss is ||S_xx||_F^2 = 3 + 2 (.6^2 + .8^2) = 5.
    assert loss.item() == pytest.approx(5.0, rel=1e-6)
    loss.backward()
    assert torch.isfinite(text_like.grad).all()
    # The eps floor (1e-2) bounds it; a 1e-12 floor would give gradients of order 1e12.
    assert text_like.grad.abs().max().item() < 1e4
    assert text_like.grad.abs().max().item() > 0


def test_reconstruction_loss_by_hand():
    target = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
    prediction = torch.tensor([[1.0, 0.0, 0.0], [2.0, -1.0, 0.0]])
    # row 0: 0 + 4 + 9 = 13; row 1: 4 + 0 + 1 = 5; mean over the batch = 9
    assert reconstruction_loss(target, prediction).item() == pytest.approx(9.0)
    assert reconstruction_loss(target, target).item() == 0.0


@pytest.fixture
def tiny_model() -> DiffusionLink:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return DiffusionLink(DiffusionConfig(dim=4, width=8, time_dim=6))


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"text": torch.randn(5, 4, generator=generator) * 2, "audio": torch.randn(5, 4)}


def test_cross_sample_objective_parts_at_initialisation(tiny_model, batch):
    # The output layer starts at zero, so both predictions are exactly 0 and every part has a
    # closed form: the element means of eqs. 6 and 7.
    objective = cross_sample_objective(diffusion_weight=0.7, topology_weight=3.0)
    parts = objective(tiny_model, batch, torch.Generator().manual_seed(0))
    assert set(parts) == {"loss", "text_to_text", "audio_to_text", "topology"}
    text = batch["text"]
    reconstruction = text.pow(2).sum(-1).mean() / 4  # ||text - 0||^2, averaged over B and d
    unit = torch.nn.functional.normalize(text, dim=-1)
    topology = (unit @ unit.T).pow(2).sum() / 5**2  # ||S_xx - 0||_F^2 / B^2
    torch.testing.assert_close(parts["text_to_text"], reconstruction)
    torch.testing.assert_close(parts["audio_to_text"], reconstruction)
    torch.testing.assert_close(parts["topology"], topology)
    torch.testing.assert_close(parts["loss"], 0.7 * 2 * reconstruction + 3.0 * topology)
    both = cross_sample_objective(topology_source="both")(
        tiny_model, batch, torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(both["topology"], 2 * topology)
    # The paper's literal sums: squared norms summed over d, the Frobenius norm over B^2.
    literal = cross_sample_objective(reduction="sum")(
        tiny_model, batch, torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(literal["text_to_text"], reconstruction * 4)
    torch.testing.assert_close(literal["topology"], topology * 5**2)
    with pytest.raises(ValueError, match="reduction must be mean or sum"):
        cross_sample_objective(reduction="median")


def test_cross_sample_objective_after_a_nonzero_output(tiny_model, batch):
    torch.nn.init.normal_(tiny_model.denoiser.output.weight, std=0.5)
    objective = cross_sample_objective()
    first = objective(tiny_model, batch, torch.Generator().manual_seed(3))
    again = objective(tiny_model, batch, torch.Generator().manual_seed(3))
    for key in first:
        assert torch.equal(first[key], again[key]), "the generator alone must set the noise"
    torch.testing.assert_close(
        first["loss"], first["text_to_text"] + first["audio_to_text"] + first["topology"]
    )
    # The audio and text branches get different noise and steps, hence different losses.
    assert first["text_to_text"].item() != first["audio_to_text"].item()
    first["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in tiny_model.parameters() if p.grad is not None)


@pytest.mark.parametrize("source", ["image", "", "Audio"])
def test_cross_sample_objective_rejects_a_bad_topology_source(source):
    with pytest.raises(ValueError, match="topology_source must be audio, text or both"):
        cross_sample_objective(topology_source=source)
