import numpy as np

from diffusion_link.modality_gap import (
    c3_collapse,
    l2_normalise,
    matched_cosine,
    modality_mean,
    nonmatched_cosine,
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
