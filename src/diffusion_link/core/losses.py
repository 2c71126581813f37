"""Every bridge's training objective, built on one set of noise helpers.

- Diffusion-Link: cross-sample prediction (eq. 6) and topology (eq. 7), eq. 8 in all;
- Diffusion-Bridge: text-only x0 loss weighted by the step's SNR;
- DiffGap: conditional x0 loss on the text, conditioned on the audio.

An objective factory's keyword arguments are the schema of a bridge's ``loss`` settings; the
objective it returns maps ``(model, batch, generator)`` to named loss terms (``loss`` is summed
by the trainer's optimiser step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from diffusion_link.core.schedule import q_sample

Objective = Callable[[nn.Module, dict[str, torch.Tensor], torch.Generator], dict[str, torch.Tensor]]


def random_steps(model: nn.Module, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One diffusion step per row, uniform in 1..T of ``model``'s schedule."""
    return torch.randint(1, model.config.T + 1, (len(x0),), generator=generator, device=x0.device)


def noised(
    model: nn.Module, x0: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z_s, s)``: each row of ``x0`` noised to its own uniformly drawn step (eq. 2)."""
    s = random_steps(model, x0, generator)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return q_sample(x0, s, model.alpha_bar, noise), s


def reconstruction_loss(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||target - prediction||_2^2 (one term of eq. 6)."""
    return (target - prediction).pow(2).sum(dim=-1).mean()


def topology_loss(text: torch.Tensor, text_like: torch.Tensor) -> torch.Tensor:
    """||S_xx - S_x,xhat||_F^2 over a batch (eq. 7), rows L2-normalised first.

    S_xx = X'X'^T compares the text embeddings with each other; S_x,xhat = X'Xhat'^T compares
    them with the text-like outputs. The loss is zero when the outputs keep the texts' geometry.
    """
    x = F.normalize(text, dim=-1)
    # The floor on the norm keeps the gradient finite for the all-zero predictions of a
    # zero-initialised output layer (outputs live at norm ~5); 1e-12 would give 1e12-sized
    # gradients at step 0 that stall Adam for thousands of steps.
    x_hat = F.normalize(text_like, dim=-1, eps=1e-2)
    return (x @ x.T - x @ x_hat.T).pow(2).sum()


def cross_sample_objective(
    diffusion_weight: float = 1.0,
    topology_weight: float = 1.0,
    topology_source: str = "audio",
    reduction: str = "mean",
) -> Objective:
    """Diffusion-Link's loss (eq. 8) for the trainer: eq. 6 plus a weighted eq. 7.

    ``batch`` holds normalised paired ``text`` and ``audio`` rows. Each modality is noised to
    its own uniformly drawn step in 1..T and the denoiser must predict the *text* embedding
    from both.

    ``reduction``: "mean" averages both terms over their elements, as ``F.mse_loss`` does
    (eq. 6's squared norms divided by d, eq. 7's Frobenius sum by B^2); "sum" is the paper's
    literal form (squared norms summed over d and averaged over the batch; eq. 7 summed over
    its B^2 entries), where at batch 128 the topology term outweighs the reconstruction by
    about two orders of magnitude. The topology term compares the texts with the text-like
    predictions of the ``topology_source`` branch: "audio" (what the bridge produces at
    inference; the default), "text", or "both" (the sum).
    """
    if topology_source not in ("audio", "text", "both"):
        raise ValueError(f"topology_source must be audio, text or both, got {topology_source!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be mean or sum, got {reduction!r}")

    def objective(
        model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        text, audio = batch["text"], batch["audio"]
        (z_text, s_text), (z_audio, s_audio) = (
            noised(model, x0, generator) for x0 in (text, audio)
        )
        # One denoiser pass over both branches: half the kernel launches, larger GEMMs.
        predicted = model(torch.cat([z_text, z_audio]), torch.cat([s_text, s_audio]))
        predictions = dict(zip(("text", "audio"), predicted.split(len(text)), strict=True))
        # "mean": per element (divide by d and by B^2); "sum": the paper's literal sums.
        dim, pairs = (text.shape[1], len(text) ** 2) if reduction == "mean" else (1, 1)
        text_to_text = reconstruction_loss(text, predictions["text"]) / dim
        audio_to_text = reconstruction_loss(text, predictions["audio"]) / dim
        sources = ("audio", "text") if topology_source == "both" else (topology_source,)
        topology = sum(topology_loss(text, predictions[name]) for name in sources) / pairs
        loss = diffusion_weight * (text_to_text + audio_to_text) + topology_weight * topology
        return {
            "loss": loss,
            "text_to_text": text_to_text,
            "audio_to_text": audio_to_text,
            "topology": topology,
        }

    return objective


def diffusion_bridge_objective(snr_clip: float | None = None) -> Objective:
    """Text-only x0 loss weighted by the step's SNR, as Diffusion-Bridge's public code does.

    ``snr_clip``: None (the public code) weights by the plain SNR abar / (1 - abar), which
    makes the smallest steps dominate; a number clips the weight there (min-SNR weighting).
    The model must offer ``predict_x0(z, s)`` (Diffusion-Bridge re-projects z first).
    """
    if snr_clip is not None and not snr_clip > 0:
        raise ValueError(f"snr_clip must be > 0 or null, got {snr_clip}")

    def objective(
        model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        text = batch["text"]
        z, s = noised(model, text, generator)
        a = model.alpha_bar[s]
        weight = a / (1 - a)
        if snr_clip is not None:
            weight = weight.clamp(max=snr_clip)
        prediction = model.predict_x0(z, s)
        return {"loss": (weight * (text - prediction).pow(2).sum(dim=-1)).mean()}

    return objective


def diffgap_objective() -> Objective:
    """Conditional x0 loss: predict the text embedding from its noised copy and the audio."""

    def objective(
        model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        text, audio = batch["text"], batch["audio"]
        z, s = noised(model, text, generator)
        return {"loss": reconstruction_loss(text, model(z, s, audio))}

    return objective
