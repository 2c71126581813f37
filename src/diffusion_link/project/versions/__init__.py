"""List and prune the versions that versioned catalog entries accumulate.

Every ``kedro run`` writes a new version of every versioned catalog entry
(``versioned: true``) as ``<filepath>/<timestamp>/<basename of filepath>``, e.g.
``data/04_feature/text_embeddings.parquet/2026-12-02T08.53.53.540Z/text_embeddings.parquet`` or
``data/06_models/bridges/<bridge>/<timestamp>/<bridge>/`` (a whole model folder). Nothing
removes old ones::

    python -m diffusion_link.project.versions list                 # every entry, newest first, sizes
    python -m diffusion_link.project.versions prune --keep 3       # delete all but the newest 3
    python -m diffusion_link.project.versions prune --dry-run      # print what would go
    python -m diffusion_link.project.versions --env paper list     # the catalog of conf/base + conf/paper

What counts as a version, and what is never touched:

- The catalog is read through Kedro's config loader with the project's settings, for the same
  environment ``kedro run`` would use (``--env``, else ``KEDRO_ENV``, else ``local`` over
  ``base``). Dataset-factory entries (``"{bridge}.model"``) are resolved by matching their
  ``filepath`` against the folders that exist (each ``{placeholder}`` stands for one path
  component).
- A version is a real (not symlinked) folder directly under the entry's ``filepath`` whose
  name is a Kedro version timestamp and which holds the entry's file or folder. A version folder
  without it (a save still running, or one that was killed) is listed as incomplete and left
  alone, as is every other file or folder. Entries under ``data/01_raw`` are refused outright,
  and nothing outside an entry's own ``filepath`` is ever deleted.
- The newest complete version of every entry (the one ``kedro run`` loads) is always kept:
  ``--keep`` must be at least 1.
- Lineage is not recorded: this project does not write down which version of an input a saved
  output was made from (a run loads the latest version of each input, and no output's metadata
  names input versions). Pruning therefore cannot protect "the version another entry's latest
  was made from"; it protects the newest ``--keep`` of every entry. Keep more than 1 if you pin
  older versions with ``kedro run --load-versions``.

Deletion is crash-safe: a version folder is first renamed (one atomic rename in the same
folder) to ``.pruning-<version>-<random>``, then removed. If the removal is killed, what is
left has a name that is no Kedro version and that sorts below every real version (so ``kedro
run`` never loads it as the latest), and the next ``prune`` removes it.
"""

from diffusion_link.project.versions.catalog import catalog_config, versioned_targets
from diffusion_link.project.versions.cli import main
from diffusion_link.project.versions.folders import (
    Entry,
    Target,
    Version,
    folder_size,
    human_size,
    remove_folder,
    scan,
    scan_all,
)
from diffusion_link.project.versions.listing import listing_json, print_listing
from diffusion_link.project.versions.pruning import DEFAULT_KEEP, prune, to_prune

__all__ = [
    "DEFAULT_KEEP",
    "Entry",
    "Target",
    "Version",
    "catalog_config",
    "folder_size",
    "human_size",
    "listing_json",
    "main",
    "print_listing",
    "prune",
    "remove_folder",
    "scan",
    "scan_all",
    "to_prune",
    "versioned_targets",
]
