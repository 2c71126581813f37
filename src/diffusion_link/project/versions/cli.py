"""The command line: ``python -m diffusion_link.project.versions {list,prune}``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from diffusion_link.project.versions.catalog import catalog_config, versioned_targets
from diffusion_link.project.versions.folders import scan_all
from diffusion_link.project.versions.listing import listing_json, print_listing
from diffusion_link.project.versions.pruning import DEFAULT_KEEP, prune


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m diffusion_link.project.versions {list,prune}``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m diffusion_link.project.versions",
        description="List or prune the versions of the versioned catalog entries.",
    )
    parser.add_argument(
        "--project-dir", type=Path, default=Path.cwd(), help="the Kedro project (default: .)"
    )
    parser.add_argument(
        "--env", default=None, help="configuration environment (default: KEDRO_ENV or local)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every versioned entry, newest version first")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    pruning = commands.add_parser("prune", help="delete all but the newest N versions per entry")
    pruning.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        help=f"versions kept per entry (default {DEFAULT_KEEP})",
    )
    pruning.add_argument(
        "--dry-run", action="store_true", help="print what would go, delete nothing"
    )
    args = parser.parse_args(argv)
    if args.command == "prune" and args.keep < 1:
        parser.error("--keep must be at least 1: the newest version is never deleted")
    project_dir = args.project_dir.resolve()
    notes = sys.stderr
    entries = scan_all(versioned_targets(catalog_config(project_dir, args.env), project_dir, notes))
    if args.command == "list":
        if args.json:
            sys.stdout.write(json.dumps(listing_json(entries), indent=2) + "\n")
        else:
            print_listing(entries)
        return 0
    prune(entries, keep=args.keep, dry_run=args.dry_run)
    return 0
