"""The residual-MLP denoiser: shapes, zero-initialised output, time conditioning."""

import torch

from diffusion_link.core.denoiser import ResidualBlock, ResidualMLPDenoiser, timestep_embedding


def _denoiser(**kwargs) -> ResidualMLPDenoiser:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return ResidualMLPDenoiser(**kwargs)


def test_shapes_with_default_and_conditional_inputs():
    z, s = torch.randn(7, 12), torch.randint(0, 1000, (7,))
    assert _denoiser(dim=12, width=24)(z, s).shape == (7, 12)
    # DiffGap's denoiser reads [z, condition] and still predicts a dim-vector.
    conditional = _denoiser(dim=12, width=24, num_blocks=2, time_dim=9, in_dim=24)
    assert conditional(torch.randn(7, 24), s).shape == (7, 12)
    assert conditional.input.in_features == 24 and len(conditional.blocks) == 2
    assert conditional.time_mlp[0].in_features == 9


def test_zero_initialised_output_and_identity_blocks():
    denoiser = _denoiser(dim=6, width=10, num_blocks=3)
    z, s = torch.randn(5, 6), torch.tensor([0, 1, 10, 500, 1000])
    assert torch.equal(denoiser(z, s), torch.zeros(5, 6))
    block = ResidualBlock(width=10, time_dim=6)
    x = torch.randn(5, 10)
    assert torch.equal(block(x, torch.randn(5, 6)), x)


def test_time_embedding_is_distinct_per_step():
    steps = torch.arange(1001)
    for size in (6, 7, 384):
        embedding = timestep_embedding(steps, size)
        assert embedding.shape == (1001, size) and torch.isfinite(embedding).all()
        assert len(torch.unique(embedding, dim=0)) == 1001
    # Once the zero-initialised layers are trained away from zero, the step (which enters
    # through the blocks' residual branches) changes the prediction.
    denoiser = _denoiser(dim=6, width=10)
    generator = torch.Generator().manual_seed(0)
    for layer in [denoiser.output, *(block.out_linear for block in denoiser.blocks)]:
        torch.nn.init.normal_(layer.weight, generator=generator)
    z = torch.randn(1, 6).expand(4, 6)
    out = denoiser(z, torch.tensor([1, 100, 500, 1000]))
    assert len(torch.unique(out, dim=0)) == 4
