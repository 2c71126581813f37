"""The caption decoder in bf16 on a GPU (runs only where CUDA is present)."""

from __future__ import annotations

import pytest
import torch

from decoder_fixtures import CAPTIONS, make_tiny_llama
from diffusion_link.decoder.config import DecoderConfig, GenerationSettings, TrainSettings
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.decoder.trainer import DecoderTrainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DIM = 16


def _embeddings(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, DIM, generator=g), dim=-1)


@pytest.mark.parametrize("mode", ["zero_shot", "supervised"])
def test_bf16_training_generation_and_round_trip_on_gpu(tmp_path, mode):
    model = make_tiny_llama(tmp_path / "tiny")
    torch.manual_seed(0)
    config = DecoderConfig(
        base_model=str(model),
        mode=mode,
        embedding_dim=DIM,
        lora={
            "r": 8,
            "alpha": 16,
            "dropout": 0.0,
            "target_modules": ["q_proj", "v_proj", "o_proj"],
        },
    )
    decoder = CaptionDecoder.build(config, device="cuda")
    assert decoder.autocast_dtype == torch.bfloat16  # precision "auto" on a GPU
    assert decoder.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    settings = TrainSettings(epochs=10, batch_size=4, lr=1e-2, progress=False)
    history = DecoderTrainer(decoder, _embeddings(len(CAPTIONS)), CAPTIONS, settings).run()
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    assert history[-1]["loss"] < history[0]["loss"]
    generation = GenerationSettings(max_new_tokens=6, batch_size=3)
    captions = decoder.generate(_embeddings(5, seed=1), generation)
    assert len(captions) == 5
    beams = decoder.generate(
        _embeddings(5, seed=1), GenerationSettings(num_beams=2, max_new_tokens=6)
    )
    assert len(beams) == 5
    decoder.save_pretrained(tmp_path / "saved")
    loaded = CaptionDecoder.from_pretrained(tmp_path / "saved", device="cuda")
    assert loaded.generate(_embeddings(5, seed=1), generation) == captions
    # Trained in bf16 on the GPU, the adapter still belongs to the same model in fp32 on a CPU.
    on_cpu = CaptionDecoder.from_pretrained(tmp_path / "saved", device="cpu")
    assert on_cpu.identity == decoder.identity
