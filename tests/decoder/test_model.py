"""The caption decoder on a tiny random LLaMA (the LLaMA-2 code path) and on the real SmolLM2."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from decoder_fixtures import CAPTIONS, make_tiny_llama
from diffusion_link.decoder.base_model import DecoderMismatchError, ModelNotAvailableError
from diffusion_link.decoder.config import DecoderConfig, GenerationSettings, TrainSettings
from diffusion_link.decoder.model import CaptionDecoder, PrefixHead
from diffusion_link.decoder.trainer import DecoderTrainer, drop_empty_captions, warmup_cosine

PROJECT = Path(__file__).resolve().parents[2]
SMOLLM2 = PROJECT / "data" / "06_models" / "smollm2-135m-instruct"
DIM = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def other_llama(tmp_path_factory) -> Path:
    """Same shape, different weights: an adapter for ``tiny_llama`` must not load on it."""
    return make_tiny_llama(tmp_path_factory.mktemp("other_llama"), seed=1)


def _embeddings(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, DIM, generator=g), dim=-1)


WIDE_LORA = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.0,
    "target_modules": ["q_proj", "v_proj", "o_proj", "down_proj"],
}


def _decoder(model: Path, mode: str = "zero_shot", **overrides) -> CaptionDecoder:
    torch.manual_seed(0)
    settings = {
        "prompt": "describe the sound",
        "max_caption_tokens": 12,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        **overrides,
    }
    config = DecoderConfig(base_model=str(model), mode=mode, embedding_dim=DIM, **settings)
    return CaptionDecoder.build(config)


def test_no_pad_tokenizer_pads_with_eos_and_loss_covers_caption_and_eos_only(tiny_llama):
    decoder = _decoder(tiny_llama)
    tok = decoder.tokenizer
    assert tok.pad_token_id == tok.eos_token_id  # the tokenizer had no pad token
    ids = decoder.tokenize_captions(["a dog barks", "a man speaks and a bird chirps"])
    batch = decoder.build_batch(_embeddings(2), ids)
    lead = 1 + len(decoder.prompt_ids)  # m = 1 prefix vector + the instruction prompt
    assert len(decoder.prompt_ids) > 0
    width = lead + max(len(i) for i in ids) + 1
    assert batch["inputs_embeds"].shape == (2, width, 64)
    labels, mask = batch["labels"], batch["attention_mask"]
    assert (labels[:, :lead] == -100).all()
    for row, caption in enumerate(ids):
        end = lead + len(caption)
        assert labels[row, lead:end].tolist() == caption
        assert labels[row, end].item() == tok.eos_token_id  # EOS is learnt
        assert (labels[row, end + 1 :] == -100).all()  # padding (also EOS ids) is not
        assert mask[row, : end + 1].all() and not mask[row, end + 1 :].any()
    assert decoder(_embeddings(2), ids).isfinite()


def test_logits_of_the_caption_positions_only_give_the_full_sequences_loss(tiny_llama):
    decoder = _decoder(tiny_llama, precision="fp32")
    assert decoder.logits_for_captions_only
    ids = decoder.tokenize_captions(["a dog barks", "a man speaks and a bird chirps"])
    assert decoder.lead_length == 1 + len(decoder.prompt_ids)
    full = decoder.llm(**decoder.build_batch(_embeddings(2), ids)).loss
    assert decoder(_embeddings(2), ids).item() == pytest.approx(full.item(), rel=1e-6)


def test_supervised_head_has_ten_prefix_vectors_and_no_prompt(tiny_llama):
    decoder = _decoder(tiny_llama, mode="supervised")
    assert len(decoder.prompt_ids) == 0
    assert isinstance(decoder.head.net[1], torch.nn.GELU) and len(decoder.head.net) == 3
    batch = decoder.build_batch(_embeddings(3), decoder.tokenize_captions(CAPTIONS[:3]))
    assert (batch["labels"][:, :10] == -100).all()
    assert (batch["labels"][:, 10] != -100).all()


def test_zero_shot_head_is_one_linear_layer():
    head = PrefixHead(DIM, 64, "zero_shot")
    assert len(head.net) == 1 and head(_embeddings(5)).shape == (5, 1, 64)


def test_long_captions_are_truncated_and_counted(tiny_llama, caplog):
    decoder = _decoder(tiny_llama, max_caption_tokens=3)
    with caplog.at_level(logging.WARNING, logger="diffusion_link.decoder.model"):
        ids = decoder.tokenize_captions([CAPTIONS[0], "rain", CAPTIONS[1]])
    assert max(len(i) for i in ids) == 3
    assert any("captions exceed 3 tokens and were truncated" in r.message for r in caplog.records)
    assert any(r.message.startswith("2 of 3") for r in caplog.records)


def test_empty_captions_are_left_out_and_counted(caplog):
    with caplog.at_level(logging.WARNING, logger="diffusion_link.decoder.trainer"):
        embeddings, captions = drop_empty_captions(_embeddings(4), ["a dog", "", "  ", None])
    assert captions == ["a dog"] and embeddings.shape == (1, DIM)
    assert any("3 of 4 captions are empty" in r.message for r in caplog.records)


def test_head_and_llm_hidden_size_mismatch_is_rejected(tiny_llama):
    decoder = _decoder(tiny_llama)
    wrong = PrefixHead(DIM, 32, "zero_shot")
    with pytest.raises(DecoderMismatchError, match="hidden size 64"):
        CaptionDecoder(decoder.config, decoder.llm, decoder.tokenizer, wrong, decoder.identity)


def test_missing_model_gives_one_clear_error(tmp_path, monkeypatch):
    with pytest.raises(ModelNotAvailableError, match="llm_setup"):
        _decoder(tmp_path / "smollm2-135m-instruct")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with pytest.raises(ModelNotAvailableError, match="meta-llama/Llama-2-7b-hf.*offline"):
        _decoder("meta-llama/Llama-2-7b-hf")


def test_warmup_then_cosine():
    factor = warmup_cosine(2, 10)
    assert [factor(0), factor(1)] == [0.5, 1.0]
    assert factor(2) == pytest.approx(1.0) and factor(6) == pytest.approx(0.5)
    assert factor(10) == pytest.approx(0.0)


def _train(decoder: CaptionDecoder) -> list[dict]:
    """15 epochs on CAPTIONS (30 steps of 4), warm-up over the first epoch: the history."""
    settings = TrainSettings(epochs=15, batch_size=4, lr=1e-2, warmup_epochs=1, progress=False)
    return DecoderTrainer(decoder, _embeddings(len(CAPTIONS)), CAPTIONS, settings).run()


def _mean_loss(rows: list[dict]) -> float:
    return sum(row["loss"] for row in rows) / len(rows)


def test_training_lowers_the_loss(tiny_llama):
    decoder = _decoder(tiny_llama, lora=WIDE_LORA)
    history = _train(decoder)
    assert len(history) == 30
    first, last = _mean_loss(history[:3]), _mean_loss(history[-3:])
    # A random LLM's frozen output layer keeps the loss near log(vocab); it must still fall.
    assert last < first - 0.2, (first, last)
    assert history[0]["lr"] < history[1]["lr"]  # warm-up
    assert history[1]["lr"] == pytest.approx(1e-2)
    assert history[-1]["lr"] < 1e-4  # cosine towards 0


def test_gradient_accumulation_and_noise_run(tiny_llama):
    decoder = _decoder(tiny_llama)
    settings = TrainSettings(
        epochs=1, batch_size=2, grad_accumulation=2, noise_std=0.05, lr=1e-3, progress=False
    )
    history = DecoderTrainer(decoder, _embeddings(8), CAPTIONS, settings).run()
    assert len(history) == 2 and all(h["loss"] > 0 for h in history)


@pytest.fixture(scope="module")
def trained(tiny_llama, tmp_path_factory):
    decoder = _decoder(tiny_llama)
    settings = TrainSettings(epochs=5, batch_size=4, lr=3e-3, progress=False)
    DecoderTrainer(decoder, _embeddings(len(CAPTIONS)), CAPTIONS, settings).run()
    path = tmp_path_factory.mktemp("saved") / "decoder"
    decoder.save_pretrained(path)
    return decoder, path


def test_batched_greedy_equals_one_at_a_time(trained):
    decoder, _ = trained
    embeddings = _embeddings(5, seed=3)
    settings = GenerationSettings(max_new_tokens=8, batch_size=5)
    batched = decoder.generate(embeddings, settings)
    single = [decoder.generate(e[None], settings)[0] for e in embeddings]
    assert batched == single
    beams = decoder.generate(embeddings, GenerationSettings(num_beams=3, max_new_tokens=8))
    assert len(beams) == 5 and all(isinstance(c, str) for c in beams)


def test_save_load_round_trip_gives_identical_generations(trained):
    decoder, path = trained
    assert {p.name for p in path.iterdir()} >= {"decoder_config.json", "head.safetensors"}
    assert (path / "adapter" / "adapter_config.json").is_file()
    loaded = CaptionDecoder.from_pretrained(path)
    assert loaded.config == decoder.config
    embeddings = _embeddings(4, seed=7)
    settings = GenerationSettings(max_new_tokens=8)
    assert loaded.generate(embeddings, settings) == decoder.generate(embeddings, settings)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "decoder_config.json").write_text("{not json"), "is not valid JSON"),
        (lambda d: (d / "decoder_config.json").write_text("[1, 2]"), "not a JSON object"),
        (
            lambda d: (d / "decoder_config.json").write_text("{}"),
            r"lacks \['decoder', 'base_model'\]",
        ),
        (lambda d: shutil.rmtree(d / "adapter"), "has no LoRA adapter"),
        (lambda d: (d / "head.safetensors").write_bytes(b"\x00" * 7), "not a readable safetensors"),
    ],
    ids=["not-json", "not-an-object", "missing-keys", "no-adapter", "truncated-head"],
)
def test_a_damaged_decoder_folder_names_the_file_and_what_to_rerun(
    trained, tmp_path, damage, message
):
    _, path = trained
    copy = tmp_path / "decoder"
    shutil.copytree(path, copy)
    damage(copy)
    with pytest.raises(ValueError, match=message) as error:
        CaptionDecoder.from_pretrained(copy)
    assert str(copy) in str(error.value) and "rerun decoder_training" in str(error.value)


def test_adapter_for_another_base_model_is_rejected(trained, other_llama, tmp_path):
    _, path = trained
    with pytest.raises(DecoderMismatchError, match="saved for base model"):
        CaptionDecoder.from_pretrained(path, base_model=str(other_llama))
    wider = make_tiny_llama(tmp_path / "wider", hidden=32)
    with pytest.raises(DecoderMismatchError, match="hidden_size"):
        CaptionDecoder.from_pretrained(path, base_model=str(wider))


@pytest.mark.slow
@pytest.mark.skipif(
    not (SMOLLM2 / "config.json").is_file(),
    reason=f"{SMOLLM2} is absent: create it with `python -m diffusion_link.decoder.llm_setup`",
)
def test_real_smollm2_trains_and_captions():
    torch.manual_seed(0)
    config = DecoderConfig(base_model=str(SMOLLM2), mode="zero_shot", embedding_dim=DIM)
    decoder = CaptionDecoder.build(config)
    history = DecoderTrainer(
        decoder, _embeddings(4), CAPTIONS[:4], TrainSettings(epochs=2, batch_size=4, progress=False)
    ).run()
    assert len(history) == 2
    captions = decoder.generate(_embeddings(2, seed=1), GenerationSettings(max_new_tokens=10))
    assert len(captions) == 2
    assert all(isinstance(c, str) and c.strip() for c in captions), captions


def test_identity_is_the_same_in_fp32_and_bf16(tiny_llama):
    """An adapter trained in bf16 on a GPU is accepted for the same model in fp32 on a CPU."""
    from diffusion_link.decoder.base_model import load_base_model, model_identity

    model, _ = load_base_model(str(tiny_llama))
    fp32 = model_identity(model, "tiny")
    assert model_identity(model.to(torch.bfloat16), "tiny") == fp32


def test_auto_precision_is_bf16_on_a_gpu_or_on_a_cpu_with_bf16_arithmetic(monkeypatch):
    from diffusion_link.decoder import base_model

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native, auto_on_cpu in ((False, torch.float32), (True, torch.bfloat16)):
        monkeypatch.setattr(base_model, "cpu_has_native_bf16", lambda native=native: native)
        assert base_model.resolve_dtype("auto", cpu) == auto_on_cpu
        assert base_model.resolve_dtype("auto", cuda) == torch.bfloat16
        assert base_model.resolve_dtype("fp32", cpu) == base_model.resolve_dtype("fp32", cuda)
        assert base_model.resolve_dtype("bf16", cpu) == torch.bfloat16
    assert base_model.resolve_dtype("fp32", cpu) == torch.float32


def test_bf16_training_on_the_cpu_keeps_the_trained_weights_in_fp32(tiny_llama):
    """The frozen LLM is bf16; the head and LoRA adapter train (and are saved) in fp32."""
    decoder = _decoder(tiny_llama, lora=WIDE_LORA, precision="bf16")
    assert decoder.autocast_dtype == torch.bfloat16
    assert decoder.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    trainable = [p for p in decoder.parameters() if p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    ids = decoder.tokenize_captions(CAPTIONS[:2])
    # bf16 products, fp32 residual stream: the LLM's inputs stay fp32
    assert decoder.build_batch(_embeddings(2), ids)["inputs_embeds"].dtype == torch.float32
    history = _train(decoder)
    first, last = _mean_loss(history[:3]), _mean_loss(history[-3:])
    assert last < first - 0.2, (first, last)
