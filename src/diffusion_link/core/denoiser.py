"""The denoiser phi(z_s, s): RCG's residual MLP (Li, Katabi, He, 2024), predicting z_0."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def timestep_embedding(s: torch.Tensor, size: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer steps ``s`` (shape (n,)) into (n, size)."""
    half = size // 2
    frequencies = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=s.device) / half
    )
    angles = s.float().unsqueeze(-1) * frequencies
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    return F.pad(embedding, (0, size % 2))


def _zero_linear(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class ResidualBlock(nn.Module):
    """x + Linear0(Dropout(SiLU(LN(Linear(SiLU(LN(x))) + Linear(SiLU(t_emb)))))).

    The last layer starts at zero, so every block starts as the identity.
    """

    def __init__(self, width: int, time_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_norm = nn.LayerNorm(width)
        self.in_linear = nn.Linear(width, width)
        self.time_linear = nn.Linear(time_dim, width)
        self.out_norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.out_linear = _zero_linear(width, width)

    def forward(self, x: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """``x`` plus the block's update, conditioned on the time embedding."""
        h = self.in_linear(F.silu(self.in_norm(x))) + self.time_linear(F.silu(time))
        return x + self.out_linear(self.dropout(F.silu(self.out_norm(h))))


class ResidualMLPDenoiser(nn.Module):
    """Input projection, time MLP, ``num_blocks`` residual blocks, zero-initialised output.

    ``in_dim`` defaults to ``dim``; a conditional denoiser (DiffGap) reads [z, condition].
    """

    def __init__(
        self,
        dim: int,
        width: int,
        num_blocks: int = 3,
        time_dim: int | None = None,
        dropout: float = 0.0,
        in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.time_dim = time_dim or dim
        self.input = nn.Linear(in_dim or dim, width)
        self.time_mlp = nn.Sequential(
            nn.Linear(self.time_dim, self.time_dim),
            nn.SiLU(),
            nn.Linear(self.time_dim, self.time_dim),
        )
        self.blocks = nn.ModuleList(
            ResidualBlock(width, self.time_dim, dropout) for _ in range(num_blocks)
        )
        self.out_norm = nn.LayerNorm(width)
        self.output = _zero_linear(width, dim)

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The predicted clean embedding for ``z`` at steps ``s``."""
        time = self.time_mlp(timestep_embedding(s, self.time_dim).to(z.dtype))
        h = self.input(z)
        for block in self.blocks:
            h = block(h, time)
        return self.output(F.silu(self.out_norm(h)))
