"""Simulated audio embeddings with the structure of a contrastive encoder's modality gap.

Where no LAION-CLAP weights exist (the embedded default), a clip's "audio" embedding is made
from its captions' text embeddings. The transform has two parts, every step a map of the unit
sphere::

    x  = l2(c - mu_t)                      centre the mean caption c on the text centroid
    x  = l2(S x)                           anisotropic rescaling along seeded axes (mixing)
    x  = C_L o ... o C_1 (x)               seeded nonlinear coupling rotations (the warp)
    x  = R x                               partial rotation by theta (turns off the text)
    a' = l2(x + b)                         the audio cone's shared offset b (|b| < 1)
    a  = l2(a' + gamma * xi)               the clip-specific residual

**The systematic, learnable part** (``a' = M(c)``) is what a separate audio encoder does
differently from the text encoder. It is deterministic, seeded, smooth and exactly invertible
in closed form (:meth:`GapSimulator.invert`): ``S`` is ``Q diag(s) Q^T`` with log-spaced
scales ``s`` (``anisotropy`` = log of the largest/smallest ratio) and a seeded orthogonal ``Q``;
each coupling layer ``C_l`` splits the same axes, in a seeded order of its own, in two halves
and rotates every plane of the second half by ``warp_angle * tanh(w_k . x_first_half)``
(seeded ``w_k``), which leaves the first half unchanged, so the inverse rotates back by the
same angles (a norm-preserving coupling layer, as in RealNVP but on the sphere). ``R`` rotates by
``theta`` in every plane of a seeded basis orthogonal to the text centroid; the offset ``b =
beta (rho mu_hat + sqrt(1 - rho^2) g)`` is inverted exactly like C3's collapse
(:func:`diffusion_link.metrics.modality_gap.uncollapse`), which needs ``beta < 1``.

**The clip-specific residual** ``xi`` (what audio holds that captions do not) joins *after*
the learnable part, so no map learned from audio, the exact inverse included, can take it
out, and the best guess of a caption given the audio is not the audio's own direction. It is
seeded by the clip id (a clip gets the same embedding whatever shard computes it), has unit
expected norm and lies along the principal directions of the noiseless simulated train audio
``M(c)`` with variance shares proportional to ``variance ** p`` (``residual_exponent``, a fixed
choice: 0 isotropic, 1 the audio's own covariance, above 1 concentrated on the directions the
clips' audio differs most in). At ``p = 1`` (the default) the residual looks like signal: no
map learned from audio can tell the two apart, and the best linear estimate of the noiseless
audio is the audio itself, up to scale. At ``p > 1`` it would make clips more confusable per
unit of norm, but it sits in a few directions that a linear map projects out, so a learned
bridge would pass the oracle by far (README, ``gap_simulator``).

**The oracle bridge** applies the exact inverse of every learnable step to the (noisy) audio
and compares it with the captions in Diffusion-Bridge's normalised space (L2, minus the train
text mean, L2), as the evaluation compares bridges. Its matched cosine is the ceiling for a
bridge that undoes the systematic gap (one that also pulls its output towards where captions
lie, as a denoiser does, may pass it a little: the exact inverse is not the best estimate of
a caption given noisy audio).

**Fitted** (:func:`fit_gap_simulator`, scipy ``least_squares`` on the train split):
``theta``, ``beta``, ``rho`` and ``gamma``, to published figures only:

- the paper's Table 1, CLAP column: matched cosine 0.486, non-matched 0.030, 0.547 after C3's
  mean-centring;
- LAION-CLAP's published AudioCaps retrieval recall@1 and @10, both directions, computed on
  seeded samples of 957 train clips (the AudioCaps test candidate-set size);
- the learnable share: the oracle's matched cosine 0.688, the figure a learned bridge reached
  on real CLAP (the paper's Table 1, Diffusion-Link column).

**Fixed, declared choices** (no published figure constrains them): the warp's strength
(``warp_angle``, ``warp_layers``, ``anisotropy``), which decide how much of the learnable part
is nonlinear, not how much there is (the oracle target fixes that), and the residual's shape
(``p``, see above). The linear separability of
audio and text after C3's centring is recorded but never fitted. No bridge is ever trained or
consulted here. Everything is a simulation; real audio is never looked at.
"""

from diffusion_link.encoders.gap_simulator.fit import fit_gap_simulator
from diffusion_link.encoders.gap_simulator.settings import (
    RECALL_KEYS,
    GapSimulatorSettings,
    GapTargets,
)
from diffusion_link.encoders.gap_simulator.simulator import (
    GapSimulator,
    GapSimulatorFit,
    clip_draws,
    decode_basis,
    encode_basis,
    principal_axes,
    residual_basis,
)
from diffusion_link.encoders.gap_simulator.statistics import (
    gap_statistics,
    mean_caption_embeddings,
    oracle_matched_cosine,
    sampled_recall,
    simulator_statistics,
    split_statistics,
)

__all__ = [
    "RECALL_KEYS",
    "GapSimulator",
    "GapSimulatorFit",
    "GapSimulatorSettings",
    "GapTargets",
    "clip_draws",
    "decode_basis",
    "encode_basis",
    "fit_gap_simulator",
    "gap_statistics",
    "mean_caption_embeddings",
    "oracle_matched_cosine",
    "principal_axes",
    "residual_basis",
    "sampled_recall",
    "simulator_statistics",
    "split_statistics",
]
