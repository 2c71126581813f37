"""Shared fixtures: the project root and the embedded default data it ships."""

from pathlib import Path

import pandas as pd
import pytest

from tiny_run_fixtures import tiny_run, tiny_run_jobs  # noqa: F401  (session fixtures for every module)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = PROJECT_ROOT / "data" / "01_raw" / "audiocaps_default"


@pytest.fixture(autouse=True)
def _restore_kedro_env(monkeypatch):
    """Every test starts without KEDRO_ENV and with every decoder variant registered, and the
    variants a run registers are undone after it (``DecoderVariantsHook`` registers the run's
    configured variants; an in-process ``--env`` run would otherwise leak into later tests)."""
    from diffusion_link import pipeline_registry
    from diffusion_link.pipelines.decoder_training.params import VARIANTS

    monkeypatch.delenv("KEDRO_ENV", raising=False)
    # every variant, whatever a module-scoped fixture's run registered before this test
    monkeypatch.setattr(pipeline_registry, "_decoder_variants", tuple(VARIANTS))


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def default_captions() -> pd.DataFrame:
    """The default subset's captions, in the ``captions`` table layout."""
    frames = []
    for split in ("train", "val", "test"):
        frame = pd.read_csv(DEFAULT_ROOT / f"{split}.csv", dtype=str)
        frame["split"] = split
        frames.append(frame)
    raw = pd.concat(frames, ignore_index=True)
    return pd.DataFrame(
        {
            "clip_id": raw["youtube_id"],
            "caption_id": raw["audiocap_id"],
            "split": raw["split"],
            "caption": raw["caption"],
        }
    )


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module that trains in-process: on a shared 2-core machine,
    OpenMP threads waiting for each other while another job holds a core make small steps
    many times slower. Request it with ``pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def sentence_encoder():
    from diffusion_link.encoders import SentenceEncoder

    return SentenceEncoder()


@pytest.fixture(scope="session")
def default_text_embeddings(sentence_encoder, default_captions):
    """Real all-MiniLM-L6-v2 embeddings of every default caption, row-aligned with them."""
    return sentence_encoder.embed_text(default_captions["caption"].tolist())


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A random 2-layer LLaMA + a BPE tokenizer built offline (see decoder_fixtures)."""
    from decoder_fixtures import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))
