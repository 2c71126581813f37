"""``python -m diffusion_link.project.versions``: run the command line."""

import sys

from diffusion_link.project.versions.cli import main

sys.exit(main())
