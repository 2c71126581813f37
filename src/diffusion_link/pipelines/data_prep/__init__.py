"""``data_prep``: AudioCaps CSVs and audio -> ``clips``, ``captions``, ``data_quality``."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
