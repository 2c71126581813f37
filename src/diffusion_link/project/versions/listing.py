"""The listing of every versioned entry: text for people, JSON for scripts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from diffusion_link.project.versions.folders import Entry, human_size


def print_listing(entries: Sequence[Entry], out: TextIO = sys.stdout) -> None:
    """Every entry, its versions newest first with their sizes, and totals."""
    for entry in entries:
        target = entry.target
        print(f"{target.name}  ({target.path})", file=out)
        for i, version in enumerate(entry.versions):
            latest = "  latest" if i == 0 else ""
            print(f"  {version.name}  {human_size(version.size):>10}{latest}", file=out)
        for folder in entry.incomplete:
            print(f"  {folder.name}  incomplete (no {target.filename}), ignored", file=out)
        for folder in entry.leftovers:
            print(f"  {folder.name}  left by an interrupted prune", file=out)
        print(f"  {len(entry.versions)} version(s), {human_size(entry.size)}", file=out)
    total = sum(entry.size for entry in entries)
    count = sum(len(entry.versions) for entry in entries)
    print(
        f"total: {len(entries)} versioned entries, {count} version(s), {human_size(total)}",
        file=out,
    )


def listing_json(entries: Sequence[Entry]) -> dict[str, Any]:
    """The listing as plain data (``list --json``)."""
    return {
        "entries": [
            {
                "name": entry.target.name,
                "path": str(entry.target.path),
                "versions": [{"version": v.name, "bytes": v.size} for v in entry.versions],
                "incomplete": [p.name for p in entry.incomplete],
                "bytes": entry.size,
            }
            for entry in entries
        ],
        "bytes": sum(entry.size for entry in entries),
        "versions": sum(len(entry.versions) for entry in entries),
    }
