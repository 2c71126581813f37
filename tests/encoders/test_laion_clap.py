"""The laion_clap back-end, run for real on the committed clips.

Weights: a random-initialised CLAP saved in laion-clap's own checkpoint format (the official
630k checkpoints' layout, ``position_ids`` included). Tokenizer: a byte-level BPE trained on
the committed captions. Both are built once per session. The audio model is HTSAT-tiny, the
architecture of the paper's 630k-audioset-best.pt (and the quickest to run on CPU).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from diffusion_link.encoders.laion_clap import (
    AudioDecodeError,
    LaionClapEncoder,
    LaionClapError,
    LaionClapSettings,
    forced_hub_offline,
    load_checkpoint_into,
    load_clap_state_dict,
    load_tokenizer,
)
from diffusion_link.encoders.laion_clap.checkpoint import never_trained
from laion_clap_fixtures import build_test_tokenizer, laion_clap_module, write_random_checkpoint

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "audiocaps_default"
AUDIO_MODEL = "HTSAT-tiny"
TEXTS = ["a dog barks twice", "rain falls on a metal roof", "a man speaks"]


def _pick_clips() -> list[Path]:
    """Four committed clips covering mono 48 kHz, stereo 44.1 kHz and other rates."""
    files = sorted(p for p in (DEFAULT_ROOT / "audio").glob("*/*") if p.is_file())
    infos = {p: sf.info(str(p)) for p in files}
    wanted = [
        lambda i: i.channels == 1 and i.samplerate == 48_000,
        lambda i: i.channels == 2 and i.samplerate == 44_100,
        lambda i: i.samplerate not in (44_100, 48_000),
        lambda i: i.channels == 2 and i.samplerate == 48_000,
    ]
    picked: list[Path] = []
    for want in wanted:
        picked += [p for p in files if want(infos[p]) and p not in picked][:1]
    return picked


@pytest.fixture(scope="session")
def clips() -> list[Path]:
    picked = _pick_clips()
    assert len(picked) == 4, f"expected varied committed clips under {DEFAULT_ROOT / 'audio'}"
    return picked


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with (DEFAULT_ROOT / "train.csv").open(encoding="utf-8") as file:
        captions = [row["caption"] for row in csv.DictReader(file)]
    return build_test_tokenizer(captions + TEXTS, tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_checkpoint(tmp_path_factory.mktemp("clap") / "random.pt", AUDIO_MODEL)


@pytest.fixture(scope="session")
def encoder(checkpoint: Path, tokenizer_dir: Path) -> LaionClapEncoder:
    return LaionClapEncoder(
        LaionClapSettings(
            checkpoint, tokenizer_dir, audio_model=AUDIO_MODEL, device="cpu", batch_size=2
        )
    )


@pytest.fixture(scope="session")
def audio_embeddings(encoder: LaionClapEncoder, clips: list[Path]) -> np.ndarray:
    return encoder.embed_audio(clips)


@pytest.mark.slow
def test_audio_embeddings_are_unit_norm_and_distinct(
    encoder: LaionClapEncoder, audio_embeddings: np.ndarray, clips: list[Path]
) -> None:
    assert encoder.dim == 512 and encoder.name == "laion_clap" and not encoder.simulated_audio
    assert audio_embeddings.shape == (len(clips), 512)
    assert audio_embeddings.dtype == np.float32
    assert np.isfinite(audio_embeddings).all()
    np.testing.assert_allclose(np.linalg.norm(audio_embeddings, axis=1), 1.0, atol=1e-5)
    cosine = audio_embeddings @ audio_embeddings.T
    assert (cosine[~np.eye(len(clips), dtype=bool)] < 1 - 1e-4).all()
    assert encoder.embed_audio([]).shape == (0, 512)


@pytest.mark.slow
def test_audio_embeddings_are_deterministic_with_or_without_workers(
    encoder: LaionClapEncoder, audio_embeddings: np.ndarray, clips: list[Path]
) -> None:
    encoder.num_workers = 0  # the first call decoded in two DataLoader workers
    try:
        again = encoder.embed_audio(clips)
    finally:
        encoder.num_workers = 2
    np.testing.assert_array_equal(again, audio_embeddings)


@pytest.mark.slow
def test_matches_laion_claps_own_path(
    checkpoint: Path, audio_embeddings: np.ndarray, clips: list[Path], encoder: LaionClapEncoder
) -> None:
    """laion-clap's CLAP_Module (its load_ckpt, librosa decoding, get_audio_features) agrees."""
    reference = laion_clap_module(checkpoint, AUDIO_MODEL)
    with torch.no_grad():
        expected = reference.get_audio_embedding_from_filelist([str(p) for p in clips])
        text_expected = reference.get_text_embedding(TEXTS, tokenizer=_tokenize(encoder))
    np.testing.assert_allclose(audio_embeddings, expected, atol=2e-5)
    np.testing.assert_allclose(encoder.embed_text(TEXTS), text_expected, atol=2e-5)


def _tokenize(encoder: LaionClapEncoder):
    """laion-clap's CLAP_Module.tokenizer, with the test tokenizer."""
    return lambda texts: dict(
        encoder.tokenizer(
            texts, padding="max_length", truncation=True, max_length=77, return_tensors="pt"
        )
    )


@pytest.mark.slow
def test_text_embeddings(encoder: LaionClapEncoder) -> None:
    embeddings = encoder.embed_text(TEXTS)
    assert embeddings.shape == (len(TEXTS), 512) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-4
    assert encoder.embed_text([]).shape == (0, 512)


def test_real_format_checkpoint_loads(checkpoint: Path) -> None:
    raw = torch.load(checkpoint, weights_only=True)
    assert "module.text_branch.embeddings.position_ids" in raw["state_dict"]
    state = load_clap_state_dict(checkpoint)
    assert not any(k.startswith("module.") for k in state)
    assert "text_branch.embeddings.position_ids" not in state
    assert "audio_branch.patch_embed.proj.weight" in state


def test_a_checkpoint_that_never_saw_a_batch_is_known_untrained(checkpoint: Path) -> None:
    state = load_clap_state_dict(checkpoint)  # random weights, as saved before any training
    batch_norms = [k for k in state if k.endswith("num_batches_tracked")]
    assert batch_norms and never_trained(state)
    assert not never_trained({**state, batch_norms[0]: torch.tensor(120_000)})
    assert not never_trained({"logit_scale_a": torch.ones(())})  # nothing to tell by


def test_safetensors_state_dict_loads(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"logit_scale_a": torch.ones(())}, tmp_path / "part.safetensors")
    assert set(load_clap_state_dict(tmp_path / "part.safetensors")) == {"logit_scale_a"}


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_checkpoint_with_arbitrary_objects_is_refused(tmp_path: Path, zip_format: bool) -> None:
    path = tmp_path / "pickled.pt"
    checkpoint = {"state_dict": {"w": torch.ones(1)}, "args": argparse.Namespace(lr=1)}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(LaionClapError, match=r"refused by torch\.load\(weights_only=True\)"):
        load_clap_state_dict(path)


def test_an_unreadable_checkpoint_is_not_reported_as_refused(tmp_path: Path) -> None:
    path = tmp_path / "truncated.pt"
    torch.save({"state_dict": {"w": torch.ones(1000)}}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a broken download
    with pytest.raises(LaionClapError, match="not a readable torch checkpoint") as raised:
        load_clap_state_dict(path)
    assert "refused" not in str(raised.value)


@pytest.mark.slow
def test_missing_or_misshapen_weights_are_errors(encoder: LaionClapEncoder) -> None:
    state = {k: v.cpu() for k, v in encoder.model.state_dict().items()}
    missing = {k: v for k, v in state.items() if not k.startswith("audio_branch.layers.0.")}
    with pytest.raises(LaionClapError, match=r"missing: audio_branch\.layers\.0\."):
        load_checkpoint_into(encoder.model, missing, "test")
    misshapen = {**state, "text_projection.0.weight": torch.zeros(512, 10)}
    with pytest.raises(LaionClapError, match=r"1 wrong shape: text_projection\.0\.weight"):
        load_checkpoint_into(encoder.model, misshapen, "test")
    with pytest.raises(LaionClapError, match="1 unexpected: extra"):
        load_checkpoint_into(encoder.model, {**state, "extra": torch.ones(1)}, "test")


@pytest.mark.slow
def test_checkpoint_for_another_audio_model_names_it(checkpoint: Path, tokenizer_dir: Path) -> None:
    with pytest.raises(LaionClapError, match="set audio_model='HTSAT-tiny'"):
        LaionClapEncoder(
            LaionClapSettings(checkpoint, tokenizer_dir, audio_model="HTSAT-base", device="cpu")
        )


def test_broken_offline_tokenizer_is_detected(tmp_path: Path, checkpoint: Path) -> None:
    """transformers 5 offline returns a tokenizer of special tokens only, for any hub name."""
    with forced_hub_offline(), pytest.raises(LaionClapError, match="broken"):
        load_tokenizer("diffusion-link-tests/no-such-tokenizer")
    with forced_hub_offline(), pytest.raises(LaionClapError, match="vocab.json"):
        LaionClapEncoder(
            LaionClapSettings(checkpoint, "diffusion-link-tests/no-such-tokenizer", device="cpu")
        )
    with pytest.raises(FileNotFoundError):
        load_tokenizer(tmp_path / "absent")


def test_official_checkpoint_offline_fails_fast(
    tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # nothing cached
    start = time.monotonic()
    with forced_hub_offline(), pytest.raises(LaionClapError) as error:
        LaionClapEncoder(
            LaionClapSettings("630k-audioset-best", tokenizer_dir, audio_model="HTSAT-tiny")
        )
    # Not a speed check: a bound on a hang (waiting on the network). Measured 0.07 s, loaded.
    assert time.monotonic() - start < 10
    assert "630k-audioset-best.pt" in str(error.value)
    assert "huggingface.co/lukewys/laion_clap" in str(error.value)
    with pytest.raises(LaionClapError, match="trained with HTSAT-tiny"):
        LaionClapEncoder(
            LaionClapSettings("630k-audioset-best.pt", tokenizer_dir, audio_model="HTSAT-base")
        )
    with pytest.raises(FileNotFoundError, match="official"):
        LaionClapEncoder(LaionClapSettings(tmp_path / "absent.pt", tokenizer_dir))
    with pytest.raises(NotImplementedError):
        LaionClapEncoder(
            LaionClapSettings("630k-audioset-best.pt", tokenizer_dir, enable_fusion=True)
        )


@pytest.mark.slow
def test_bad_audio_file_is_named(
    encoder: LaionClapEncoder, clips: list[Path], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"\x00not audio" * 100)
    for bad in (corrupt, tmp_path / "missing.wav"):
        with pytest.raises(AudioDecodeError, match=bad.name):
            encoder.embed_audio([clips[0], bad])
