"""The paper's frozen LAION-CLAP encoder, through the ``laion-clap`` package.

One concept per module: :mod:`.settings` (how it is configured), :mod:`.network` (laion-clap's
network, built offline), :mod:`.checkpoint` (finding and loading weights safely),
:mod:`.tokenizer` (the checked RoBERTa tokenizer) and :mod:`.encoder` (texts and audio files
to embeddings).
"""

from diffusion_link.encoders.laion_clap.checkpoint import (
    HF_REPO,
    OBSOLETE_KEYS,
    OFFICIAL_CHECKPOINTS,
    check_official_checkpoint,
    checkpoint_identity,
    load_checkpoint_into,
    load_clap_state_dict,
    locate_checkpoint,
    resolve_checkpoint,
)
from diffusion_link.encoders.laion_clap.encoder import LaionClapEncoder
from diffusion_link.encoders.laion_clap.errors import AudioDecodeError, LaionClapError
from diffusion_link.encoders.laion_clap.network import (
    ROBERTA_BASE_CONFIG,
    build_clap_model,
    forced_hub_offline,
    import_clap_module,
    text_branch_from_config,
)
from diffusion_link.encoders.laion_clap.settings import LaionClapSettings
from diffusion_link.encoders.laion_clap.tokenizer import CONTEXT_LENGTH, PROBE_TEXTS, load_tokenizer

__all__ = [
    "CONTEXT_LENGTH",
    "HF_REPO",
    "OBSOLETE_KEYS",
    "OFFICIAL_CHECKPOINTS",
    "PROBE_TEXTS",
    "ROBERTA_BASE_CONFIG",
    "AudioDecodeError",
    "LaionClapEncoder",
    "LaionClapError",
    "LaionClapSettings",
    "build_clap_model",
    "check_official_checkpoint",
    "checkpoint_identity",
    "forced_hub_offline",
    "import_clap_module",
    "load_checkpoint_into",
    "load_clap_state_dict",
    "load_tokenizer",
    "locate_checkpoint",
    "resolve_checkpoint",
    "text_branch_from_config",
]
