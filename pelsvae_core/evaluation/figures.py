"""The evaluation's figures as PNG bytes (matplotlib, no display needed)."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .fidelity import SPREAD_TOLERANCE
from .morph import morph_panels
from .report import HERTZSPRUNG_FIGURE, RR_LYRAE_FIGURE, SPREAD_FIGURE

MORPH_COLOUR = "#c0399b"


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def morph_figure(curves: pd.DataFrame, shapes: pd.DataFrame) -> bytes:
    """Generated RR Lyrae across Teff, one row per regressor (:func:`morph_panels`)."""
    plt = _pyplot()
    panels = morph_panels(curves, shapes)
    rows, columns = max(p.row for p in panels) + 1, max(p.column for p in panels) + 1
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.2 * rows), sharex=True,
                             squeeze=False)
    for panel in panels:
        ax = axes[panel.row, panel.column]
        ax.plot(panel.phase, panel.mag, color=MORPH_COLOUR)
        ax.invert_yaxis()
        ax.set_title(panel.title, fontsize=7)
        if panel.column == 0:
            ax.set_ylabel(panel.regressor)
    fig.suptitle("Generated RR Lyrae across Teff (one row per regressor)")
    fig.tight_layout()
    return _png(fig)


def shapes_figure(shapes: pd.DataFrame, real: pd.DataFrame) -> bytes:
    """R21, phi31 and skewness of the generated morph against Teff, beside the real stars'."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, quantity in zip(axes, ("R21", "phi31", "skewness")):
        for regressor, part in shapes.groupby("regressor", sort=False):
            ax.plot(part["teff"], part[quantity], marker="o", label=regressor)
        ax.plot(real["teff"], real[quantity], color="black", marker="s", label="real (Stripe 82 g)")
        ax.set_xlabel("Teff (K)")
        ax.set_title(quantity)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


REAL_COLOUR, GENERATED_COLOUR = "#333333", MORPH_COLOUR
MODE_COLOURS = {"RRab": "#1f77b4", "RRc": "#d62728"}


def _band_panel(ax, bins: pd.DataFrame, quantity: str, colour: str, name: str = "") -> None:
    """One quantity against log P: the real 16-84 % band and median per bin, and the generated
    medians (filled where inside the band); ``name`` (e.g. a mode) in the legend."""
    part = bins[bins["quantity"] == quantity]
    centre = (part["log_p_lo"] + part["log_p_hi"]) / 2
    ax.fill_between(centre, part["real_p16"], part["real_p84"], color=colour, alpha=0.2, lw=0)
    ax.plot(centre, part["real_median"], color=colour, label=f"real{name}, median and 16-84 %")
    inside = part["inside"].fillna(False).astype(bool)
    ax.scatter(centre[inside], part["generated_median"][inside], color=colour, marker="o", zorder=3,
               label=f"generated{name}, inside the band")
    ax.scatter(centre[~inside], part["generated_median"][~inside], facecolor="white",
               edgecolor=colour, marker="o", zorder=3, label=f"generated{name}, outside")
    ax.set_xlabel("log P (d)")
    ax.set_title(quantity)


def hertzsprung_figure(result: dict) -> bytes:
    """R21, phi21, R31 against log P: OGLE-III LMC F-mode Cepheids and generated ones."""
    plt = _pyplot()
    bins = pd.DataFrame(result["bins"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, quantity in zip(axes, ("R21", "phi21", "R31")):
        _band_panel(ax, bins, quantity, REAL_COLOUR)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Cepheid Hertzsprung progression, {result['band']} band: OGLE-III LMC F-mode "
                 f"(real) and generated "
                 f"(generated medians inside the band: {result['fraction_inside']['all']:.0%} of bins)")
    fig.tight_layout()
    return _png(fig)


def rr_lyrae_figure(result: dict) -> bytes:
    """phi21, R21 and amplitude (the Bailey diagram) against log P, per mode: OGLE-IV bulge
    (I) and generated RR Lyrae."""
    plt = _pyplot()
    bins = pd.DataFrame(result["bins"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, quantity in zip(axes, ("phi21", "R21", "amplitude")):
        for mode, part in bins.groupby("mode"):
            _band_panel(ax, part, quantity, MODE_COLOURS.get(mode, REAL_COLOUR), f" {mode}")
    axes[2].set_title("amplitude (mag): Bailey diagram")
    axes[0].legend(fontsize=6)
    fig.suptitle(f"RR Lyrae: OGLE-IV bulge in {result['band_real']}, generated in "
                 f"{result['band_generated']}")
    fig.tight_layout()
    return _png(fig)


def spread_figure(rows: list[dict], tolerance: float = SPREAD_TOLERANCE) -> bytes:
    """Generated against real 16-84 % widths, one point per class, band and period bin, with
    the 1:1 line, the target band and, hollow, the control of other real stars in the
    generated ones' place."""
    plt = _pyplot()
    frame = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (quantity, part) in zip(axes, frame.groupby("quantity", sort=False)):
        if "other_stars" in part:
            ax.scatter(part["real"], part["other_stars"], s=18, facecolors="none", edgecolors="grey",
                       label="control: other real stars")
        for cls, points in part.groupby("class"):
            ax.scatter(points["real"], points["generated"], label=cls, s=18)
        span = np.array([part[["real", "generated"]].min().min(), part[["real", "generated"]].max().max()])
        ax.plot(span, span, color="black", lw=1)
        ax.fill_between(span, span * (1 - tolerance), span * (1 + tolerance), color="grey", alpha=0.2)
        ax.set(xscale="log", yscale="log", xlabel="real width", ylabel="generated width",
               title=f"{quantity}: 16-84 % width")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def fidelity_figures(results: dict) -> dict[str, bytes]:
    """The fidelity suite's figures by the file names the report links, for the measures that
    ran."""
    figures = {SPREAD_FIGURE: spread_figure(results["spread"])}
    if "skipped" not in results["hertzsprung"]:
        figures[HERTZSPRUNG_FIGURE] = hertzsprung_figure(results["hertzsprung"])
    if "skipped" not in results["rr_lyrae"]:
        figures[RR_LYRAE_FIGURE] = rr_lyrae_figure(results["rr_lyrae"])
    return figures
