"""The ``data_prep`` parameter group (``conf/*/parameters_data_prep.yml``).

The group is the AudioCaps reader's own config, key for key: the settings and their
constraints are defined once, in :class:`~diffusion_link.data.audiocaps.AudioCapsConfig`.
"""

from __future__ import annotations

from diffusion_link.data.audiocaps import AudioCapsConfig

DataPrepParams = AudioCapsConfig

__all__ = ["DataPrepParams"]
