"""The evaluation's figures as PNG bytes (matplotlib, no display needed)."""
from __future__ import annotations

import io

import pandas as pd

from .morph import morph_panels

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
