"""Diffusion-Link speed: the project's training step and DDIM bridging against naive PyTorch.

Both paths run in this one process on the same random data and weights:

- training step (batch 128) of each diffusion bridge: naive = DataLoader over a TensorDataset,
  eager fp32, a Python loop for the EMA, and for Diffusion-Link the textbook eq. 6-7 with one
  denoiser call per branch; project = ``diffusion_link.core.training.Trainer`` with the bridge's own
  objective (data on the device, batches gathered by index, foreach EMA, Diffusion-Link's two
  branches in one denoiser call, and on CUDA one CUDA graph per step).
- DDIM bridging of N embeddings (s*=100, 5 steps): naive = fp32 ``bridge()``; project = the
  same call on bf16 weights on CUDA (TF32 matmuls allowed; fp32 on CPU).

Last line: one JSON object with the figures and the ratios.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from diffusion_link.core.bridges import BRIDGE_CLASSES, training_objective
from diffusion_link.core.losses import reconstruction_loss, topology_loss
from diffusion_link.core.model import DiffusionConfig, DiffusionLink
from diffusion_link.core.schedule import q_sample
from diffusion_link.core.training import TrainConfig, Trainer

DIFFUSION_BRIDGES = {  # method -> its model settings and loss settings on the default
    "diffusion_link": ({}, {}),
    "diffusion_bridge": ({"s_star": 600}, {}),
    "diffgap": ({"s_star": 1000, "ddim_steps": 50}, {}),
}


def textbook_cross_sample(model, batch, generator):
    """Eqs. 6-7 as written: one denoiser call per branch (the naive reference)."""
    text, predictions = batch["text"], {}
    for name in ("text", "audio"):
        x0 = batch[name]
        s = torch.randint(1, model.config.T + 1, (len(x0),), generator=generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        predictions[name] = model(q_sample(x0, s, model.alpha_bar, noise), s)
    dim, pairs = text.shape[1], len(text) ** 2
    eq6 = sum(reconstruction_loss(text, predictions[n]) for n in ("text", "audio")) / dim
    return {"loss": eq6 + topology_loss(text, predictions["audio"]) / pairs}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time(fn, repeats: int, device: str) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def naive_steps(
    model: DiffusionLink,
    objective,
    text: torch.Tensor,
    audio: torch.Tensor,
    steps: int,
    device: str,
) -> float:
    """ms per step of a textbook loop over a DataLoader (CPU tensors moved per batch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 200, 0.97)
    ema = copy.deepcopy(model).requires_grad_(False)
    loader = DataLoader(
        TensorDataset(text.cpu(), audio.cpu()), batch_size=128, shuffle=True, drop_last=True
    )
    generator = torch.Generator(device=device).manual_seed(0)

    def run(n: int) -> None:
        done = 0
        while done < n:
            for text_batch, audio_batch in loader:
                batch = {"text": text_batch.to(device), "audio": audio_batch.to(device)}
                loss = objective(model, batch, generator)["loss"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                with torch.no_grad():
                    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
                        p_ema.mul_(0.995).add_(p, alpha=0.005)
                done += 1
                if done == n:
                    return

    run(5)
    return _time(lambda: run(steps), 3, device) / steps


def project_steps(
    model: DiffusionLink, objective, text: torch.Tensor, audio: torch.Tensor, steps: int
) -> float:
    trainer = Trainer(
        model,
        objective,
        {"text": text, "audio": audio},
        TrainConfig(steps=10**9),
        cuda_graph=True,
    )
    device = text.device.type

    def run(n: int) -> None:
        for _ in range(n):
            trainer._train_step()

    run(5)
    return _time(lambda: run(steps), 3, device) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--train-rows", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (cpu 20, cuda 200)")
    parser.add_argument("--bridge-rows", type=int, default=None, help="cpu 4096, cuda 48595")
    args = parser.parse_args()
    device = args.device
    steps = args.steps or (200 if device == "cuda" else 20)
    bridge_rows = args.bridge_rows or (48_595 if device == "cuda" else 4096)
    torch.manual_seed(0)
    text = torch.randn(args.train_rows, args.dim, device=device)
    audio = torch.randn(args.train_rows, args.dim, device=device)

    figures = {}
    for method, (settings, loss) in DIFFUSION_BRIDGES.items():
        config = DiffusionConfig(dim=args.dim, width=args.width, **settings)
        model = BRIDGE_CLASSES[method](config).to(device)
        with torch.no_grad():  # random weights (the zero-initialised output gives zeros)
            for parameter in model.denoiser.parameters():
                parameter.normal_(0.0, 0.02)
        project = training_objective(method, loss)
        naive = textbook_cross_sample if method == "diffusion_link" else project
        naive_ms = naive_steps(copy.deepcopy(model), naive, text, audio, steps, device)
        project_ms = project_steps(copy.deepcopy(model), project, text, audio, steps)
        print(
            f"{method:17s} train step  naive {naive_ms:8.3f} ms   project {project_ms:8.3f} ms"
            f"   ratio {naive_ms / project_ms:6.2f}"
        )
        figures[f"{method}_train_step_naive_ms"] = round(naive_ms, 4)
        figures[f"{method}_train_step_project_ms"] = round(project_ms, 4)
        figures[f"{method}_train_step_ratio"] = round(naive_ms / project_ms, 3)

    model = DiffusionLink(DiffusionConfig(dim=args.dim, width=args.width)).to(device)
    with torch.no_grad():
        for parameter in model.denoiser.parameters():
            parameter.normal_(0.0, 0.02)
    embeddings = torch.randn(bridge_rows, args.dim, device=device)
    generator = torch.Generator(device=device)
    model.eval()
    fp32_ms = _time(lambda: model.bridge(embeddings, generator=generator.manual_seed(0)), 5, device)
    fast = copy.deepcopy(model)
    if device == "cuda":  # the project bridges in fp32 on the CPU: there both sides run fp32
        fast.denoiser.to(torch.bfloat16)
    torch.backends.cuda.matmul.allow_tf32 = True
    fast_ms = _time(lambda: fast.bridge(embeddings, generator=generator.manual_seed(0)), 5, device)
    reference = model.bridge(embeddings, generator=generator.manual_seed(0))
    fast_out = fast.bridge(embeddings, generator=generator.manual_seed(0))
    agreement = torch.nn.functional.cosine_similarity(reference, fast_out).min().item()
    print(
        f"DDIM bridge naive {fp32_ms:8.3f} ms   project {fast_ms:8.3f} ms   ratio {fp32_ms / fast_ms:6.2f}   ({bridge_rows} rows, min cosine fp32 vs bf16 {agreement:.4f})"
    )
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                "dim": args.dim,
                "width": args.width,
                **figures,
                "train_step_ratio": figures["diffusion_link_train_step_ratio"],
                "bridge_rows": bridge_rows,
                "bridge_naive_ms": round(fp32_ms, 3),
                "bridge_project_ms": round(fast_ms, 3),
                "bridge_ratio": round(fp32_ms / fast_ms, 3),
                "bridge_min_cosine_fp32_vs_bf16": round(agreement, 5),
            }
        )
    )


if __name__ == "__main__":
    main()
