"""The ``pelsvae`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

from .paths import DataRootError
from .infer_command import add_parser as add_infer_parser
from .simulate.run import add_parser as add_simulate_parser

#: Checked by the model when used (importing the regressors here would slow every start).
REGRESSOR_HELP = ("what draws latent vectors: the conditional density 'mdn' (the default where the "
                  "model has it), the kernel density 'kernel', or the paper's 'linear', 'rf' or 'mlp'")


def _source_options(parser: argparse.ArgumentParser, model: bool = False) -> None:
    """Where the survey data and cache are, and (``model``) which model folder."""
    if model:
        parser.add_argument("--model", help="model folder (default: models/default)")
    parser.add_argument("--data-root", help="survey data folder (default: $PELSVAE_DATA or ../shared/data)")
    parser.add_argument("--cache-dir", help="cache folder (default: $PELSVAE_CACHE or ~/.cache/pelsvae)")


def _data_options(parser: argparse.ArgumentParser) -> None:
    _source_options(parser)
    parser.add_argument("--n-points", type=int, default=300,
                        help="points per resampled curve (default 300, as in the paper)")


def _rebuild_command(commands, name: str, help_text: str, metavar: str, what: str, func,
                     from_cache: bool = False):
    """A ``pelsvae data`` command that rebuilds shipped tables from the survey data (through
    the cache of cleaned curves with ``from_cache``): ``--out`` writes them elsewhere,
    ``--check`` compares a rebuild with them (exit 1 if they differ)."""
    parser = commands.add_parser(name, help=help_text)
    if from_cache:
        _source_options(parser)
    else:
        parser.add_argument("--data-root", help="survey data folder (default: $PELSVAE_DATA or ../shared/data)")
    parser.add_argument("--out", metavar=metavar, help=f"write {what} here (default: the shipped ones)")
    parser.add_argument("--check", action="store_true",
                        help=f"rebuild and compare with --out or {what} shipped; exit 1 if they differ")
    parser.set_defaults(func=func)
    return parser


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


def cmd_data_cadences(args) -> int:
    import tempfile
    from .data import real_cadences
    out = args.out or real_cadences.TABLE_DIR
    if not args.check:
        for name, meta in real_cadences.build_tables(args.data_root, out).items():
            print(f"{name}: {meta['selection']['stored']} stars, {meta['epochs']['total']} epochs")
        return 0
    with tempfile.TemporaryDirectory() as fresh:
        real_cadences.build_tables(args.data_root, fresh)
        differences = real_cadences.compare_tables(fresh, out)
    print("\n".join(differences) or "the real cadence tables match a rebuild from the survey data")
    return 1 if differences else 0


def _write_or_check(args, rebuilt, default_out, write, matches, what: str, command: str,
                    wrote: str) -> int:
    """Write a shipped table rebuilt from the survey data to ``--out`` (default ``default_out``),
    or with ``--check`` compare it with the one there (``matches(path)``): 1 when they differ."""
    out = args.out or default_out
    if not args.check:
        write(rebuilt, out)
        print(f"wrote {out}: {wrote}")
        return 0
    same = matches(out)
    print(f"the {what} {'match' if same else 'DIFFER from'} a rebuild from the survey data"
          + ("" if same else f"; rebuild them with `pelsvae data {command}`"))
    return 0 if same else 1


def cmd_data_relations(args) -> int:
    from .data import relations
    rebuilt = relations.build_relations(args.data_root)
    return _write_or_check(args, rebuilt, relations.TABLE, relations.write_relations,
                           lambda out: relations.read_relations(out) == json.loads(json.dumps(rebuilt)),
                           "relations", "relations",
                           f"period-colour and period-luminosity relations of "
                           f"{', '.join(rebuilt['period'])}; SDSS {' '.join(rebuilt['sdss'])} - G "
                           f"against (V-I)_0")


def cmd_data_shapes(args) -> int:
    from .data import cache, real_shapes
    rebuilt = real_shapes.build_real_shapes(cache.load(args.data_root, args.cache_dir).kept)
    return _write_or_check(args, rebuilt, real_shapes.TABLE, real_shapes.write_real_shapes,
                           lambda out: real_shapes.read_real_shapes(out).matches(rebuilt),
                           "real curves' shapes", "shapes",
                           f"the Fourier fits of {len(rebuilt)} real curves "
                           f"({', '.join(sorted(rebuilt['survey'].unique()))})")


def cmd_train(args) -> int:
    import torch
    from . import pipeline
    from .model.recipe import load_recipe
    torch.set_num_threads(args.threads or torch.get_num_threads())
    recipe = load_recipe(args.config, args.set or [])
    folder = pipeline.train(recipe, args.data_root, args.cache_dir, output=args.output,
                            resume=args.resume)
    print(f"model written to {folder}")
    return 0


def cmd_fit_regressors(args) -> int:
    from . import pipeline
    table = pipeline.fit_physics(args.model, args.data_root, args.cache_dir, seed=args.seed)
    print("Validation error of the physics -> latent regressors (by-star val split)\n")
    print(table.pivot(index="class", columns="regressor", values="rmse_latent").round(3).to_string())
    return 0


def cmd_calibrate_inference(args) -> int:
    from . import pipeline
    from .inference.recalibration import CALIBRATION_STARS, describe
    per_group = CALIBRATION_STARS if args.per_group is None else args.per_group
    content = pipeline.calibrate_inference(args.model, args.data_root, per_group, args.seed)
    print("\n".join(describe(content)))
    return 0


def cmd_fit_noise(args) -> int:
    from . import pipeline
    from .evaluation.recovery import describe_noise
    for error_model in pipeline.fit_noise(args.model, args.data_root, args.cache_dir).values():
        print(describe_noise(error_model))
        for cls, scatter in error_model.scatter.items():
            print(f"  {cls}: real scatter = {scatter.describe()}")
    return 0


def cmd_generate(args) -> int:
    import torch
    from .api import load_model
    from .cadences import parse_times
    from .tables import write_table
    if args.set and not args.cadence:
        raise ValueError("--set changes a cadence's numbers; give the cadence with --cadence")
    cadence = ({"name": args.cadence, **dict(_number(kv) for kv in args.set or [])}
               if args.cadence else None)
    torch.set_num_threads(1)
    model = load_model(args.model)
    times = parse_times(Path(args.times).read_bytes()) if args.times else None
    with warnings.catch_warnings(record=True) as caught:  # e.g. a --teff the class ignores
        table = model.generate(args.cls, teff=args.teff, abs_mag=args.abs_mag, period=args.period,
                               times=times, cadence=cadence, n_samples=args.n_samples,
                               regressor=args.regressor, band=args.band, distance_pc=args.distance_pc,
                               noise=args.noise, seed=args.seed, subtype=args.subtype)
    for warning in caught:
        print(f"pelsvae: warning: {warning.message}", file=sys.stderr)
    write_table(table, args.out)
    print(f"{len(table)} rows ({args.n_samples} curves) written to {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    import torch
    from . import pipeline
    torch.set_num_threads(1)
    results = pipeline.evaluate(args.model, args.data_root, args.cache_dir, regressor=args.regressor,
                                compare=args.compare, out=Path(args.out) if args.out else None)
    two = {r["class"]: round(r["accuracy"], 2) for r in results["two_sample"]}
    print(f"two-sample accuracy per class (0.5 = indistinguishable): {two}")
    print(f"train on synthetic, test on real: {results['tstr']}")
    print(f"generate 100 curves: {results['generate_100_ms']:.1f} ms")
    print(f"report written to {args.out or Path(args.model or 'models/default') / 'report'}")
    return 0


def _number(setting: str) -> tuple[str, float]:
    """``NAME=NUMBER`` as (name, int or float); the cadence checks the name and the value."""
    key, sep, value = setting.partition("=")
    if not sep:
        raise ValueError(f"--set expects NAME=NUMBER, not {setting!r}")
    try:
        return key.strip(), float(value) if "." in value or "e" in value.lower() else int(value)
    except ValueError:
        raise ValueError(f"--set {key.strip()}: {value.strip()!r} is not a number") from None


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
    _rebuild_command(data_commands, "cadences", "rebuild the real survey cadence tables "
                     "(pelsvae_core/cadence_tables) from the Gaia DR3 and OGLE-IV data", "DIR",
                     "the tables", cmd_data_cadences)
    _rebuild_command(data_commands, "relations", "rebuild the colour and period-luminosity relations "
                     "(pelsvae_core/relation_tables) from the OGLE-III and Stripe 82 data", "FILE",
                     "the relations", cmd_data_relations)
    _rebuild_command(data_commands, "shapes", "rebuild the real curves' shapes the dashboard sets "
                     "beside generated ones (pelsvae_core/relation_tables) from the survey data",
                     "FILE", "the shapes", cmd_data_shapes, from_cache=True)

    train = commands.add_parser("train", help="train a model from a recipe (train/*.toml)")
    train.add_argument("--config", required=True, help="recipe file, e.g. train/default.toml")
    _source_options(train)
    train.add_argument("--output", help="model folder to write (default: the recipe's)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    train.add_argument("--set", action="append", metavar="SECTION.NAME=VALUE",
                       help="change a recipe setting, e.g. --set model.physics=false (repeatable)")
    train.set_defaults(func=cmd_train)

    fit = commands.add_parser("fit-regressors", help="fit the physics -> latent regressors of a model")
    _source_options(fit, model=True)
    fit.add_argument("--seed", type=int, default=0)
    fit.set_defaults(func=cmd_fit_regressors)

    recal = commands.add_parser("calibrate-inference", help="recalibrate the inverse problem's Teff "
                                "intervals on the validation split's stars of known Teff (~5 min)")
    _source_options(recal, model=True)
    recal.add_argument("--per-group", type=int, default=None,  # NumPy-free start: no import here
                       help="validation stars per group (default: "
                       "pelsvae_core.inference.recalibration.CALIBRATION_STARS)")
    recal.add_argument("--seed", type=int, default=0)
    recal.set_defaults(func=cmd_calibrate_inference)

    noise = commands.add_parser("fit-noise", help="fit a model's survey error models and real "
                                "scatter again (fit-regressors does it too)")
    _source_options(noise, model=True)
    noise.set_defaults(func=cmd_fit_noise)

    gen = commands.add_parser("generate", help="generate light curves from physical parameters")
    gen.add_argument("--model", help="model folder (default: models/default)")
    gen.add_argument("--class", dest="cls", required=True, help="e.g. RRLYR, CEP, ECL")
    gen.add_argument("--teff", type=float, help="effective temperature, K")
    gen.add_argument("--abs-mag", type=float, help="absolute magnitude (Gaia G)")
    gen.add_argument("--period", type=float, required=True, help="period, days")
    gen.add_argument("--cadence", help="uniform | ogle | gaia | lsst | ztf, or a real star's times: "
                                        "gaia-dr3-bulge | ogle4-bulge-I | ogle4-bulge-V "
                                        "(--seed picks the star)")
    gen.add_argument("--set", action="append", metavar="NAME=NUMBER",
                     help="change a cadence number, e.g. --set nights=60 (repeatable)")
    gen.add_argument("--times", help="CSV file of observation times (days): a column named "
                                      "time/mjd/hjd/jd/t, else the first; header optional")
    gen.add_argument("--n-samples", type=int, default=10)
    gen.add_argument("--regressor", help=REGRESSOR_HELP)
    gen.add_argument("--band")
    gen.add_argument("--subtype", help="e.g. RRab, RRc, F, 1O, EA, EW (the class's own; needs the "
                                       "density 'mdn' or 'kernel'); default: drawn from the real stars' mix "
                                       "at this physics and band")
    gen.add_argument("--distance-pc", type=float)
    gen.add_argument("--noise", nargs="?", const=True, default=False, metavar="SURVEY",
                     help="add survey photometric noise at each apparent magnitude (needs "
                          "--distance-pc); default survey: the one with most stars in the band")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="output .csv or .parquet")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("evaluate", help="measure a model on real test stars; JSON, PNG and Markdown")
    _source_options(ev, model=True)
    ev.add_argument("--out", metavar="DIR",
                    help="write evaluation.json, report.md and the figures into this folder "
                         "instead of the model folder's report/")
    ev.add_argument("--regressor", help=REGRESSOR_HELP)
    ev.add_argument("--compare", metavar="DIR",
                    help="another model folder (e.g. the cVAE) for the regressor table (paper Table 3)")
    ev.set_defaults(func=cmd_evaluate)

    add_simulate_parser(commands)
    add_infer_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (DataRootError, ValueError, OSError) as error:
        print(f"pelsvae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
