"""Caption decoder speed: batched generation against one `generate` call per caption; the
training step.

Both generation paths run in this one process on the same decoder (head + LoRA + LLM), the same
embeddings and the same settings (greedy, ``--new-tokens`` tokens, no early stop at EOS so every
caption costs the same):

- per caption: transformers' ``generate`` called once per caption (batch 1), timed on the first
  ``--single`` captions and reported as captions per second;
- project: ``CaptionDecoder.generate`` in batches of ``--batch-size`` over all ``--captions``.

Training step: the project's ``DecoderTrainer.train_step`` (forward, backward, AdamW, schedule)
in supervised mode (10 prefix vectors, no prompt) on captions of exactly ``--caption-tokens``
tokens, LoRA r 8 on q_proj/v_proj, batch ``--train-batch``, timed once per ``--precisions``
entry (default fp32 then auto: bf16 on CUDA or a CPU with bf16 arithmetic, see
``diffusion_link.decoder.base_model.resolve_dtype``), with each one's ratio to the first.

Models: a local folder (default: the project's SmolLM2-135M-Instruct) or ``llama2-7b-shape``,
random weights in LLaMA-2-7B's shape (hidden 4096, 32 layers, 32 heads, MLP 11,008) built on the
device, with SmolLM2's tokenizer for the ids, so its vocabulary is SmolLM2's 49,152 rather than
32,000 (a larger output layer: the timings err on the slow side). ``--layers`` shrinks it.

    python bench/decoder.py                                   # CPU, SmolLM2
    python bench/decoder.py --device cuda --model llama2-7b-shape --captions 1024 --batch-size 512

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from diffusion_link.decoder.config import DecoderConfig, GenerationSettings, TrainSettings
from diffusion_link.decoder.model import CaptionDecoder
from diffusion_link.decoder.trainer import DecoderTrainer

PROJECT = Path(__file__).resolve().parents[1]
SMOLLM2 = PROJECT / "data" / "06_models" / "smollm2-135m-instruct"
LORA = {"r": 8, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}
EMBEDDING_DIM = 512


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _llama2_7b_shape(device: str, layers: int | None):
    """Random LLaMA-2-7B-shaped weights, created on the device in bf16 (fp32 on CPU)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(SMOLLM2)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=4096,
        intermediate_size=11_008,
        num_hidden_layers=layers or 32,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
    )
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer


def build_decoder(
    model: str, mode: str, device: str, layers: int | None, precision: str = "auto"
) -> CaptionDecoder:
    torch.manual_seed(0)
    config = DecoderConfig(
        base_model=model if model != "llama2-7b-shape" else "llama2-7b-shape (random)",
        mode=mode,
        embedding_dim=EMBEDDING_DIM,
        lora=LORA,
        precision=precision,
    )
    if model == "llama2-7b-shape":
        base, tokenizer = _llama2_7b_shape(device, layers)
        return CaptionDecoder.from_base_model(config, base, tokenizer, device)
    return CaptionDecoder.build(config, device)


def bench_generation(decoder: CaptionDecoder, args: argparse.Namespace) -> dict:
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(args.captions, EMBEDDING_DIM, generator=generator)
    fixed = {"max_new_tokens": args.new_tokens, "min_new_tokens": args.new_tokens}
    single = GenerationSettings(batch_size=1, **fixed)
    batched = GenerationSettings(batch_size=args.batch_size, **fixed)
    decoder.generate(embeddings[:2], single)  # warm-up of both paths
    decoder.generate(embeddings[: min(args.batch_size, args.captions)], batched)
    _sync(args.device)
    start = time.perf_counter()
    decoder.generate(embeddings[: args.single], single)
    _sync(args.device)
    single_rate = args.single / (time.perf_counter() - start)
    start = time.perf_counter()
    captions = decoder.generate(embeddings, batched)
    _sync(args.device)
    batched_rate = len(captions) / (time.perf_counter() - start)
    print(
        f"generation  per caption {single_rate:8.2f} captions/s   batched {batched_rate:8.2f} "
        f"captions/s   ratio {batched_rate / single_rate:6.2f}   ({args.new_tokens} tokens, "
        f"batch {args.batch_size}, {args.captions} captions)"
    )
    return {
        "generation_single_captions_per_s": round(single_rate, 3),
        "generation_batched_captions_per_s": round(batched_rate, 3),
        "generation_ratio": round(batched_rate / single_rate, 3),
        "generation_new_tokens": args.new_tokens,
        "generation_batch_size": args.batch_size,
        "generation_captions": args.captions,
    }


def bench_training_step(decoder: CaptionDecoder, args: argparse.Namespace) -> float:
    """Median ms per optimiser step, captions of exactly ``--caption-tokens`` tokens."""
    word = decoder.tokenizer.decode(
        decoder.tokenizer(" dog", add_special_tokens=False)["input_ids"]
    )
    n = 8 * args.train_batch
    captions = [word.strip() + word * (args.caption_tokens - 1)] * n
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(n, EMBEDDING_DIM, generator=generator)
    settings = TrainSettings(
        epochs=1000, batch_size=args.train_batch, lr=1e-4, progress=False, log_every=10**9
    )
    trainer = DecoderTrainer(decoder, embeddings, captions, settings)
    lengths = {len(ids) for ids in trainer.caption_ids}
    assert lengths == {args.caption_tokens}, f"captions of {lengths} tokens"
    for _ in range(3):  # warm-up
        trainer.train_step()
    times = []
    for _ in range(args.train_steps):
        _sync(args.device)
        start = time.perf_counter()
        trainer.train_step()
        _sync(args.device)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def bench_training_steps(args: argparse.Namespace) -> dict:
    """The training step in each of ``--precisions``, side by side, ratios to the first."""
    results: dict = {"train_batch": args.train_batch, "train_caption_tokens": args.caption_tokens}
    precisions = args.precisions.split(",")
    first = None
    for precision in precisions:
        decoder = build_decoder(args.model, "supervised", args.device, args.layers, precision)
        dtype = str(decoder.autocast_dtype).removeprefix("torch.")
        step_ms = bench_training_step(decoder, args)
        first = first or step_ms
        print(
            f"train step  {precision:>5} ({dtype:>8}) {step_ms:8.2f} ms   ratio to "
            f"{precisions[0]} {first / step_ms:5.2f}   (median of "
            f"{args.train_steps}; batch {args.train_batch}, {decoder.config.num_prefix} prefix + "
            f"{args.caption_tokens} caption tokens)"
        )
        results[f"train_step_ms_{precision}"] = round(step_ms, 3)
        results[f"train_dtype_{precision}"] = dtype
        results[f"train_ratio_{precision}"] = round(first / step_ms, 3)
        results["train_prefix_tokens"] = decoder.config.num_prefix
        del decoder
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--model", default=str(SMOLLM2), help="a folder or llama2-7b-shape")
    parser.add_argument("--layers", type=int, default=None, help="llama2-7b-shape layers")
    parser.add_argument("--captions", type=int, default=64)
    parser.add_argument("--single", type=int, default=8, help="captions timed at batch 1")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=20)
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--caption-tokens", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument(
        "--precisions", default="fp32,auto", help="training-step precisions, the first is the base"
    )
    args = parser.parse_args()
    results = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "model": args.model if args.layers is None else f"{args.model} ({args.layers} layers)",
    }
    decoder = build_decoder(args.model, "zero_shot", args.device, args.layers)
    results.update(bench_generation(decoder, args))
    del decoder
    results.update(bench_training_steps(args))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
