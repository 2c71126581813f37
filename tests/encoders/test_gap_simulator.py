"""The gap simulator on the default captions: Table 1 holds, retrieval is hard, seeded per clip."""

import json

import numpy as np
import pandas as pd
import pytest

from diffusion_link.encoders import GapSimulator, GapSimulatorFit, GapTargets, fit_gap_simulator
from diffusion_link.encoders.gap_simulator import gap_statistics, mean_caption_embeddings
from diffusion_link.modality_gap import (
    c3_collapse,
    matched_cosine,
    modality_mean,
    retrieval_recall,
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
    fit = fit_gap_simulator(*splits["train"], GapTargets(), residual_scale=1.2, seed=0)
    simulator = GapSimulator(fit)
    audio = {
        split: simulator.simulate(ids, mean_caption_embeddings(text, index, len(ids)))
        for split, (ids, text, index) in splits.items()
    }
    return fit, splits, audio


def test_fit_reproduces_table1_clap_column_on_train(fitted):
    fit, _, _ = fitted
    assert abs(fit.achieved["matched"] - 0.486) <= 0.02
    assert abs(fit.achieved["nonmatched"] - 0.030) <= 0.02
    assert abs(fit.achieved["c3_matched"] - 0.547) <= 0.03
    assert 0 < fit.rotation_angle < np.pi / 2 and fit.offset_norm > 0


def test_calibration_holds_on_held_out_test_split_with_train_means(fitted):
    _, splits, audio = fitted
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


def test_retrieval_is_not_trivial_and_no_learned_map_undoes_the_residual(fitted):
    fit, splits, audio = fitted
    assert GapSimulator(fit).residual_basis.shape == (384, 384)  # the captions' covariance
    _, text, index = splits["test"]
    recall = retrieval_recall(audio["test"], text, index, ks=(1, 10))
    assert 0.8 < recall["audio_to_text"][1] < 0.97  # isotropic residual: 1.0
    assert 0.6 < recall["text_to_audio"][1] < 0.85  # isotropic residual: 0.98
    # A ridge regression from audio to the clip's mean caption, fitted on train, retrieves no
    # better than the raw audio: the residual is not a separable nuisance a bridge could drop.
    ids, train_text, train_index = splits["train"]
    targets = mean_caption_embeddings(train_text, train_index, len(ids))
    x = audio["train"].astype(np.float64)
    weights = np.linalg.solve(x.T @ x + 1e-2 * np.eye(x.shape[1]), x.T @ targets)
    mapped = retrieval_recall(audio["test"] @ weights, text, index, ks=(1,))
    assert mapped["audio_to_text"][1] <= recall["audio_to_text"][1] + 0.02
    assert mapped["text_to_audio"][1] <= recall["text_to_audio"][1] + 0.05


def test_an_isotropic_residual_keeps_table1_but_makes_retrieval_trivial(fitted):
    _, splits, _ = fitted
    fit = fit_gap_simulator(*splits["train"], GapTargets(), 0.5, seed=0, residual_rank=0)
    assert fit.residual_basis == "" and abs(fit.achieved["matched"] - 0.486) <= 0.02
    ids, text, index = splits["test"]
    audio = GapSimulator(fit).simulate(ids, mean_caption_embeddings(text, index, len(ids)))
    assert retrieval_recall(audio, text, index, ks=(1,))["audio_to_text"][1] > 0.95


def test_unreachable_targets_are_a_clear_error(default_captions, default_text_embeddings):
    mask = (default_captions["split"] == "train").to_numpy()
    ids = default_captions["clip_id"][mask].tolist()
    impossible = GapTargets(matched=0.99, nonmatched=0.9, c3_matched=0.0)
    with pytest.raises(ValueError, match="could not reach its targets"):
        fit_gap_simulator(
            ids, default_text_embeddings[mask], np.arange(len(ids)), impossible, 0.5, 0
        )
