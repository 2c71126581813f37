"""``python -m diffusion_link.captioning AUDIO...``: the ``diffusion-link-caption`` command."""

import sys

from diffusion_link.captioning.cli import main

sys.exit(main())
