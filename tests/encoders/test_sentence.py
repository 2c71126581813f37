import numpy as np
import pytest

from diffusion_link.encoders import SentenceEncoder


def test_embeddings_are_unit_norm_and_semantic(sentence_encoder):
    texts = ["A dog barks loudly", "A dog is barking", "Piano music plays softly"]
    embeddings = sentence_encoder.embed_text(texts)
    assert embeddings.shape == (3, 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    cos = embeddings @ embeddings.T
    assert cos[0, 1] > 0.7 > cos[0, 2]


def test_batching_does_not_change_embeddings(sentence_encoder):
    texts = [f"A car passes by number {i}" for i in range(5)]
    small = SentenceEncoder(batch_size=2).embed_text(texts)
    np.testing.assert_allclose(small, sentence_encoder.embed_text(texts), atol=1e-5)


def test_checkpoint_identity_names_the_weights(sentence_encoder):
    assert "all-MiniLM-L6-v2" in sentence_encoder.checkpoint_id
    assert "sha256:" in sentence_encoder.checkpoint_id


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        SentenceEncoder(tmp_path)
