"""The cosine schedule, the DDIM step list, forward noising and the DDIM sampler."""

import math

import pytest
import torch

from diffusion_link.core.schedule import cosine_alpha_bar, ddim_sample, ddim_timesteps, q_sample


def closed_form(t: int, T: int, s: float) -> float:
    """Nichol & Dhariwal's alpha-bar, f(t) / f(0) with f(t) = cos^2(((t/T + s)/(1 + s)) pi/2)."""

    def f(step: float) -> float:
        return math.cos((step / T + s) / (1 + s) * math.pi / 2) ** 2

    return f(t) / f(0)


@pytest.mark.parametrize("T", [1, 10, 1000])
def test_alpha_bar_shape_endpoints_and_monotonicity(T):
    alpha_bar = cosine_alpha_bar(T)
    assert alpha_bar.shape == (T + 1,) and alpha_bar.dtype == torch.float32
    assert alpha_bar[0].item() == 1.0
    assert bool((alpha_bar[1:] < alpha_bar[:-1]).all()), "alpha-bar must strictly decrease"
    assert alpha_bar[T].item() > 0.0


@pytest.mark.parametrize("T, s", [(1000, 0.008), (50, 0.008), (200, 0.05)])
def test_alpha_bar_matches_the_closed_form_where_betas_are_not_clipped(T, s):
    alpha_bar = cosine_alpha_bar(T, s).double()
    # Per-step beta of the closed form; the implementation clips it at 0.999 (step T here).
    betas = [1 - closed_form(t, T, s) / closed_form(t - 1, T, s) for t in range(1, T + 1)]
    unclipped = [t for t in range(1, T + 1) if betas[t - 1] <= 0.999]
    assert T not in unclipped, "the last beta (f(T) ~ 0) is the clipped one"
    assert len(unclipped) == T - 1
    for t in [0, *unclipped]:
        assert alpha_bar[t].item() == pytest.approx(closed_form(t, T, s), rel=1e-5, abs=1e-9)
    # The clipped last step: alpha-bar(T) = alpha-bar(T-1) * (1 - 0.999).
    assert alpha_bar[T].item() == pytest.approx(closed_form(T - 1, T, s) * 1e-3, rel=1e-4)


def test_alpha_bar_rejects_t_below_one():
    with pytest.raises(ValueError, match="T must be >= 1"):
        cosine_alpha_bar(0)


@pytest.mark.parametrize(
    "s_star, steps, expected",
    [
        (100, 5, [100, 80, 60, 40, 20, 0]),
        (100, 1, [100, 0]),
        (5, 5, [5, 4, 3, 2, 1, 0]),
        (1, 1, [1, 0]),
        (600, 5, [600, 480, 360, 240, 120, 0]),
        (1000, 50, list(range(1000, -1, -20))),
        (10, 3, [10, 7, 3, 0]),
    ],
)
def test_ddim_timesteps(s_star, steps, expected):
    assert ddim_timesteps(s_star, steps) == expected


@pytest.mark.parametrize("s_star", [1, 2, 7, 10, 99, 100, 333, 1000])
def test_ddim_timesteps_are_distinct_descending_and_end_at_zero(s_star):
    for steps in range(1, min(s_star, 60) + 1):
        visited = ddim_timesteps(s_star, steps)
        assert len(visited) == steps + 1
        assert visited[0] == s_star and visited[-1] == 0
        assert all(a > b for a, b in zip(visited, visited[1:], strict=False))
        assert all(isinstance(step, int) for step in visited)


@pytest.mark.parametrize(
    "s_star, steps, message",
    [
        (100, 0, "DDIM steps must be between 1 and s_star=100, got 0"),
        (100, -3, "got -3"),
        (10, 11, "DDIM steps must be between 1 and s_star=10, got 11"),
        (0, 1, "s_star must be >= 1, got 0"),
        (-5, 1, "s_star must be >= 1"),
    ],
)
def test_ddim_timesteps_errors(s_star, steps, message):
    with pytest.raises(ValueError, match=message):
        ddim_timesteps(s_star, steps)


def test_q_sample_against_a_hand_computation():
    alpha_bar = torch.tensor([1.0, 0.64, 0.36, 0.04])
    z0 = torch.tensor([[1.0, -2.0], [3.0, 0.5], [0.0, 4.0]])
    noise = torch.tensor([[0.5, 1.0], [-1.0, 2.0], [2.0, -0.5]])
    s = torch.tensor([0, 1, 3])
    # row 0: abar 1     -> z0 exactly
    # row 1: abar 0.64  -> 0.8 * (3, 0.5) + 0.6 * (-1, 2)  = (1.8, 1.6)
    # row 2: abar 0.04  -> 0.2 * (0, 4)   + sqrt(0.96) * (2, -0.5)
    r = math.sqrt(0.96)
    expected = torch.tensor([[1.0, -2.0], [1.8, 1.6], [2 * r, 0.8 - 0.5 * r]])
    torch.testing.assert_close(q_sample(z0, s, alpha_bar, noise), expected)


def test_ddim_with_an_oracle_returns_x0_exactly():
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(7, 5, generator=generator)
    alpha_bar = cosine_alpha_bar(1000)
    s_star = 100
    z = q_sample(x0, torch.full((7,), s_star), alpha_bar, torch.randn(7, 5, generator=generator))
    calls = []

    def oracle(z_s, s):
        calls.append(s.tolist())
        return x0

    out = ddim_sample(oracle, z, ddim_timesteps(s_star, 5), alpha_bar)
    assert torch.equal(out, x0)
    assert [c[0] for c in calls] == [100, 80, 60, 40, 20]
    assert all(len(set(c)) == 1 and len(c) == 7 for c in calls)


def test_one_ddim_step_against_a_hand_computation():
    alpha_bar = torch.tensor([1.0, 0.9, 0.64, 0.36, 0.25])
    z = torch.tensor([[1.0, 2.0], [-0.5, 0.25]])
    x0_hat = torch.tensor([[0.5, 0.5], [1.0, -1.0]])
    # From step 4 (abar 0.25) to step 2 (abar 0.64), eta = 0:
    # eps = (z - 0.5 x0) / sqrt(0.75);  z' = 0.8 x0 + 0.6 eps
    root = math.sqrt(0.75)
    expected = torch.tensor(
        [
            [0.8 * 0.5 + 0.6 * (1.0 - 0.25) / root, 0.8 * 0.5 + 0.6 * (2.0 - 0.25) / root],
            [0.8 * 1.0 + 0.6 * (-0.5 - 0.5) / root, -0.8 + 0.6 * (0.25 + 0.5) / root],
        ]
    )
    out = ddim_sample(lambda z_s, s: x0_hat, z, [4, 2], alpha_bar)
    torch.testing.assert_close(out, expected)
    # Stopping at step 0 returns the prediction itself (alpha-bar is 1 there).
    assert torch.equal(ddim_sample(lambda z_s, s: x0_hat, z, [4, 0], alpha_bar), x0_hat)
