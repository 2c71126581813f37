"""A tiny random LLaMA and a BPE tokenizer built offline: the LLaMA-2 code path in seconds."""

from __future__ import annotations

from pathlib import Path

import torch

CAPTIONS = [
    "a dog barks while cars pass by",
    "a man speaks and a bird chirps",
    "water runs from a tap into a sink",
    "a crowd cheers and applauds loudly",
    "an engine idles and then revs up",
    "rain falls on a metal roof",
    "a baby cries and a woman talks",
    "birds sing in the morning wind",
]


def make_tokenizer(path: Path, pad: bool = False):
    """A byte-level BPE trained on CAPTIONS with <s>/</s> (and optionally <pad>)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "</s>"] + (["<pad>"] if pad else [])
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CAPTIONS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        **({"pad_token": "<pad>"} if pad else {}),
    )
    fast.save_pretrained(path)
    return fast


def make_tiny_llama(path: Path, seed: int = 0, hidden: int = 64, pad: bool = False) -> Path:
    """Save a random 2-layer LlamaForCausalLM (hidden 64) and its tokenizer to ``path``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(path, pad=pad)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def tiny_config(model: Path, dim: int = 16, dropout: float = 0.0):
    """A zero-shot decoder on ``model``: LoRA r 4 on q/v, fp32, captions of <= 12 tokens."""
    from diffusion_link.decoder.config import DecoderConfig

    return DecoderConfig(
        base_model=str(model),
        mode="zero_shot",
        embedding_dim=dim,
        max_caption_tokens=12,
        lora={"r": 4, "alpha": 8, "dropout": dropout, "target_modules": ["q_proj", "v_proj"]},
        precision="fp32",
    )
