"""Simulated audio embeddings with the geometry of a contrastive encoder's modality gap.

Where no LAION-CLAP weights exist (the embedded default), a clip's "audio" embedding is made
from its captions' text embeddings through a fixed, seeded modality transform::

    a = normalise( R(c - mu_t + gamma * xi) + beta * (rho * mu_hat + sqrt(1 - rho^2) * g) )

- ``c``: the clip's mean caption embedding; ``mu_t``: the text centroid (its cone's axis).
- ``R``: a partial rotation by ``theta`` in every plane of a seeded basis orthogonal to
  ``mu_hat`` (keeps the text cone's structure, turns it away from the text directions).
- ``beta * (...)``: the audio cone's shared offset: ``g`` is a seeded direction orthogonal to
  the rotated planes and to ``mu_hat``; ``rho`` is how much of the offset lies along ``mu_hat``.
- ``gamma * xi``: clip-specific residual (what audio holds that captions do not), seeded by
  the clip id so a clip gets the same embedding whatever shard or run computes it. ``xi = z B``
  with ``z ~ N(0, I_K)`` and ``B`` the text's ``K`` leading principal directions (all of them by
  default), each scaled by the square root of its share of their variance: the residual varies
  the way captions vary and joins them before the rotation, so a clip's audio drifts towards
  clips described alike, retrieval is not trivial, and no learned map can undo it (with an
  isotropic residual, ``K = 0``, random directions in d dimensions barely touch any caption and
  audio->text recall@1 is 1.0 on the default data).

``theta``, ``beta`` and ``rho`` are fitted (``fit_gap_simulator``) so that the paper's Table 1
CLAP column holds on the training split: matched audio-text cosine, non-matched cosine, and the
matched cosine after C3's per-modality mean-centring. ``gamma`` and ``K`` are fixed choices: the
three statistics leave them free, and they set how hard retrieval is.
Everything here is a simulation; real audio is never looked at.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import least_squares

from diffusion_link.modality_gap import (
    c3_collapse,
    l2_normalise,
    matched_cosine,
    modality_mean,
    nonmatched_cosine,
)


@dataclass(frozen=True)
class GapTargets:
    """Statistics to reproduce, with tolerances (defaults: the paper's Table 1, CLAP column)."""

    matched: float = 0.486
    nonmatched: float = 0.030
    c3_matched: float = 0.547
    matched_tolerance: float = 0.02
    nonmatched_tolerance: float = 0.02
    c3_matched_tolerance: float = 0.03


@dataclass(frozen=True)
class GapSimulatorFit:
    """A fitted modality transform; everything needed to rebuild the simulator exactly."""

    rotation_angle: float
    offset_norm: float
    offset_alignment: float
    residual_scale: float
    seed: int
    text_mean: list[float]
    # K x d float32, little-endian, row-major, base64 ("" = isotropic); see text_residual_basis
    residual_basis: str = ""
    achieved: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GapSimulatorFit:
        return cls(**data)


def _clip_seed(seed: int, clip_id: str) -> list[int]:
    digest = hashlib.blake2b(clip_id.encode(), digest_size=8).digest()
    return [seed, int.from_bytes(digest, "little")]


def clip_residuals(
    clip_ids: Sequence[str], dim: int, seed: int, basis: np.ndarray | None = None
) -> np.ndarray:
    """The clip-specific residuals ``xi`` (unit expected norm), one seeded draw per clip id.

    ``basis`` (K x d, see :func:`text_residual_basis`) confines them to the text's leading
    principal directions; without it they are isotropic.
    """
    width = dim if basis is None else len(basis)
    draws = np.stack(
        [np.random.default_rng(_clip_seed(seed, c)).standard_normal(width) for c in clip_ids]
    ).astype(np.float64)
    return draws / np.sqrt(dim) if basis is None else draws @ basis


def text_residual_basis(text: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank`` leading principal directions of ``text`` (rows), scaled so that a
    standard-normal combination of them has unit expected norm and their variance profile."""
    centred = text - text.mean(axis=0)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    variance = singular[:rank] ** 2
    basis = directions[:rank] * np.sqrt(variance / variance.sum())[:, None]
    return basis.astype("<f4")  # as the saved fit holds it


def encode_basis(basis: np.ndarray) -> str:
    """A residual basis as stored in :class:`GapSimulatorFit` (exact, compact JSON)."""
    return base64.b64encode(np.ascontiguousarray(basis, dtype="<f4").tobytes()).decode("ascii")


def decode_basis(encoded: str, dim: int) -> np.ndarray | None:
    """The inverse of :func:`encode_basis` (float64, K x dim); None when isotropic."""
    if not encoded:
        return None
    values = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    return values.reshape(-1, dim).astype(np.float64)


class GapSimulator:
    """Applies a :class:`GapSimulatorFit` to mean caption embeddings."""

    def __init__(self, fit: GapSimulatorFit) -> None:
        self.fit = fit
        self.text_mean = np.asarray(fit.text_mean, dtype=np.float64)
        self.dim = len(self.text_mean)
        self._planes, self._offset_direction = _seeded_basis(self.text_mean, fit.seed)
        self.residual_basis = decode_basis(fit.residual_basis, self.dim)

    def residuals(self, clip_ids: Sequence[str]) -> np.ndarray:
        return clip_residuals(clip_ids, self.dim, self.fit.seed, self.residual_basis)

    def simulate(self, clip_ids: Sequence[str], caption_means: np.ndarray) -> np.ndarray:
        """Simulated unit audio embeddings (float32) for clips with these mean captions."""
        residuals = self.residuals(clip_ids)
        return self._transform(caption_means, residuals, self.fit).astype(np.float32)

    def _transform(
        self, caption_means: np.ndarray, residuals: np.ndarray, fit: GapSimulatorFit
    ) -> np.ndarray:
        # The residual joins before the rotation: it is then indistinguishable from caption
        # content, so no map learned from audio can take it back out.
        centred = np.asarray(caption_means, dtype=np.float64) - self.text_mean
        rotated = _rotate(
            centred + fit.residual_scale * residuals, self._planes, fit.rotation_angle
        )
        mean_direction = l2_normalise(self.text_mean)
        rho = fit.offset_alignment
        offset = fit.offset_norm * (
            rho * mean_direction + np.sqrt(max(0.0, 1.0 - rho**2)) * self._offset_direction
        )
        return l2_normalise(rotated + offset)


def _seeded_basis(text_mean: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal rotation planes and an offset direction, all orthogonal to the text mean."""
    dim = len(text_mean)
    mean_direction = l2_normalise(text_mean)
    gaussian = np.random.default_rng(seed).standard_normal((dim, dim - 1))
    gaussian -= np.outer(mean_direction, mean_direction @ gaussian)
    basis, _ = np.linalg.qr(gaussian)
    n_plane_columns = 2 * ((dim - 2) // 2)
    return basis[:, :n_plane_columns], basis[:, -1]


def _rotate(x: np.ndarray, planes: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``x`` by ``angle`` within each consecutive column pair of ``planes``."""
    coords = x @ planes
    first, second = coords[:, 0::2], coords[:, 1::2]
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = np.empty_like(coords)
    rotated[:, 0::2] = cos * first - sin * second
    rotated[:, 1::2] = sin * first + cos * second
    return x + (rotated - coords) @ planes.T


def gap_statistics(audio: np.ndarray, text: np.ndarray, pair_index: np.ndarray) -> dict[str, float]:
    """Table 1's CLAP and C3 statistics of one split (C3 uses that split's own means)."""
    audio_c3 = c3_collapse(audio, modality_mean(audio))
    text_c3 = c3_collapse(text, modality_mean(text))
    return {
        "matched": matched_cosine(audio, text, pair_index),
        "nonmatched": nonmatched_cosine(audio, text, pair_index),
        "c3_matched": matched_cosine(audio_c3, text_c3, pair_index),
    }


def mean_caption_embeddings(text: np.ndarray, pair_index: np.ndarray, n_clips: int) -> np.ndarray:
    """Per clip, the L2-normalised mean of its captions' embeddings."""
    sums = np.zeros((n_clips, text.shape[1]), dtype=np.float64)
    np.add.at(sums, pair_index, text)
    return l2_normalise(sums)


def fit_gap_simulator(
    clip_ids: Sequence[str],
    text: np.ndarray,
    pair_index: np.ndarray,
    targets: GapTargets,
    residual_scale: float,
    seed: int,
    residual_rank: int | None = None,
) -> GapSimulatorFit:
    """Fit ``theta``, ``beta`` and ``rho`` so the simulated audio matches ``targets``.

    ``text`` holds one row per caption and ``pair_index`` each caption's clip (an index into
    ``clip_ids``); the residual lies in the text's ``residual_rank`` leading principal
    directions (None: all of them, with the text's covariance; 0: isotropic). Raises ``ValueError`` when the fit cannot reach the tolerances.
    """
    text = l2_normalise(np.asarray(text, dtype=np.float64))
    means = mean_caption_embeddings(text, pair_index, len(clip_ids))
    rank = text.shape[1] if residual_rank is None else residual_rank
    basis = encode_basis(text_residual_basis(text, rank)) if rank > 0 else ""
    draft = GapSimulatorFit(0.0, 0.0, 0.0, residual_scale, seed, text.mean(axis=0).tolist(), basis)
    simulator = GapSimulator(draft)
    residuals = simulator.residuals(clip_ids)
    wanted = np.array([targets.matched, targets.nonmatched, targets.c3_matched])
    scale = np.array(
        [targets.matched_tolerance, targets.nonmatched_tolerance, targets.c3_matched_tolerance]
    )

    def candidate(params: np.ndarray) -> GapSimulatorFit:
        theta, beta, rho = (float(p) for p in params)
        return GapSimulatorFit(theta, beta, rho, residual_scale, seed, draft.text_mean, basis)

    def statistics(params: np.ndarray) -> dict[str, float]:
        audio = simulator._transform(means, residuals, candidate(params))
        return gap_statistics(audio, text, pair_index)

    def residual(params: np.ndarray) -> np.ndarray:
        return (np.array(list(statistics(params).values())) - wanted) / scale

    result = least_squares(
        residual, x0=[0.8, 0.5, 0.2], bounds=([0.0, 0.0, -1.0], [np.pi / 2, 4.0, 1.0])
    )
    achieved = statistics(result.x)
    misses = {
        name: (achieved[name], target, tol)
        for name, target, tol in zip(achieved, wanted, scale, strict=True)
        if abs(achieved[name] - target) > tol
    }
    if misses:
        raise ValueError(
            "gap simulator could not reach its targets (achieved, target, tolerance): "
            f"{misses}; try a smaller embedding.gap_simulator.residual_scale"
        )
    fitted = candidate(result.x)
    return GapSimulatorFit(**{**fitted.to_dict(), "achieved": achieved})
