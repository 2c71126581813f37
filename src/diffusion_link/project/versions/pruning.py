"""Pruning: every entry's old versions deleted, the newest ``keep`` of each always kept."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from diffusion_link.project.versions.folders import (
    Entry,
    Version,
    folder_size,
    human_size,
    remove_folder,
)

DEFAULT_KEEP = 3


def to_prune(entry: Entry, keep: int) -> list[Version]:
    """The versions of ``entry`` that ``prune --keep keep`` deletes (all but the newest)."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest version is never deleted")
    return entry.versions[keep:]


def prune(
    entries: Sequence[Entry],
    keep: int = DEFAULT_KEEP,
    dry_run: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Delete all but the newest ``keep`` versions of every entry; the bytes freed (or to be).

    Leftovers of an interrupted prune are removed too. With ``dry_run`` nothing is deleted and
    every line says what would go.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest version is never deleted")
    verb = "would delete" if dry_run else "deleted"
    freed = 0
    for entry in entries:
        for leftover in entry.leftovers:
            size = folder_size(leftover)
            if not dry_run:
                remove_folder(leftover)
            freed += size
            print(f"{verb} {leftover} ({human_size(size)}, left by an interrupted prune)", file=out)
        for version in to_prune(entry, keep):
            if not dry_run:
                remove_folder(version.path)
            freed += version.size
            print(
                f"{verb} {entry.target.name} {version.name} ({human_size(version.size)})", file=out
            )
        for folder in entry.incomplete:
            print(
                f"left {entry.target.name} {folder.name}: incomplete (no {entry.target.filename})",
                file=out,
            )
    kept = sum(min(len(e.versions), keep) for e in entries)
    print(
        f"{'would free' if dry_run else 'freed'} {human_size(freed)}; kept {kept} version(s) "
        f"of {len(entries)} entries (newest {keep} of each)",
        file=out,
    )
    return freed
