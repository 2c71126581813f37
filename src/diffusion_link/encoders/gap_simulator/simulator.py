"""The gap simulator's modality transform: a fitted record and the simulator it rebuilds.

:class:`GapSimulatorFit` holds everything a fit found; :class:`GapSimulator` applies it to mean
caption embeddings (the learnable part, then the clip-specific residual) and inverts the
learnable part exactly (the oracle bridge). The package docstring describes each step.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from diffusion_link.metrics.modality_gap import c3_collapse, l2_normalise, uncollapse


@dataclass(frozen=True)
class GapSimulatorFit:
    """A fitted modality transform; everything needed to rebuild the simulator exactly."""

    rotation_angle: float
    offset_norm: float
    offset_alignment: float
    residual_scale: float
    residual_exponent: float
    warp_angle: float
    warp_layers: int
    anisotropy: float
    seed: int
    text_mean: list[float]
    # d x d float32, little-endian, row-major, base64: principal directions of the noiseless
    # simulated train audio, scaled by the square root of their variance share ("" = none)
    residual_basis: str = ""
    targets: dict[str, list[float]] = field(default_factory=dict)
    achieved: dict[str, float] = field(default_factory=dict)
    # targets missed by more than their tolerance (only retrieval may be: see fit_gap_simulator)
    missed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The fit as plain JSON-ready values (the ``gap_simulator_fit`` record)."""
        return asdict(self)

    def summary(self) -> str:
        """The fitted parameters, the achieved values and the missed targets, for a log."""
        return (
            f"theta={self.rotation_angle:.3f}, beta={self.offset_norm:.3f}, "
            f"rho={self.offset_alignment:.3f}, gamma={self.residual_scale:.3f}, "
            f"p={self.residual_exponent:.3f}; achieved "
            f"{ {k: round(v, 4) for k, v in self.achieved.items()} }; missed {self.missed}"
        )

    @classmethod
    def from_dict(cls, data: dict) -> GapSimulatorFit:
        """The fit :meth:`to_dict` wrote."""
        return cls(**data)


def _clip_seed(seed: int, clip_id: str) -> list[int]:
    digest = hashlib.blake2b(clip_id.encode(), digest_size=8).digest()
    return [seed, int.from_bytes(digest, "little")]


def clip_draws(clip_ids: Sequence[str], dim: int, seed: int) -> np.ndarray:
    """Per clip id, one seeded standard-normal vector (a clip's residual draw)."""
    return np.stack(
        [np.random.default_rng(_clip_seed(seed, c)).standard_normal(dim) for c in clip_ids]
    )


def principal_axes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variances (descending) and principal directions (rows) of ``x``."""
    centred = x - x.mean(axis=0)
    variance, directions = np.linalg.eigh(centred.T @ centred / len(x))
    return np.clip(variance[::-1], 0.0, None), directions[:, ::-1].T


def residual_basis(variance: np.ndarray, directions: np.ndarray, exponent: float) -> np.ndarray:
    """The residual's basis (K x d, float32): each principal direction scaled by the square
    root of its share of ``variance ** exponent``, so a standard-normal combination has unit
    expected norm. Exponent 0: isotropic in the directions' span; 1: the covariance of the
    data; above 1: concentrated on the leading directions."""
    weight = np.where(variance > 0, variance, 0.0) ** exponent * (variance > 0)
    return (directions * np.sqrt(weight / weight.sum())[:, None]).astype("<f4")


def encode_basis(basis: np.ndarray) -> str:
    """A residual basis as stored in :class:`GapSimulatorFit` (exact, compact JSON)."""
    return base64.b64encode(np.ascontiguousarray(basis, dtype="<f4").tobytes()).decode("ascii")


def decode_basis(encoded: str, dim: int) -> np.ndarray | None:
    """The inverse of :func:`encode_basis` (float64, K x dim); None when empty."""
    if not encoded:
        return None
    values = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    return values.reshape(-1, dim).astype(np.float64)


class GapSimulator:
    """Applies a :class:`GapSimulatorFit` to mean caption embeddings, and inverts its
    learnable part (the oracle bridge)."""

    def __init__(self, fit: GapSimulatorFit) -> None:
        """Rebuild the simulator of ``fit``: its seeded bases, scales and residual basis."""
        self.fit = fit
        self.text_mean = np.asarray(fit.text_mean, dtype=np.float64)
        self.dim = len(self.text_mean)
        bases = _seeded_bases(fit.seed, self.text_mean.tobytes(), fit.warp_layers)
        self._planes, self._offset_direction, self._axes, self._orders, self._weights = bases
        self._log_scales = np.linspace(-0.5, 0.5, self.dim) * fit.anisotropy
        self.residual_basis = decode_basis(fit.residual_basis, self.dim)

    # --- the learnable part -------------------------------------------------------------
    def _offset(self) -> np.ndarray:
        rho = self.fit.offset_alignment
        direction = rho * l2_normalise(self.text_mean) + np.sqrt(max(0.0, 1.0 - rho**2)) * (
            self._offset_direction
        )
        return self.fit.offset_norm * direction

    def _couple(self, coords: np.ndarray, layer: int, sign: float) -> np.ndarray:
        """Coupling layer ``layer`` in the warp's coordinates: the planes of one half of the
        (seeded, permuted) axes rotate by angles that depend on the other half only."""
        order, weights = self._orders[layer], self._weights[layer]
        half = self.dim // 2
        keep, move = order[:half], order[half : half + 2 * weights.shape[1]]
        angle = sign * self.fit.warp_angle * np.tanh(np.sqrt(self.dim) * coords[:, keep] @ weights)
        first, second = coords[:, move[0::2]], coords[:, move[1::2]]
        cos, sin = np.cos(angle), np.sin(angle)
        out = coords.copy()
        out[:, move[0::2]] = cos * first - sin * second
        out[:, move[1::2]] = sin * first + cos * second
        return out

    def _rotated_axes(self) -> np.ndarray:
        """``R A`` (d x d): the warp's axes ``A`` after the partial rotation ``R``."""
        return _rotate(self._axes.T, self._planes, self.fit.rotation_angle).T

    def learnable(self, caption_means: np.ndarray) -> np.ndarray:
        """The noiseless simulated audio ``a' = M(c)`` of unit mean captions (float64)."""
        x = c3_collapse(np.asarray(caption_means, dtype=np.float64), self.text_mean)
        coords = l2_normalise((x @ self._axes) * np.exp(self._log_scales))
        for layer in range(self.fit.warp_layers):
            coords = self._couple(coords, layer, 1.0)
        return l2_normalise(coords @ self._rotated_axes().T + self._offset())

    def invert(self, audio: np.ndarray) -> np.ndarray:
        """The exact inverse of :meth:`learnable` applied to unit audio rows: the oracle
        bridge. Returns unit caption-space rows (float64)."""
        x = uncollapse(np.asarray(audio, dtype=np.float64), -self._offset())
        coords = x @ self._rotated_axes()
        for layer in reversed(range(self.fit.warp_layers)):
            coords = self._couple(coords, layer, -1.0)
        x = l2_normalise(coords * np.exp(-self._log_scales)) @ self._axes.T
        return uncollapse(x, self.text_mean)

    # --- the residual -------------------------------------------------------------------
    def residuals(self, clip_ids: Sequence[str]) -> np.ndarray:
        """The clip-specific residuals ``xi`` (unit expected norm), seeded per clip id."""
        if self.residual_basis is None:
            raise ValueError("gap simulator fit has no residual basis: re-run the embedding fit")
        draws = clip_draws(clip_ids, self.dim, self.fit.seed)
        return draws[:, : len(self.residual_basis)] @ self.residual_basis

    def simulate(self, clip_ids: Sequence[str], caption_means: np.ndarray) -> np.ndarray:
        """Simulated unit audio embeddings (float32) for clips with these mean captions."""
        noiseless = self.learnable(caption_means)
        noisy = noiseless + self.fit.residual_scale * self.residuals(clip_ids)
        return l2_normalise(noisy).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _seeded_bases(
    seed: int, text_mean_bytes: bytes, layers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Everything seeded: rotation planes and offset direction (orthogonal to the text mean),
    the warp's orthonormal axes, and per coupling layer a permutation of the axes and the
    weights that turn one half's coordinates into the other half's plane angles."""
    text_mean = np.frombuffer(text_mean_bytes, dtype=np.float64)
    dim = len(text_mean)
    mean_direction = l2_normalise(text_mean)
    gaussian = np.random.default_rng(seed).standard_normal((dim, dim - 1))
    gaussian -= np.outer(mean_direction, mean_direction @ gaussian)
    basis, _ = np.linalg.qr(gaussian)
    n_plane_columns = 2 * ((dim - 2) // 2)
    rng = np.random.default_rng([seed, 1])
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    half = dim // 2
    orders = [rng.permutation(dim) for _ in range(layers)]
    weights = [rng.standard_normal((half, half // 2)) / np.sqrt(half) for _ in range(layers)]
    return basis[:, :n_plane_columns], basis[:, -1], q * np.sign(np.diag(r)), orders, weights


def _rotate(x: np.ndarray, planes: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``x`` by ``angle`` within each consecutive column pair of ``planes``."""
    coords = x @ planes
    first, second = coords[:, 0::2], coords[:, 1::2]
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = np.empty_like(coords)
    rotated[:, 0::2] = cos * first - sin * second
    rotated[:, 1::2] = sin * first + cos * second
    return x + (rotated - coords) @ planes.T
