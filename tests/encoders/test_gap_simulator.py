"""The gap simulator on the default captions: Table 1 and the oracle hold, every target is
recorded, the learnable part is exactly invertible and nonlinear, clips are seeded per id."""

import json

import numpy as np
import pandas as pd
import pytest

from diffusion_link.encoders import (
    GapSimulator,
    GapSimulatorFit,
    GapSimulatorSettings,
    GapTargets,
    fit_gap_simulator,
)
from diffusion_link.encoders.gap_simulator import (
    RECALL_KEYS,
    gap_statistics,
    mean_caption_embeddings,
    oracle_matched_cosine,
    sampled_recall,
)
from diffusion_link.metrics.modality_gap import (
    c3_collapse,
    matched_cosine,
    modality_mean,
)


@pytest.fixture(scope="module")
def fitted(default_captions, default_text_embeddings):
    """The simulator fitted on the default train split, and the simulated audio of each split."""
    splits = {}
    for split in ("train", "val", "test"):
        mask = (default_captions["split"] == split).to_numpy()
        clip_ids = pd.Index(default_captions["clip_id"][mask].unique())
        pair_index = clip_ids.get_indexer(default_captions["clip_id"][mask])
        splits[split] = (clip_ids.tolist(), default_text_embeddings[mask], pair_index)
    fit = fit_gap_simulator(*splits["train"], GapSimulatorSettings(seed=0))
    simulator = GapSimulator(fit)
    audio = {
        split: simulator.simulate(ids, mean_caption_embeddings(text, index, len(ids)))
        for split, (ids, text, index) in splits.items()
    }
    return fit, splits, audio


def test_fit_reproduces_table1_and_the_oracle_on_train_and_records_every_target(fitted):
    fit, _, _ = fitted
    assert abs(fit.achieved["matched"] - 0.486) <= 0.02
    assert abs(fit.achieved["nonmatched"] - 0.030) <= 0.02
    assert abs(fit.achieved["c3_matched"] - 0.547) <= 0.03
    assert abs(fit.achieved["oracle_matched"] - 0.688) <= 0.03
    assert 0 < fit.rotation_angle < np.pi / 2 and 0 < fit.offset_norm < 1
    # Every target is recorded with its tolerance and the value achieved, and the
    # separability after C3's centring is reported (never fitted).
    assert set(fit.targets) == set(GapTargets().wanted())
    assert set(fit.targets) <= set(fit.achieved)
    assert 0.0 <= fit.achieved["separability_after_c3"] <= 1.0
    for key in RECALL_KEYS:
        assert 0.0 <= fit.achieved[key] <= 1.0 and fit.achieved[f"{key}_sample_std"] >= 0.0


def test_calibration_holds_on_held_out_test_split_with_train_means(fitted):
    fit, splits, audio = fitted
    _, text, index = splits["test"]
    stats = gap_statistics(audio["test"], text, index)
    assert abs(stats["matched"] - 0.486) <= 0.02
    assert abs(stats["nonmatched"] - 0.030) <= 0.02
    # C3 as it is applied in practice: the modality means come from the training split.
    train_text, train_audio = splits["train"][1], audio["train"]
    c3 = matched_cosine(
        c3_collapse(audio["test"], modality_mean(train_audio)),
        c3_collapse(text, modality_mean(train_text)),
        index,
    )
    assert abs(c3 - 0.547) <= 0.03
    assert abs(oracle_matched_cosine(GapSimulator(fit), audio["test"], text, index) - 0.688) <= 0.03


def test_recall_tolerance_covers_the_spread_over_seeded_samples(fitted):
    fit, splits, audio = fitted
    _, text, index = splits["train"]
    recall = sampled_recall(audio["train"], text, index, 957, seeds=range(5))
    assert all(len(v) == 5 for v in recall.values())
    # The tolerance is about twice the spread of recall@1 over seeded 957-clip samples.
    spread = max(fit.achieved[f"{k}_sample_std"] for k in RECALL_KEYS if k.endswith("r1"))
    assert 2 * spread <= GapTargets().recall_tolerance


def test_learnable_part_is_exactly_invertible_and_not_linear(fitted):
    fit, splits, audio = fitted
    simulator = GapSimulator(fit)
    ids, text, index = splits["train"]
    means = mean_caption_embeddings(text, index, len(ids))
    np.testing.assert_allclose(simulator.invert(simulator.learnable(means)), means, atol=1e-9)
    # The best linear map from noiseless audio back to the captions (least squares, in the
    # normalised space) leaves much of the learnable part undone: the warp is nonlinear.
    mean = simulator.text_mean
    x = c3_collapse(simulator.learnable(means), modality_mean(simulator.learnable(means)))
    y = c3_collapse(means, mean)
    weights, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)
    linear = matched_cosine(np.c_[x, np.ones(len(x))] @ weights, y, np.arange(len(y)))
    assert linear < 0.97  # 0.957 in-sample with warp_angle 0.6; the exact inverse: 1.0


def test_simulated_audio_is_unit_norm_and_seeded_per_clip(fitted):
    fit, splits, audio = fitted
    ids, text, index = splits["val"]
    np.testing.assert_allclose(np.linalg.norm(audio["val"], axis=1), 1.0, rtol=1e-5)
    # A clip's embedding does not depend on which other clips are simulated with it.
    means = mean_caption_embeddings(text, index, len(ids))
    alone = GapSimulator(fit).simulate(ids[3:4], means[3:4])
    np.testing.assert_allclose(alone[0], audio["val"][3], atol=1e-6)
    # The fit as saved (JSON) rebuilds the same simulator, residual basis included.
    saved = GapSimulatorFit.from_dict(json.loads(json.dumps(fit.to_dict())))
    np.testing.assert_array_equal(GapSimulator(saved).simulate(ids, means), audio["val"])


def test_unreachable_targets_are_a_clear_error(default_captions, default_text_embeddings):
    mask = (default_captions["split"] == "train").to_numpy()
    ids = default_captions["clip_id"][mask].tolist()
    impossible = GapTargets(matched=0.99, nonmatched=0.9, c3_matched=0.0)
    with pytest.raises(ValueError, match="could not reach its targets"):
        fit_gap_simulator(
            ids,
            default_text_embeddings[mask],
            np.arange(len(ids)),
            GapSimulatorSettings(seed=0, targets=impossible),
        )


def test_residual_cannot_be_learned_a_linear_bridge_does_not_pass_the_oracle(fitted):
    """The residual has the noiseless audio's own covariance, so the best linear map from
    train audio to captions (ridge, in the normalised space) gains little over the exact
    inverse on the test split. Measured: ridge 0.702 against the oracle's 0.683; a residual
    concentrated on a few directions gave ridge 0.90 against 0.69 (the previous simulator:
    p = 3.4 along the captions' axes) and 0.85 against 0.68 (p = 5.9 along the audio's axes),
    because a linear map projects those directions out."""
    fit, splits, audio = fitted
    (_, train_text, train_index), (_, test_text, test_index) = splits["train"], splits["test"]
    audio_mean, text_mean = modality_mean(audio["train"]), modality_mean(train_text)
    x = c3_collapse(audio["train"], audio_mean)[train_index]
    y = c3_collapse(train_text, text_mean)
    weights = np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ y)
    ridge = matched_cosine(
        c3_collapse(audio["test"], audio_mean) @ weights,
        c3_collapse(test_text, text_mean),
        test_index,
    )
    oracle = oracle_matched_cosine(GapSimulator(fit), audio["test"], test_text, test_index)
    assert ridge - oracle < 0.05, (ridge, oracle)
