"""What the gap simulator is fitted to, and the settings of the fit: one definition each.

Both are pydantic dataclasses (:data:`diffusion_link.config.STRICT`): the ``embedding``
parameters use them directly (``embedding.gap_simulator``), so each setting and its default is
written once, here, and the YAML in ``conf/base`` states the values a run uses.
"""

from __future__ import annotations

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt
from pydantic.dataclasses import dataclass

from diffusion_link.config import STRICT

RECALL_KEYS: tuple[str, ...] = (
    "audio_to_text_r1",
    "audio_to_text_r10",
    "text_to_audio_r1",
    "text_to_audio_r10",
)


@dataclass(frozen=True, config=STRICT)
class GapTargets:
    """Statistics to reproduce, with tolerances.

    Table 1 (CLAP column, and C3's matched cosine) from the Diffusion-Link paper; retrieval
    recall on AudioCaps test from LAION-CLAP's paper (Wu et al., ICASSP 2023, Table 3,
    HTSAT + RoBERTa, no fusion); the oracle's matched cosine from the paper's Table 1
    (Diffusion-Link column). ``recall_tolerance`` comes from the spread of recall@1 over
    seeded samples of ``recall_clips`` clips (README, ``gap_simulator``).
    """

    matched: float = 0.486
    nonmatched: float = 0.030
    c3_matched: float = 0.547
    matched_tolerance: PositiveFloat = 0.02
    nonmatched_tolerance: PositiveFloat = 0.02
    c3_matched_tolerance: PositiveFloat = 0.03
    audio_to_text_r1: float = 0.468
    audio_to_text_r10: float = 0.907
    text_to_audio_r1: float = 0.361
    text_to_audio_r10: float = 0.839
    recall_tolerance: PositiveFloat = 0.03
    oracle_matched: float = 0.688
    oracle_tolerance: PositiveFloat = 0.03
    recall_clips: PositiveInt = 957
    recall_samples: PositiveInt = 2

    def wanted(self) -> dict[str, tuple[float, float]]:
        """Every fitted statistic: (target, tolerance)."""
        recall = {key: (getattr(self, key), self.recall_tolerance) for key in RECALL_KEYS}
        return {
            "matched": (self.matched, self.matched_tolerance),
            "nonmatched": (self.nonmatched, self.nonmatched_tolerance),
            "c3_matched": (self.c3_matched, self.c3_matched_tolerance),
            **recall,
            "oracle_matched": (self.oracle_matched, self.oracle_tolerance),
        }


@dataclass(frozen=True, config=STRICT)
class GapSimulatorSettings:
    """How the gap simulator is fitted (``embedding.gap_simulator``; README, ``gap_simulator``).

    ``warp_angle``, ``warp_layers`` and ``anisotropy`` are fixed choices that no published
    figure constrains (the nonlinear warp's strength); ``residual_exponent`` sets the
    residual's variance shares (1 = the noiseless audio's own covariance, unlearnable);
    ``recall_weight`` weighs the retrieval targets against Table 1 and the oracle (they
    conflict); least squares starts at ``start`` (theta, beta, rho, gamma) and runs at most
    ``max_evaluations`` evaluations.
    """

    seed: int = 0
    warp_angle: float = Field(0.6, ge=0.0, le=1.5)
    warp_layers: NonNegativeInt = 4
    anisotropy: float = Field(1.0, ge=0.0)
    residual_exponent: float = Field(1.0, ge=0.0)
    recall_weight: float = Field(0.1, ge=0.0)
    start: list[float] = Field(
        default_factory=lambda: [0.593, 0.361, 0.197, 0.761], min_length=4, max_length=4
    )
    max_evaluations: PositiveInt = 3
    targets: GapTargets = Field(default_factory=GapTargets)
