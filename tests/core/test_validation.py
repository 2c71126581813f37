"""Validation while training: the Table 1 figures on a held-out split, and the convergence rule."""

import numpy as np
import pytest
import torch

from diffusion_link.core.bridges import C3Bridge, IdentityBridge, fit_bridge
from diffusion_link.core.normalisation import modality_means
from diffusion_link.core.training import TrainConfig
from diffusion_link.core.validation import (
    VALIDATION_METRICS,
    ValidationSet,
    converged,
    draw_agreement,
    validate,
)
from diffusion_link.metrics.modality_gap import (
    c3_collapse,
    matched_cosine,
    nonmatched_cosine,
    retrieval_recall,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def held_out(clips: int = 12, captions_per_clip: int = 2, dim: int = 16) -> ValidationSet:
    generator = torch.Generator().manual_seed(5)
    audio = torch.randn(clips, dim, generator=generator)
    pair_index = np.repeat(np.arange(clips), captions_per_clip)
    text = audio[pair_index] + 0.8 * torch.randn(len(pair_index), dim, generator=generator)
    return ValidationSet(audio=audio, text=text, pair_index=pair_index, seed=3)


def test_identity_validation_is_table_1_in_the_raw_space():
    data = held_out()
    metrics = validate(IdentityBridge(16), data)
    audio, text = data.audio.numpy(), data.text.numpy()
    assert set(metrics) == set(VALIDATION_METRICS)
    assert metrics["val_matched_audio_text"] == pytest.approx(
        matched_cosine(audio, text, data.pair_index)
    )
    assert metrics["val_matched_text_text"] == pytest.approx(1.0)
    assert metrics["val_nonmatched_audio_text"] == pytest.approx(
        nonmatched_cosine(audio, text, data.pair_index)
    )
    recall = retrieval_recall(audio, text, data.pair_index, ks=(1,))["audio_to_text"][1]
    assert metrics["val_recall_at_1"] == pytest.approx(recall)


def test_c3_validation_compares_with_the_collapsed_text():
    data = held_out()
    means = modality_means(data.audio, data.text)
    metrics = validate(C3Bridge(16, means["audio"], means["text"]), data)
    audio = c3_collapse(data.audio.numpy(), means["audio"].numpy())
    text = c3_collapse(data.text.numpy(), means["text"].numpy())
    assert metrics["val_matched_audio_text"] == pytest.approx(
        matched_cosine(audio, text, data.pair_index), abs=1e-6
    )


def test_diffusion_validation_is_deterministic_and_seeded():
    data = held_out()
    bridge, _ = fit_bridge(
        "diffusion_link",
        data.audio[data.pair_index],
        data.text,
        model={"width": 32},
        training=TrainConfig(steps=20, batch_size=8, lr=1e-3),
    )
    first, again = validate(bridge, data), validate(bridge, data)
    assert first == again
    other_noise = validate(bridge, ValidationSet(data.audio, data.text, data.pair_index, seed=4))
    assert other_noise != first
    assert all(np.isfinite(v) for v in first.values())


def test_bad_validation_sets_are_refused():
    data = held_out()
    with pytest.raises(ValueError, match="pair indices"):
        ValidationSet(data.audio, data.text, data.pair_index[:-1])
    with pytest.raises(ValueError, match="outside the audio rows"):
        ValidationSet(data.audio[:3], data.text, data.pair_index)


def test_converged_needs_a_plateau_over_the_last_fifth():
    steps = list(range(100, 1100, 100))
    rising = [0.1 * i for i in range(10)]
    plateau = [0.5, 0.6, 0.65, 0.68, 0.69, 0.695, 0.70, 0.701, 0.703, 0.704]
    assert converged(steps, plateau)
    assert not converged(steps, rising)
    # Only the evaluations at or after 80% of the last step count: 800, 900, 1000.
    assert converged(steps, [*rising[:7], 0.7, 0.705, 0.709])
    assert not converged(steps, [*rising[:7], 0.7, 0.705, 0.711])
    assert not converged([1000], [0.7]), "one evaluation cannot show a plateau"
    assert not converged([], [])


def test_draw_agreement_is_one_without_noise_and_below_one_with_it():
    data = held_out()
    assert draw_agreement(IdentityBridge(16), data.audio) == pytest.approx(1.0)
    bridge, _ = fit_bridge(
        "diffusion_link",
        data.audio[data.pair_index],
        data.text,
        model={"width": 32, "s_star": 500},
        training=TrainConfig(steps=20, batch_size=8, lr=1e-3),
    )
    assert draw_agreement(bridge, data.audio) < 0.999
