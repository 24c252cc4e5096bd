"""The evaluation's numbers as Markdown: one formatter for the CLI's ``report.md`` and the
dashboard's Model tab, so the two always say the same thing."""
from __future__ import annotations

import math

import pandas as pd

from .suite import PERIOD_NEIGHBOURS

#: File names of the figures :mod:`.figures` draws, as the report links them.
MORPH_FIGURE, SHAPES_FIGURE = "rr_lyrae_morph.png", "rr_lyrae_shapes.png"


def closer(row: dict, unit: str) -> str:
    """"62 % (p = 0.003)": how often, and how surely, the generated curves beat the template."""
    share, p = row.get("beats_template" + unit), row.get("p_vs_template" + unit)
    if share is None:  # an evaluation written before these columns existed
        return "–"
    return f"{share:.0%}" + (f" (p = {p:.2g})" if math.isfinite(p) else "")


def headline_lines(results: dict, regressor: str | None = None) -> list[str]:
    """Headline numbers of an evaluation as Markdown; physics -> curve for ``regressor``
    (default: the one the evaluation's other tests used)."""
    regressor = regressor or results["regressor"]
    physics = {row["class"]: row for row in results["physics_to_curve"] if row["regressor"] == regressor}
    two_sample = {row["class"]: row["accuracy"] for row in results["two_sample"]}
    lines = ["", f"Evaluation on real test stars (`pelsvae evaluate`, regressor {regressor}): "
             "each star generated from its own parameters, median RMSE against its real curve "
             "(normalised); the share of stars whose generated curve is closer than the "
             "template, in shape and in magnitudes (shape times amplitude), with the Wilcoxon "
             "p-value of the difference; and a classifier's accuracy telling real from generated "
             "curves (0.5: indistinguishable).", "",
             "| class | stars | generated | template | closer in shape (p) | closer in magnitudes (p) "
             f"| two-sample accuracy ({results['regressor']}) |", "|---|---|---|---|---|---|---|"]
    for cls, row in sorted(physics.items()):
        accuracy = f"{two_sample[cls]:.2f}" if cls in two_sample else "–"
        lines.append(f"| {cls} | {row['n']} | {row['generated']:.3f} | {row['template']:.3f} | "
                     f"{closer(row, '')} | {closer(row, '_mag')} | {accuracy} |")
    tstr = results["tstr"]
    lines += ["", f"A classifier trained only on generated curves labels real test curves with "
              f"accuracy {tstr['trained_on_synthetic']:.3f} ({tstr['trained_on_real']:.3f} when "
              f"trained on real ones); generated curves lie "
              f"{results['memorisation']['ratio']:.2f}x as far from their nearest training curve "
              f"as real test curves do; 100 curves generate in {results['generate_100_ms']:.1f} ms."]
    return lines


def training_lines(metadata: dict, name: str) -> list[str]:
    """What a model was trained on, per class and survey, and its test reconstruction error
    against the class template, from the model folder's metadata."""
    lines = [f"### Model `{name}`", "",
             f"Trained on: {', '.join(metadata.get('trained_on', {}).get('surveys', []))}", "",
             "| class | survey | train curves (real) | test curves |", "|---|---|---|---|"]
    counts = metadata.get("trained_on", {}).get("counts", {})
    for cls, surveys in sorted(counts.get("train", {}).items()):
        for survey, kinds in sorted(surveys.items()):
            test = counts.get("test", {}).get(cls, {}).get(survey, {}).get("real", 0)
            lines.append(f"| {cls} | {survey} | {kinds.get('real', 0)} | {test} |")
    by_class = {}
    for row in metadata.get("metrics", {}).get("test_reconstruction", []):
        if row["method"] in ("vae", "median_template"):
            by_class.setdefault(row["class"], {})[row["method"]] = row["rmse_norm"]
    if by_class:
        lines += ["", "Test-split reconstruction RMSE (normalised units, median per class):", "",
                  "| class | VAE | median template |", "|---|---|---|"]
        for cls, row in sorted(by_class.items()):
            lines.append(f"| {cls} | {row.get('vae', math.nan):.3f} | "
                         f"{row.get('median_template', math.nan):.3f} |")
    return lines


def _physics_table(phys: pd.DataFrame, unit: str) -> str:
    """The physics -> curve columns of one unit (``suite.UNITS``), named without their suffix."""
    columns = ["generated", "template", "period_neighbours", "beats_template", "p_vs_template",
               "neighbours_beat_template", "p_neighbours"]
    table = phys[["class", "n", *(c + unit for c in columns), "regressor"]]
    return table.rename(columns={c + unit: c for c in columns}).round(3).to_string(index=False)


def report_markdown(results: dict) -> str:
    """The whole report (``report.md``): the headline the dashboard shows, then every measure."""
    reconstruction = pd.DataFrame(results["reconstruction"])
    recon = reconstruction.pivot(index="class", columns="method", values="rmse_norm")
    excess = reconstruction.pivot(index="class", columns="method", values="excess_norm")
    phys = pd.DataFrame(results["physics_to_curve"])
    lines = ["# pelsvae evaluation", "", "All numbers on real test stars never used in training.", "",
             "## Headline", *headline_lines(results), "",
             "## 1. Reconstruction RMSE (normalised units, median per class)", "",
             "```", recon.round(3).to_string(), "```", "",
             "Error left after removing each curve's quoted noise in quadrature, "
             "sqrt(mean(RMSE^2 - floor^2)) per class (0: at the noise):", "",
             "```", excess[["vae", "median_template", "fourier_4"]].round(3).to_string(), "```", "",
             "## 2. Physics -> curve RMSE (generated from the star's own parameters)", "",
             "Median over test stars. `generated`: median of 10 curves generated from the star's "
             "parameters; `template`: the class's median curve; `period_neighbours`: the median "
             f"curve of the {PERIOD_NEIGHBOURS} training curves (at most a fifth of the class) "
             "nearest in period, the best the period alone can do without a model. "
             "`beats_template`: the share of stars whose generated curve is closer than the "
             "template; `p_vs_template`: the Wilcoxon signed-rank p-value of the per-star "
             "differences. `neighbours_beat_template`, `p_neighbours`: the same for the period "
             "neighbours; where they do not beat the template either, the period carries no "
             "shape information that a model could learn from these stars.", "",
             "Normalised units (the shape):", "", "```", _physics_table(phys, ""), "```", "",
             "Magnitudes without the mean (shape times amplitude, the generated curve as "
             "`generate` returns it; the template and the neighbours scaled by their median "
             "amplitude):", "", "```", _physics_table(phys, "_mag"), "```", "",
             "## 3. Classifier two-sample test (accuracy; 0.5 = indistinguishable)", "",
             "```", pd.DataFrame(results["two_sample"]).round(3).to_string(index=False), "```", "",
             "## 4. Train on synthetic, test on real", "", f"`{results['tstr']}`", "",
             "## 5. RR Lyrae morph", "", f"![morph]({MORPH_FIGURE})", "", f"![shapes]({SHAPES_FIGURE})", "",
             "## 6. Cadence invariance and memorisation", "",
             f"Largest decode difference, 30-1000 phases vs dense grid: {results['cadence_invariance']:.2e}", "",
             f"Nearest-training-curve distance: `{results['memorisation']}`", "",
             "## 7. Timing", "", f"Generating 100 curves at 300 phases: {results['generate_100_ms']:.1f} ms (1 thread)",
             "", "## Table 3 analogue: physics -> latent regressors on the by-star validation split", "",
             "R^2 compares across models; RMSE is in each model's own latent units.", "",
             "```", pd.DataFrame(results["regressor_validation"]).round(3).to_string(index=False), "```"]
    return "\n".join(lines) + "\n"
