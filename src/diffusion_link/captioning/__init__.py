"""Caption your own audio with a trained encoder, bridge and decoder (plain PyTorch, no Kedro).

:class:`Captioner` is the API; :mod:`.cli` the ``diffusion-link-caption`` command; the Kedro
``captioning`` pipeline (:mod:`diffusion_link.pipelines.captioning`) runs it over a folder.
"""

from diffusion_link.captioning.captioner import (
    CAPTION_COLUMNS,
    Caption,
    Captioner,
    ModelChainError,
    check_chain,
    warn_on_other_bridge,
)
from diffusion_link.captioning.inputs import AudioInput, InputChecks, audio_files, check_input

__all__ = [
    "CAPTION_COLUMNS",
    "AudioInput",
    "Caption",
    "Captioner",
    "InputChecks",
    "ModelChainError",
    "audio_files",
    "check_chain",
    "check_input",
    "warn_on_other_bridge",
]
