"""The cosine noise schedule, forward noising and the deterministic DDIM sampler (x0 form)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def cosine_alpha_bar(T: int, s: float = 0.008) -> torch.Tensor:
    """Cumulative alpha-bar of the cosine schedule (Nichol & Dhariwal) for steps 0..T.

    Returns a float32 tensor of length T+1 with value 1 at step 0. As in the improved-DDPM
    reference, per-step betas are clipped at 0.999 so alpha-bar stays positive at step T.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])
    return alpha_bar.float()


def check_inference_steps(s_star: int, steps: int, T: int | None = None) -> None:
    """Reject an impossible (``s_star``, ``steps``) before any work is done.

    ``s_star`` must lie in [1, T] (only >= 1 when ``T`` is None) and ``steps``, the number of
    DDIM steps, in [1, s_star]; the ``ValueError`` names the argument that is out of range.
    """
    if s_star < 1 or (T is not None and s_star > T):
        bounds = f"between 1 and T={T}" if T is not None else ">= 1"
        raise ValueError(f"s_star must be {bounds}, got {s_star}")
    if not 1 <= steps <= s_star:
        raise ValueError(
            f"DDIM steps must be between 1 and s_star={s_star}, got {steps} (argument `steps`)"
        )


def ddim_timesteps(s_star: int, steps: int) -> list[int]:
    """The descending steps DDIM visits from ``s_star`` to 0, evenly spaced.

    >>> ddim_timesteps(100, 5)
    [100, 80, 60, 40, 20, 0]
    """
    check_inference_steps(s_star, steps)
    return [round(s_star * (steps - i) / steps) for i in range(steps + 1)]


def q_sample(
    z0: torch.Tensor, s: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """Forward process, eq. (2): sqrt(abar_s) z0 + sqrt(1 - abar_s) eps, per row step ``s``."""
    a = alpha_bar.to(z0.device)[s].unsqueeze(-1)
    return a.sqrt() * z0 + (1 - a).sqrt() * noise


def ddim_sample(
    predict_x0: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    timesteps: list[int],
    alpha_bar: torch.Tensor,
) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) from ``z`` at ``timesteps[0]`` down to ``timesteps[-1]``.

    ``predict_x0(z_s, s)`` is the denoiser's sample prediction. At the last step (0) the
    result is the prediction itself, since alpha-bar is 1 there.
    """
    alpha_bar = alpha_bar.to(z.device)
    x0 = z
    for current, following in zip(timesteps[:-1], timesteps[1:], strict=True):
        s = torch.full((z.shape[0],), current, dtype=torch.long, device=z.device)
        x0 = predict_x0(z, s)
        a_now, a_next = alpha_bar[current], alpha_bar[following]
        eps = (z - a_now.sqrt() * x0) / (1 - a_now).clamp_min(1e-12).sqrt()
        z = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
    return z
