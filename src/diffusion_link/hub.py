"""Whether the Hugging Face hub may be reached (the environment decides; no request is made)."""

from __future__ import annotations

import os


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
