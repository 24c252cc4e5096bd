"""The ``pelsvae`` command line."""
from __future__ import annotations

import argparse
import logging
import sys

from .paths import DataRootError


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", help="survey data folder (default: $PELSVAE_DATA or ../shared/data)")
    parser.add_argument("--cache-dir", help="cache folder (default: $PELSVAE_CACHE or ~/.cache/pelsvae)")
    parser.add_argument("--n-points", type=int, default=300,
                        help="points per resampled curve (default 300, as in the paper)")


def _preprocess_config(args):
    from .data.preprocess import PreprocessConfig
    return PreprocessConfig(n_points=args.n_points)


def cmd_data_build(args) -> int:
    from .data import cache
    if not args.force and cache.is_current(args.data_root, args.cache_dir, _preprocess_config(args)):
        print("cache is current; use --force to rebuild")
        return 0
    built = cache.build(args.data_root, args.cache_dir, _preprocess_config(args), workers=args.workers)
    kept = int((built.stars["status"] == cache.KEPT).sum())
    print(f"{len(built.stars)} curves read, {kept} kept; cache in {built.directory} "
          f"({built.manifest['build_seconds']} s)")
    return 0


def cmd_data_summary(args) -> int:
    from .data import cache, summary
    from .data.dataset import DatasetConfig
    loaded = cache.load(args.data_root, args.cache_dir, _preprocess_config(args))
    print(summary.render(loaded, DatasetConfig(n_points=args.n_points, seed=args.seed)))
    return 0


def cmd_train(args) -> int:
    import torch
    from .model import recipe
    torch.set_num_threads(args.threads or torch.get_num_threads())
    loaded = recipe.load_recipe(args.config)
    folder = recipe.run(loaded, args.data_root, args.cache_dir, output=args.output, resume=args.resume)
    print(f"model written to {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pelsvae", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="read, clean and cache the survey data")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    build = data_commands.add_parser("build", help="build the Parquet cache of cleaned curves")
    _data_options(build)
    build.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    build.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    build.set_defaults(func=cmd_data_build)
    summ = data_commands.add_parser("summary", help="print the per-class table and what was dropped")
    _data_options(summ)
    summ.add_argument("--seed", type=int, default=42, help="seed of the splits and augmentation")
    summ.set_defaults(func=cmd_data_summary)

    train = commands.add_parser("train", help="train a model from a recipe (train/*.toml)")
    train.add_argument("--config", required=True, help="recipe file, e.g. train/default.toml")
    train.add_argument("--data-root", help="survey data folder")
    train.add_argument("--cache-dir", help="cache folder")
    train.add_argument("--output", help="model folder to write (default: the recipe's)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    train.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (DataRootError, ValueError) as error:
        print(f"pelsvae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
