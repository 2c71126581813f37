"""The LLM caption decoder: a soft prefix from one text-like embedding, a causal LM with LoRA.

Paper section 2.3: a projection head maps one embedding to ``m`` soft-prefix vectors of the LLM's
hidden size. Zero-shot mode: one linear layer, ``m = 1``, then a short instruction prompt; trained
on text-driven text-like embeddings (optionally with Gaussian noise on the input). Supervised
mode: linear -> activation -> linear, ``m = 10``, no prompt; trained on audio-driven embeddings.
The input is ``[prefix; prompt; caption; EOS]`` and the loss covers the caption and EOS only.

The base LLM comes from :mod:`diffusion_link.decoder.base_model`, LoRA from peft; training is
:class:`diffusion_link.decoder.trainer.DecoderTrainer`. Nothing here imports Kedro.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from diffusion_link.atomic import atomic_directory, read_json_object, read_safetensors
from diffusion_link.decoder.base_model import (
    DecoderMismatchError,
    check_identity,
    load_base_model,
    model_identity,
    resolve_dtype,
)
from diffusion_link.decoder.config import (
    ACTIVATIONS,
    PAPER_PREFIX_LENGTH,
    DecoderConfig,
    GenerationSettings,
    Mode,
)

logger = logging.getLogger(__name__)

CONFIG_FILE = "decoder_config.json"
HEAD_FILE = "head.safetensors"
ADAPTER_DIR = "adapter"


class PrefixHead(nn.Module):
    """One embedding -> ``m`` soft-prefix vectors of the LLM's hidden size."""

    def __init__(
        self,
        embedding_dim: int,
        hidden_size: int,
        mode: Mode,
        prefix_length: int | None = None,
        head_hidden: int | None = None,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.mode = mode
        self.hidden_size = hidden_size
        self.prefix_length = prefix_length or PAPER_PREFIX_LENGTH[mode]
        out = self.prefix_length * hidden_size
        if mode == "zero_shot":
            self.net = nn.Sequential(nn.Linear(embedding_dim, out))
        else:
            middle = head_hidden or hidden_size
            self.net = nn.Sequential(
                nn.Linear(embedding_dim, middle), ACTIVATIONS[activation](), nn.Linear(middle, out)
            )

    @property
    def out_features(self) -> int:
        """How many values the head produces: prefix_length x hidden size."""
        return self.net[-1].out_features

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(batch, m, hidden)`` soft-prefix vectors of ``embeddings``."""
        return self.net(embeddings).view(len(embeddings), self.prefix_length, self.hidden_size)


class CaptionDecoder(nn.Module):
    """Soft-prefix head + causal LM with a LoRA adapter."""

    def __init__(
        self,
        config: DecoderConfig,
        llm: nn.Module,
        tokenizer: Any,
        head: PrefixHead,
        identity: dict[str, Any],
    ) -> None:
        super().__init__()
        hidden = llm.get_input_embeddings().embedding_dim
        if head.hidden_size != hidden or head.out_features != head.prefix_length * hidden:
            raise DecoderMismatchError(
                f"prefix head produces vectors of size {head.hidden_size} but the LLM "
                f"{config.base_model!r} has hidden size {hidden}"
            )
        self.config = config
        self.llm = llm
        self.tokenizer = tokenizer
        self.head = head
        self.identity = identity
        self.history: list[dict[str, float]] = []
        # What its training embeddings were (``variant``, ``bridge``: the bridge whose outputs
        # it read, ``identity`` for raw encoder embeddings), saved with it; {} when unknown.
        self.trained_on: dict[str, str] = {}
        prompt = config.instruction
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
        self.register_buffer("prompt_ids", torch.tensor(ids, dtype=torch.long), persistent=False)
        # Whether the LLM computes logits for its last positions only (``logits_to_keep``).
        forward = llm.get_base_model().forward
        self.logits_for_captions_only = "logits_to_keep" in inspect.signature(forward).parameters

    # -- construction

    @classmethod
    def build(cls, config: DecoderConfig, device: str | torch.device = "cpu") -> CaptionDecoder:
        """A fresh decoder: base LLM (frozen) + new LoRA adapter + new head, seeded by caller."""
        device = torch.device(device)
        base, tokenizer = load_base_model(
            config.base_model, resolve_dtype(config.precision, device)
        )
        return cls.from_base_model(config, base, tokenizer, device)

    @classmethod
    def from_base_model(
        cls,
        config: DecoderConfig,
        base: nn.Module,
        tokenizer: Any,
        device: str | torch.device = "cpu",
    ) -> CaptionDecoder:
        """A fresh decoder around an already loaded causal LM (frozen) and its tokenizer."""
        from peft import LoraConfig, get_peft_model

        identity = model_identity(base, config.base_model)
        lora = LoraConfig(
            r=config.lora.r,
            lora_alpha=config.lora.alpha,
            lora_dropout=config.lora.dropout,
            target_modules=list(config.lora.target_modules),
            task_type="CAUSAL_LM",
        )
        llm = get_peft_model(base, lora)
        head = cls._head(config, identity["hidden_size"])
        return cls(config, llm, tokenizer, head, identity).to(torch.device(device))

    @staticmethod
    def _head(config: DecoderConfig, hidden: int) -> PrefixHead:
        return PrefixHead(
            config.embedding_dim,
            hidden,
            config.mode,
            config.num_prefix,
            config.head_hidden,
            config.activation,
        )

    @property
    def device(self) -> torch.device:
        """Where the decoder's weights are."""
        return next(self.head.parameters()).device

    @property
    def autocast_dtype(self) -> torch.dtype:
        """The dtype of the forward pass (:func:`resolve_dtype` on this device)."""
        return resolve_dtype(self.config.precision, self.device)

    def autocast(self) -> torch.autocast:
        """The forward pass's autocast context (off in fp32)."""
        dtype = self.autocast_dtype
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32)

    @property
    def lead_length(self) -> int:
        """Input positions before the caption: ``m`` prefix vectors and the prompt's tokens."""
        return self.head.prefix_length + len(self.prompt_ids)

    # -- inputs

    def tokenize_captions(self, captions: Sequence[str]) -> list[list[int]]:
        """Token ids of each caption (no special tokens), truncated to max_caption_tokens.

        Captions must be non-empty (see :func:`diffusion_link.decoder.trainer.drop_empty_captions`).
        """
        ids = self.tokenizer(list(captions), add_special_tokens=False)["input_ids"]
        limit = self.config.max_caption_tokens
        truncated = sum(len(row) > limit for row in ids)
        if truncated:
            logger.warning(
                "%d of %d captions exceed %d tokens and were truncated",
                truncated,
                len(ids),
                limit,
            )
        return [row[:limit] for row in ids]

    def _prefix_and_prompt(self, embeddings: torch.Tensor) -> torch.Tensor:
        prefix = self.head(embeddings.to(self.device, self.head.net[0].weight.dtype))
        embed = self.llm.get_input_embeddings()
        prefix = prefix.to(embed.weight.dtype)
        if len(self.prompt_ids) == 0:
            return prefix
        prompt = embed(self.prompt_ids).unsqueeze(0).expand(len(prefix), -1, -1)
        return torch.cat([prefix, prompt], dim=1)

    def build_batch(
        self, embeddings: torch.Tensor, caption_ids: Sequence[Sequence[int]]
    ) -> dict[str, torch.Tensor]:
        """inputs_embeds / attention_mask / labels for ``[prefix; prompt; caption; EOS; pad]``."""
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        rows = [list(ids) + [eos] for ids in caption_ids]
        width = max(len(row) for row in rows)
        tokens = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        tokens, mask = tokens.to(self.device), mask.to(self.device)
        lead = self._prefix_and_prompt(embeddings)
        caption = self.llm.get_input_embeddings()(tokens)
        n_lead = lead.shape[1]
        ignore = torch.full((len(rows), n_lead), -100, dtype=torch.long, device=self.device)
        return {
            # fp32 inputs keep the residual stream fp32 under bf16 autocast (bf16 products only);
            # bf16 sums too cost the default's Diffusion-Link decoder 0.19 of final val loss
            "inputs_embeds": torch.cat([lead, caption], dim=1).float(),
            "attention_mask": torch.cat([torch.ones_like(ignore), mask], dim=1),
            "labels": torch.cat([ignore, tokens.masked_fill(mask == 0, -100)], dim=1),
        }

    def forward(
        self, embeddings: torch.Tensor, caption_ids: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """The captioning loss (mean over caption and EOS tokens) of one batch."""
        batch = self.build_batch(embeddings, caption_ids)
        if self.logits_for_captions_only:
            # the output layer only where a caption token or EOS is predicted: the same loss
            keep = batch["labels"].shape[1] - self.lead_length + 1
            batch = {**batch, "labels": batch["labels"][:, -keep:], "logits_to_keep": keep}
        with self.autocast():
            return self.llm(**batch).loss

    # -- generation

    @torch.no_grad()
    def generate(
        self, embeddings: torch.Tensor, settings: GenerationSettings | None = None
    ) -> list[str]:
        """One caption per embedding, in batches (greedy when num_beams == 1, else beam)."""
        settings = settings or GenerationSettings()
        self.eval()
        captions: list[str] = []
        step = settings.batch_size
        tok = self.tokenizer
        for start in range(0, len(embeddings), step):
            lead = self._prefix_and_prompt(embeddings[start : start + step])
            # Prefix and prompt have the same length for every row; left padding would go
            # in front of ``lead`` (with zeros in the attention mask) if they ever differed.
            mask = torch.ones(lead.shape[:2], dtype=torch.long, device=self.device)
            lead = lead.float()  # the residual stream in fp32, as in training
            with self.autocast():
                out = self.llm.generate(
                    inputs_embeds=lead,
                    attention_mask=mask,
                    max_new_tokens=settings.max_new_tokens,
                    min_new_tokens=settings.min_new_tokens,
                    num_beams=settings.num_beams,
                    no_repeat_ngram_size=settings.no_repeat_ngram_size,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )
            captions += [c.strip() for c in tok.batch_decode(out, skip_special_tokens=True)]
        return captions

    # -- persistence

    def save_pretrained(self, path: str | Path) -> None:
        """Folder: decoder_config.json, head.safetensors, adapter/ (PEFT); written atomically."""
        path = Path(path)
        with atomic_directory(path) as partial:
            head = {
                k: v.detach().float().cpu().contiguous() for k, v in self.head.state_dict().items()
            }
            save_file(head, partial / HEAD_FILE)
            self.llm.save_pretrained(partial / ADAPTER_DIR)
            (partial / CONFIG_FILE).write_text(
                json.dumps(
                    {
                        "decoder": self.config.to_dict(),
                        "base_model": self.identity,
                        "history": self.history,
                        "trained_on": self.trained_on,
                    },
                    indent=2,
                )
            )

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        base_model: str | None = None,
        device: str | torch.device = "cpu",
    ) -> CaptionDecoder:
        """Load a saved decoder; ``base_model`` overrides where the base LLM is found."""
        from peft import PeftModel

        path = Path(path)
        remedy = "delete this decoder version and rerun decoder_training"
        saved = read_json_object(path / CONFIG_FILE, remedy)
        missing = [key for key in ("decoder", "base_model") if key not in saved]
        if missing:
            raise ValueError(f"{path / CONFIG_FILE} lacks {missing}: {remedy}")
        if not (path / ADAPTER_DIR / "adapter_config.json").is_file():
            raise ValueError(
                f"{path} has no LoRA adapter ({ADAPTER_DIR}/adapter_config.json): {remedy}"
            )
        config = DecoderConfig(**saved["decoder"])
        if base_model is not None:
            config = DecoderConfig(**{**config.to_dict(), "base_model": base_model})
        device = torch.device(device)
        base, tokenizer = load_base_model(
            config.base_model, resolve_dtype(config.precision, device)
        )
        identity = model_identity(base, config.base_model)
        check_identity(saved["base_model"], identity)
        llm = PeftModel.from_pretrained(base, path / ADAPTER_DIR)
        head_state, _ = read_safetensors(path / HEAD_FILE, remedy)
        head = cls._head(config, identity["hidden_size"])
        last = head_state[f"net.{len(head.net) - 1}.weight"]
        if last.shape[0] != head.out_features:
            raise DecoderMismatchError(
                f"saved prefix head produces {last.shape[0]} values, but "
                f"{config.base_model!r} needs {head.out_features} "
                f"({head.prefix_length} x hidden size {identity['hidden_size']})"
            )
        head.load_state_dict(head_state)
        decoder = cls(config, llm, tokenizer, head, identity).to(device)
        decoder.history = saved.get("history", [])
        decoder.trained_on = saved.get("trained_on", {})
        decoder.eval()
        return decoder
