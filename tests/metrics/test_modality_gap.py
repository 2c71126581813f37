import numpy as np
import pytest

from diffusion_link.metrics.modality_gap import (
    c3_collapse,
    centroid_distance,
    cross_group_cosine,
    intra_modal_cosine,
    l2_normalise,
    linear_separability,
    matched_cosine,
    modality_mean,
    nonmatched_cosine,
    relative_modality_gap,
    retrieval_recall,
    uncollapse,
)


def test_matched_and_nonmatched_cosine_match_brute_force():
    rng = np.random.default_rng(1)
    audio, text = rng.standard_normal((4, 6)), rng.standard_normal((7, 6))
    pair_index = np.array([0, 0, 1, 2, 3, 3, 3])
    cos = l2_normalise(audio) @ l2_normalise(text).T
    matched = cos[pair_index, np.arange(7)]
    mask = np.ones_like(cos, dtype=bool)
    mask[pair_index, np.arange(7)] = False
    assert np.isclose(matched_cosine(audio, text, pair_index), matched.mean())
    assert np.isclose(nonmatched_cosine(audio, text, pair_index), cos[mask].mean())


def test_c3_collapse_centres_and_renormalises():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 8)) + 3.0
    collapsed = c3_collapse(x, modality_mean(x))
    np.testing.assert_allclose(np.linalg.norm(collapsed, axis=1), 1.0, rtol=1e-6)
    assert np.linalg.norm(collapsed.mean(axis=0)) < np.linalg.norm(modality_mean(x))


def test_cross_group_cosine_skips_pairs_of_one_group():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    y = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
    # different clips: x0.y2 = 0.8, x1.y0 = 0, x1.y1 = 0.8
    value = cross_group_cosine(x, y, np.array(["a", "b"]), np.array(["a", "a", "b"]))
    assert np.isclose(value, 1.6 / 3)


def test_cross_group_cosine_matches_brute_force_with_clip_groups():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    clips = np.array([0, 0, 1, 2, 2, 2])
    cos = l2_normalise(x) @ l2_normalise(y).T
    assert np.isclose(cross_group_cosine(x, y, clips, clips), cos[clips[:, None] != clips].mean())


def test_intra_modal_cosine_averages_off_diagonal_pairs():
    x = np.array([[1.0, 0.0], [0.0, 3.0], [2.0, 0.0]])
    # pairs (0,1) = 0, (0,2) = 1, (1,2) = 0
    assert np.isclose(intra_modal_cosine(x), 1 / 3)


def test_centroid_distance_is_the_norm_of_the_gap_vector():
    assert np.isclose(centroid_distance(np.array([[1.0, 0.0]]), np.array([[0.0, 5.0]])), 2**0.5)
    audio = np.array([[2.0, 0.0], [0.0, 3.0]])  # unit mean (0.5, 0.5)
    assert np.isclose(centroid_distance(audio, np.array([[1.0, 0.0]])), 0.5**0.5)


def test_relative_modality_gap_hand_computed():
    identical = np.eye(2)
    assert relative_modality_gap(identical, identical, np.array([0, 1])) == 0.0
    swapped = relative_modality_gap(np.eye(2), np.eye(2)[::-1], np.array([0, 1]))
    assert np.isclose(swapped, 0.5)  # matched pairs as far apart as random ones
    audio = np.array([[0.6, 0.8], [0.8, 0.6]])
    # d_match = 1 - (0.6 + 1) / 2 = 0.2; d_audio = 1 - (0.96 + 1) / 2 = 0.02; d_text = 0.5
    value = relative_modality_gap(audio, np.eye(2), np.array([0, 1]))
    assert np.isclose(value, 0.2 / (0.2 + (0.02 + 0.5) / 2))


def test_linear_separability_finds_a_gap_and_none_where_there_is_none():
    rng = np.random.default_rng(4)
    text = rng.standard_normal((200, 16))
    captions_per_clip = np.repeat(np.arange(100), 2)
    shifted = text[::2] + 10.0 * np.eye(16)[0]
    assert linear_separability(shifted, text, captions_per_clip, seed=1) == 1.0
    # identical pairs, split by clip: every test point appears once with each label
    same = text[:100]
    assert linear_separability(same, same, np.arange(100), seed=1) == 0.5


def test_linear_separability_needs_enough_clips():
    with pytest.raises(ValueError, match="at least 5"):
        linear_separability(np.eye(3), np.eye(3), np.arange(3))


def test_retrieval_recall_hand_computed():
    audio = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    text = np.array([[0.0, 1.0], [0.6, -0.8], [0.8, 0.6], [-0.6, 0.8]])
    pair_index = np.array([0, 0, 1, 2])  # clip 0 has two captions
    recall = retrieval_recall(audio, text, pair_index, ks=(1, 2, 3))
    # audio ranks of the best own caption: clip 0 -> 1, clip 1 -> 2, clip 2 -> 0
    assert recall["audio_to_text"] == pytest.approx({1: 1 / 3, 2: 2 / 3, 3: 1.0})
    # caption ranks of the own clip: 1, 0, 1, 1
    assert recall["text_to_audio"] == pytest.approx({1: 0.25, 2: 1.0, 3: 1.0})
    # a clip without captions is a distractor for text->audio, never an audio query
    with_extra = retrieval_recall(np.vstack([audio, [0.0, -1.0]]), text, pair_index, ks=(1, 2))
    assert with_extra["audio_to_text"] == pytest.approx({1: 1 / 3, 2: 2 / 3})
    assert with_extra["text_to_audio"] == pytest.approx({1: 0.0, 2: 1.0})


def test_uncollapse_inverts_c3_collapse():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20, 8)) + 2.0
    mean = modality_mean(x)
    np.testing.assert_allclose(uncollapse(c3_collapse(x, mean), mean), l2_normalise(x), atol=1e-9)
    # and Diffusion-Bridge's scaled normalisation, whose direction is the same
    np.testing.assert_allclose(
        uncollapse(5.0 * c3_collapse(x, mean), mean), l2_normalise(x), atol=1e-9
    )
