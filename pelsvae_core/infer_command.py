"""``pelsvae infer CURVE.csv [CURVE.csv ...] [--band B] [--distance-pc D] --json OUT [--plot OUT.png]``.

Registered by the ``pelsvae`` command through :func:`add_parser`, which loads nothing heavy
(the inference and torch are imported when the command runs). Each CSV has a header
naming its columns: time, mag, err and optionally band (:data:`.inference.observed.COLUMNS` lists
the names read). The model is loaded once; one file gives a JSON object, several a JSON
list in input order. The JSON (and the PNG) are written atomically
(:mod:`pelsvae_core.atomic`): a reader sees the old file or the new one, and nothing is
written when any curve fails.
"""
from __future__ import annotations

import argparse
import io
import json
from typing import TYPE_CHECKING

from .atomic import atomic_path, write_text

if TYPE_CHECKING:
    from .inference.inverse import Inference


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``infer`` command to the ``pelsvae`` command's subparsers."""
    parser = subparsers.add_parser(
        "infer", help="class, mode, period and physics of observed light curves (CSV)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curves", nargs="+", metavar="CURVE.csv",
                        help="columns time (days), mag, err, and optionally band")
    parser.add_argument("--model", help="model folder (default: models/default)")
    parser.add_argument("--band", help="band of every point of the files without a band column "
                                       "(a band column is used where there is one)")
    parser.add_argument("--distance-pc", type=float, help="distance (pc), for the absolute magnitude")
    parser.add_argument("--json", required=True, metavar="OUT", help="JSON file to write")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="also draw each curve folded with its fit, and its O-C diagram")
    parser.set_defaults(func=run)
    return parser


def _infer_file(model, path: str, band: str | None, distance_pc: float | None) -> Inference:
    from .inference.inverse import analyse
    from .inference.observed import read_curve

    time, mag, err, bands = read_curve(path)
    try:
        return analyse(model, time, mag, err, bands if bands is not None else band, distance_pc)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def figure_png(inferences: list[Inference], names: list[str]) -> bytes:
    """One row per curve: the points folded on the inferred period, each band with its fit,
    and beside them the fit's O-C diagram (each observing season's timing against the fit:
    a constant period puts them on a line; :class:`.inference.fit.OMinusC`)."""
    import numpy as np
    from matplotlib import patheffects
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 2.6 * len(inferences)), layout="constrained")
    grid_spec = figure.add_gridspec(len(inferences), 2, width_ratios=(2.6, 1))
    for i, (found, name) in enumerate(zip(inferences, names)):
        axes = figure.add_subplot(grid_spec[i, 0])
        best, obs = found.best, found.observed
        grid = np.linspace(0, 1, 200)
        for band in obs.bands:
            m = obs.in_band(band)
            phase = np.mod(best.frequency * (obs.time[m] - best.t_ref) + best.phase, 1.0)
            points = axes.errorbar(phase, obs.mag[m], obs.err[m], fmt=".", ms=3, lw=0.5, alpha=0.45,
                                   label=band)
            times = best.t_ref + (grid - best.phase) / best.frequency
            # on top and outlined, so that a well-sampled curve's points cannot hide the fit
            axes.plot(grid, found.curve(times, band), color=points[0].get_color(), lw=1.8, zorder=3,
                      path_effects=[patheffects.withStroke(linewidth=3.5, foreground="white")],
                      label=f"{band} fit")
        r = found.result
        axes.invert_yaxis()
        axes.set_xlabel("phase")
        axes.set_ylabel("magnitude")
        subtype = f" {r['subtype']}" if r["subtype"] else ""
        axes.set_title(f"{name}: {r['class']}{subtype} ({r['class_probabilities'][r['class']]:.2f}), "
                       f"P = {r['period']:.6g} d", fontsize=9)
        axes.legend(fontsize=7, loc="best")
        _o_minus_c_panel(figure.add_subplot(grid_spec[i, 1]), best)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110)
    return out.getvalue()


def _o_minus_c_panel(axes, best) -> None:
    """The fit's O-C diagram in days against time, or why there is none."""
    from .inference.fit import NO_DIAGRAM_REASON

    diagram = best.o_c
    if diagram.seasons == 0:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no O−C diagram:\n" + NO_DIAGRAM_REASON.replace(" or ", "\nor "),
                  ha="center", va="center", fontsize=8, transform=axes.transAxes)
        return
    axes.axhline(0, color="grey", lw=0.8)
    axes.errorbar(diagram.time, *diagram.days(best.frequency), fmt="o", ms=4, lw=1, color="black")
    axes.set_xlabel("time (d)")
    axes.set_ylabel("O − C (d)")
    axes.set_title(f"O−C of {diagram.seasons} {diagram.chunk_name}: a constant period\nexplains "
                   f"them with p = {diagram.constant_period_p:.2g}", fontsize=8)


def run(args) -> int:
    import torch

    from .api import load_model

    torch.set_num_threads(1)
    model = load_model(args.model)
    found = [_infer_file(model, path, args.band, args.distance_pc) for path in args.curves]
    results = [f.result for f in found]
    payload = results[0] if len(results) == 1 else results
    write_text(args.json, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    if args.plot:
        with atomic_path(args.plot) as tmp:
            tmp.write_bytes(figure_png(found, args.curves))
    for path, r in zip(args.curves, results):
        interval = r["period_interval"]
        print(f"{path}: {r['class']} ({r['class_probabilities'][r['class']]:.2f})"
              f"{' ' + r['subtype'] if r['subtype'] else ''}, P = {r['period']:.6g} d "
              f"[{interval['p16']:.6g}, {interval['p84']:.6g}]"
              + (f", Teff {r['teff']['median']:.0f} K [{r['teff']['p16']:.0f}, {r['teff']['p84']:.0f}]"
                 if r["teff"] else ""))
    print(f"written to {args.json}" + (f" and {args.plot}" if args.plot else ""))
    return 0
