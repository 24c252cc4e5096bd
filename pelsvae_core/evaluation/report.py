"""The evaluation's numbers as Markdown: one formatter for the CLI's ``report.md`` and the
dashboard's Model tab, so the two always say the same thing."""
from __future__ import annotations

import math

import pandas as pd

from ..data.relations import CLASS_PERIOD_ENDS, class_period_note
from .fidelity import (COVERED_GAP, FOLDS, GENERATED_DRAWS, MARGIN, MIN_BIN_STARS,
                       SLOPE_TOLERANCE, SPREAD_COLUMNS, SPREAD_TOLERANCE, TARGET_CURVES, mcnemar_p,
                       met_as_often)
from .inference import (CONSTANT_PERIOD_P, COVERAGE_TARGETS, MODE_TARGET, PERIOD_MIN_EPOCHS,
                        PERIOD_TARGET)
from .suite import PERIOD_NEIGHBOURS, SPREAD_SAMPLES

#: File names of the figures :mod:`.figures` draws, as the report links them.
MORPH_FIGURE, SHAPES_FIGURE = "rr_lyrae_morph.png", "rr_lyrae_shapes.png"
HERTZSPRUNG_FIGURE, RR_LYRAE_FIGURE = "hertzsprung.png", "rr_lyrae_fidelity.png"
SPREAD_FIGURE = "spread.png"


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
    two_sample = {row["class"]: row for row in results["two_sample"]}

    def accuracy(cls: str, key: str) -> str:
        value = two_sample.get(cls, {}).get(key)  # the control: evaluations from 2026-12 on
        return "–" if value is None else f"{value:.2f}"

    lines = ["", f"Evaluation on real test stars (`pelsvae evaluate`, regressor {regressor}): "
             "each star generated from its own parameters, median RMSE against its real curve "
             "(normalised); the share of stars whose generated curve is closer than the "
             "template, in shape and in magnitudes (shape times amplitude), with the Wilcoxon "
             "p-value of the difference; and a classifier's accuracy telling real from generated "
             "curves (0.5: indistinguishable), beside the same for real shapes drawn without "
             "knowing the star (another test star's own fit under this star's phases and "
             "noise: what a perfect generator would score).", "",
             "| class | stars | generated | template | closer in shape (p) | closer in magnitudes (p) "
             f"| two-sample accuracy ({results['regressor']}) | real shapes |",
             "|---|---|---|---|---|---|---|---|"]
    for cls, row in sorted(physics.items()):
        lines.append(f"| {cls} | {row['n']} | {row['generated']:.3f} | {row['template']:.3f} | "
                     f"{closer(row, '')} | {closer(row, '_mag')} | {accuracy(cls, 'accuracy')} | "
                     f"{accuracy(cls, 'other_star_fourier_8')} |")
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


def table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table; floats with three decimals, NaN as a dash."""
    def cell(value) -> str:
        if isinstance(value, float):
            return "–" if not math.isfinite(value) else f"{value:.3f}"
        return str(value)
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def _with_error(value: float, error: float | None) -> float | str:
    """``value ± error`` with three decimals, or the value alone (for :func:`table`) without one."""
    if error is None or not math.isfinite(error) or not math.isfinite(value):
        return value
    return f"{value:.3f} ± {error:.3f}"


def count(value) -> int | float:
    """A count for :func:`table`: an integer, or NaN (a dash) where there is none."""
    return int(value) if math.isfinite(value) else math.nan


def verdict(met) -> str:
    """A target's outcome in words."""
    return "met" if met else "not met"


def two_sample_lines(rows: list[dict]) -> list[str]:
    """The grouped two-sample test beside its references and its control, on all curves and
    on the well-covered ones, with the target per class."""
    def cells(r: dict, prefix: str) -> list:
        return [_with_error(r.get(prefix + k, float("nan")), r.get(prefix + k + "_se"))
                for k in ("accuracy", "reconstructed", "own_fourier_8", "other_star_fourier_8")]

    def target(r: dict) -> str:
        sigma = r.get("target_sigma", float("nan"))
        return r["target"] if r["target"] == "n/a" or not math.isfinite(sigma) else \
            f"{r['target']} ({sigma:+.1f} σ)"

    return [f"Folds grouped by star. `reconstructed`: encode -> decode at the same phases; `own "
            "Fourier 8`: the star's own 8th-order Fourier fit; `other star`: the own fit of "
            "another test star of the class and band, drawn at random, at this star's phases "
            "(the control: real shapes, drawn without this star's sampling, which is what a "
            "generator does); all plus Gaussian noise as large as the real curve's own scatter "
            "about its 8th-order fit (its quoted errors times its sqrt(reduced chi^2): quoted "
            "errors are too small for OGLE and Gaia and too large for Catalina). Every curve, "
            "real or rival, is compared from its own phase zero (the extremum of its order-6 "
            "fit, the rule the real curves were folded by), so that the real curves' folding "
            "on their own noise is not a tell. Then the same on the well-covered curves alone (no phase gap wider than "
            f"{COVERED_GAP}): a gap lets the test's order-6 fit follow the star's own points "
            "around it, which no generated curve can copy. Target (classes of at least "
            f"{TARGET_CURVES} test curves): generated and reconstructed <= own Fourier 8 + "
            f"{MARGIN} on all curves. Generated: the mean over {GENERATED_DRAWS} independent draws "
            f"of the curves. ± is the standard error over the {FOLDS} folds, and for generated "
            "curves also over the draws; beside the verdict, how far the worse of generated and "
            "reconstructed lies beyond the limit (negative: inside it) in standard errors of "
            "that difference: within about 2 σ, "
            "another evaluation of the same model can give the other verdict (the folds follow "
            "the test curves' order, the generated curves their seeds).", "",
            *table(["class", "test curves (stars)", "generated", "reconstructed", "own Fourier 8",
                    "other star", "covered curves", "generated", "reconstructed",
                    "own Fourier 8", "other star", "target"],
                   [[r["class"], f"{r['n_real']} ({r['n_stars']})", *cells(r, ""),
                     r.get("covered_n_real", 0), *cells(r, "covered_"), target(r)]
                    for r in rows])]


def spread_lines(rows: list[dict], validation: list[dict] | None = None) -> list[str]:
    """16-84 % widths, generated against real, per class, band and period bin, with the two
    controls: the bootstrap's perfect generator and another sample of real stars; and, where
    ``validation`` has them, the same rows for the validation split's real stars (the target on
    a second sample: how far a shortfall on the test stars is theirs)."""
    frame = pd.DataFrame(rows).reindex(columns=SPREAD_COLUMNS)   # reports older than a column
    has_chance, has_other = frame["perfect_chance"].notna().any(), frame["n_other"].gt(0).any()
    lines = ["16-84 % widths over the test curves of a class, band and log P bin (`real`) and over "
             f"{SPREAD_SAMPLES} curves generated from each one's own physics, observed at its phases "
             f"with its noise (`generated`); `per star`: the median width of one star's "
             f"{SPREAD_SAMPLES} curves (one generated family). Amplitudes in magnitudes (real: "
             f"max - min; generated: the predicted one). Target: generated within {SPREAD_TOLERANCE:.0%} of real; met in "
             f"{int(frame['met'].sum())} of {len(frame)} rows."
             + (" Control: a generator drawing from the real curves' own distribution would meet "
                f"it in about {frame['perfect_chance'].sum():.0f} (the real widths' "
                "sampling error, by bootstrap: `perfect chance` per row)." if has_chance else "")
             + (" A second control: the validation split's real stars with their own physics, binned alike "
                f"in the generated curves' place, meet it in {int(frame['other_met'].sum())} "
                "(`other stars`: their width): another sample of real stars, with its own mix of "
                "physics within each bin, is what a generator of real stars could be asked to match."
                + _against_other_stars(frame) if has_other else ""), ""]
    by_quantity = frame.groupby("quantity", sort=False)["ratio"].median()
    lines += [", ".join(f"median ratio {q}: {v:.2f}" for q, v in by_quantity.items()), ""]
    summary = frame.groupby("class").agg(rows=("met", "size"), met=("met", "sum"),
                                         chance=("perfect_chance", "sum"),
                                         **({"other": ("other_met", "sum")} if has_other else {}))
    second = pd.DataFrame(validation or [], columns=SPREAD_COLUMNS)
    if len(second):
        lines[0] += (" On a second sample, the validation split's stars (whose kernel bandwidths "
                     "were chosen on their two-sample accuracy, not on these widths), the same "
                     f"generator meets it in {int(second['met'].sum())} of {len(second)} rows, "
                     f"where a perfect generator would meet about {second['perfect_chance'].sum():.0f}.")
        summary = summary.join(second.groupby("class").agg(
            val_rows=("met", "size"), val_met=("met", "sum"), val_chance=("perfect_chance", "sum")))
    lines += table(["class", "rows", "generated met", "perfect chance",
                    *(["other stars met"] if has_other else []),
                    *(["validation: rows", "generated met", "perfect chance"] if len(second) else [])],
                   [[cls, int(r["rows"]), int(r["met"]), float(r["chance"]) if has_chance else math.nan,
                     *([int(r["other"])] if has_other else []),
                     *([count(r["val_rows"]), count(r["val_met"]), float(r["val_chance"])]
                       if len(second) else [])]
                    for cls, r in summary.iterrows()]) + [""]
    return lines + table(["class", "band", "log P", "real curves", "quantity", "real", "generated",
                          "per star", "ratio", "target", "perfect chance", "other stars"],
                         [[r["class"], r["band"], f"{r['log_p_lo']:.2f} – {r['log_p_hi']:.2f}",
                           r["n_real"], r["quantity"], r["real"], r["generated"], r["per_star"],
                           r["ratio"], verdict(r["met"]), r["perfect_chance"], r["other_stars"]]
                          for r in frame.to_dict(orient="records")])


def _against_other_stars(frame: pd.DataFrame) -> str:
    """The second control read the other way round: in how many rows the generated widths,
    and the test stars' own, lie within the tolerance of the other real stars' widths (a
    generator of real stars would match that second sample as often as the test stars do)."""
    def near_other(width: pd.Series) -> int:
        return int(((width / frame["other_stars"] - 1).abs() <= SPREAD_TOLERANCE).sum())
    judged = frame[frame["n_other"].gt(0) & frame["other_ratio"].notna()]  # rows with other stars
    paired = met_as_often(judged["met"].astype(bool), judged["other_met"].astype(bool))
    reading = ("no evidence that the generator meets the target less often than another sample of "
               "real stars does" if paired["p"] >= 0.05 or paired["only_first"] > paired["only_second"]
               else "the generator meets the target less often than another sample of real stars does")
    return (f" Against those stars' widths instead, the generated ones lie within "
            f"{SPREAD_TOLERANCE:.0%} in {near_other(frame['generated'])} rows, the test stars' own "
            f"in {near_other(frame['real'])}. Of the rows where only one of the two meets the "
            f"target, the generated widths do in {paired['only_first']} and the other stars' in "
            f"{paired['only_second']} (McNemar's exact test, p = {paired['p']:.2g}; rough, as a "
            f"bin's rows share their stars): {reading}.")


def _binned_rows(bins: list[dict], quantities) -> list[list]:
    """One row per log P bin with real or generated stars: their numbers, and per quantity the
    real median [16-84 %] and the generated median marked inside / outside the band (or
    unscored)."""
    frame = pd.DataFrame(bins)
    out = []
    for (lo, hi), part in frame.groupby(["log_p_lo", "log_p_hi"]):
        if not (part["n_real"].any() or part["n_generated"].any()):
            continue
        row = [f"{lo:.2f} – {hi:.2f}", int(part["n_real"].iloc[0]), int(part["n_generated"].iloc[0])]
        for q in quantities:
            r = part[part["quantity"] == q].iloc[0]
            mark = "" if pd.isna(r["inside"]) else " in" if r["inside"] else " out"
            row += [f"{r['real_median']:.3f} [{r['real_p16']:.3f}, {r['real_p84']:.3f}]",
                    f"{r['generated_median']:.3f}{mark}"]
        out.append(row)
    return out


def _fractions(fractions: dict) -> str:
    return ", ".join(f"{q} {v:.0%}" for q, v in fractions.items())


def hertzsprung_lines(result: dict) -> list[str]:
    """The Cepheid Hertzsprung progression against the OGLE-III LMC F-mode Cepheids."""
    if "skipped" in result:
        return [f"Not measured: {result['skipped']}."]
    fractions = result["fraction_inside"]
    return [f"{result['n_catalogue']} OGLE-III LMC fundamental-mode Cepheids (1-30 d; the "
            f"catalogue's I-band Fourier parameters) against {result['n_generated']} curves "
            "generated in I at their periods, with the physics of the real F-mode Cepheid nearest "
            f"in period ({result['n_donors']} with known physics; {result['n_refused']} periods "
            "refused). Per 0.1-dex bin: OGLE median [16-84 %], the generated median, in or out of "
            f"the band (bins of fewer than {MIN_BIN_STARS} stars unscored).", "",
            f"Generated medians inside the band: {_fractions(fractions)} of the bins. Target "
            f"(every bin, every parameter): {verdict(fractions['all'] == 1.0)}.", "",
            f"![Hertzsprung progression]({HERTZSPRUNG_FIGURE})", "",
            *table(["log P", "OGLE", "generated", "R21 OGLE", "R21 gen.", "φ21 OGLE", "φ21 gen.",
                    "R31 OGLE", "R31 gen."], _binned_rows(result["bins"], ("R21", "phi21", "R31")))]


def _slope(slope: dict) -> str:
    return f"{slope['slope']:.2f} [{slope['slope_lo']:.2f}, {slope['slope_hi']:.2f}] ({slope['n']})"


def rr_lyrae_lines(result: dict) -> list[str]:
    """RR Lyrae phi21, R21 and amplitude against log P against the OGLE-IV bulge, and the RRab
    phi21-log P slope."""
    if "skipped" in result:
        return [f"Not measured: {result['skipped']}."]
    band = result["band_generated"]
    lines = []
    if band != result["band_real"]:
        lines += [f"The model has no {result['band_real']} band for RR Lyrae (its bands: "
                  f"{', '.join(result['model_bands'])}): curves are generated in {band}, the "
                  f"nearest to I, and compared in shape with the bulge stars in I; the slope "
                  f"target compares within {band}, with the real test stars.", ""]
    slopes = [("OGLE-IV bulge, I", result["rrab_slope_bulge"]),
              (f"test stars, {band} (own fits, order 4)", result["rrab_slope_test"])]
    lines += [f"RR Lyrae generated in {band} at the periods of the OGLE-IV bulge RRab and RRc "
              f"({', '.join(f'{m} {n}' for m, n in result['n_bulge'].items())}), with the physics "
              "of the real RR Lyrae of the same mode nearest in period "
              f"({result['n_refused']} periods refused).", "",
              "RRab φ21-log P slope (rad/dex, Theil-Sen, 95 % interval, number of curves):", "",
              *table(["real stars", "real slope", "generated slope", "ratio", "target"],
                     [[name, _slope(s["real"]), _slope(s["generated"]), s["ratio"],
                       verdict(s["met"]) if result["target"] == key else "(context)"]
                      for (name, s), key in zip(slopes, ("bulge", "test"))]), "",
              f"Target: generated slope within {SLOPE_TOLERANCE:.0%} of the real one.", "",
              f"![RR Lyrae against the OGLE-IV bulge]({RR_LYRAE_FIGURE})", ""]
    for mode, fractions in result["fraction_inside"].items():
        bins = [b for b in result["bins"] if b["mode"] == mode]
        lines += [f"{mode}: generated medians inside the bulge's 16-84 % band: "
                  f"{_fractions(fractions)} of the bins.", "",
                  *table(["log P", "bulge", "generated", "φ21 bulge", "φ21 gen.", "R21 bulge",
                          "R21 gen.", "amplitude bulge", "amplitude gen."],
                         _binned_rows(bins, ("phi21", "R21", "amplitude"))), ""]
    return lines


def leavitt_lines(result: dict) -> list[str]:
    """The period-luminosity relation of generated Cepheids against the OGLE-III LMC one."""
    if "skipped" in result:
        return [f"Not measured: {result['skipped']}."]
    catalogue = result["with_real_physics"]["catalogue"]
    rows = [[name, _slope(r["generated"]), r["generated"]["intercept"], r["offset_median"],
             verdict(r["met"])]
            for name, r in (("with the physics of real Cepheids", result["with_real_physics"]),
                            (f"from the period alone ({result['period_only']['abs_mag_source']})",
                             result["period_only"]))]
    return [f"Absolute {result['band']} magnitudes of generated Cepheids against the OGLE-III LMC "
            f"fundamental-mode Cepheids (M_G from their mean V and I, mean LMC reddening, "
            f"Pietrzynski et al. 2019 distance): M = {catalogue['intercept']:.2f} "
            f"{catalogue['slope']:+.2f} log P ({catalogue['n']} stars, scatter "
            f"{result['with_real_physics']['catalogue_scatter']:.2f} mag). Offset: median of "
            "generated minus catalogue line at the same period; target: within that scatter.", "",
            *table(["generated", "slope", "zero point", "offset (mag)", "target"], rows)]


def fidelity_lines(results: dict) -> list[str]:
    """Sections 8-11: the fidelity suite of issue 14."""
    return ["## 8. Spread of generated families", "",
            *spread_lines(results["spread"], results.get("spread_validation")), "",
            f"![spread]({SPREAD_FIGURE})", "",
            "## 9. Cepheid Hertzsprung progression (I band)", "",
            *hertzsprung_lines(results["hertzsprung"]), "",
            "## 10. RR Lyrae against the OGLE-IV bulge", "", *rr_lyrae_lines(results["rr_lyrae"]),
            "## 11. Leavitt law of generated Cepheids", "", *leavitt_lines(results["leavitt"]), ""]


def _share(row: dict, name: str) -> str:
    """"95 % (40)": a share of the cases and their number, or a dash without any (or for an
    evaluation made before the share was kept)."""
    return "–" if row.get(name) is None else f"{row[name]:.0%} ({row[name + '_n']})"


def _pooled(rows: list[dict], name: str) -> tuple[float | None, int]:
    """A share pooled over rows (each weighted by its cases; none in an evaluation made before
    the share was kept)."""
    n = sum(r.get(name + "_n", 0) for r in rows)
    return (sum(r[name] * r[name + "_n"] for r in rows if r.get(name) is not None) / n if n else None), n


def _calibration_z(rows: list[dict]) -> tuple[float, float, float] | None:
    """Classes right, right as promised by the top probabilities, and the difference in
    standard deviations (:func:`.inference.class_calibration`) summed over ``rows``; None
    for evaluations made before these were kept."""
    if any(r.get("class_expected") is None for r in rows) or not rows:
        return None
    right = sum(r["class_right"] for r in rows)
    expected = sum(r["class_expected"] for r in rows)
    sd = math.sqrt(max(sum(r["class_expected_var"] for r in rows), 0.0))
    if sd > 0:
        return right, expected, (right - expected) / sd
    # certain probabilities: any miss is infinitely overconfident
    return right, expected, 0.0 if math.isclose(right, expected) else math.copysign(math.inf, right - expected)


def _class_probability(row: dict) -> str:
    """The mean top probability of a row and, where kept, how far the count right is from
    the count it promises (in standard deviations)."""
    if row["mean_class_probability"] is None:
        return "–"
    z = _calibration_z([row])
    return f"{row['mean_class_probability']:.2f}" + ("" if z is None else f" ({z[2]:+.1f}σ)")


def clustered_class_sd(rows: list[dict]) -> tuple[float, int] | None:
    """The standard deviation of the count right minus the count promised, pooled over
    ``rows`` with each star's curves taken together (its whole curve and sparse versions share
    the star and mostly share its outcome): the cluster-robust spread of a sum of per-star
    residuals D_s, sqrt(S / (S - 1) sum_s (D_s - mean D)^2) over S stars (Liang & Zeger 1986,
    Biometrika 73, 13; Cameron & Miller 2015, J. Human Resources 50, 317, Sect. II), and S;
    None for evaluations made before per-star residuals were kept, or with fewer than two stars."""
    if not rows or any(r.get("class_residual_by_star") is None for r in rows):
        return None
    per_star: dict[str, float] = {}
    for row in rows:
        for star, residual in row["class_residual_by_star"].items():
            per_star[star] = per_star.get(star, 0.0) + residual
    if len(per_star) < 2:
        return None
    d = pd.Series(per_star, dtype=float)
    return math.sqrt(len(d) / (len(d) - 1) * float(((d - d.mean()) ** 2).sum())), len(d)


def class_calibration_line(rows: list[dict]) -> str:
    """The pooled check of the class probabilities: calibrated when the count right lies
    within two standard deviations of the count they promise. Rows of one group share their
    stars (whole and sparse curves), so the deviation is judged with each star's curves taken
    together (:func:`clustered_class_sd`) where the evaluation kept them; the Poisson binomial
    of independent curves is given beside it (evaluations without them are judged on it alone,
    which, if anything, is strict)."""
    z = _calibration_z(rows)
    if z is None:
        return "- class probabilities against the classes right: not measured in this evaluation"
    right, expected, deviation = z
    clustered = clustered_class_sd(rows)
    line = (f"- class probabilities: {right:.0f} classes right where the top probabilities promise "
            f"{expected:.1f} ({deviation:+.1f} standard deviations of a Poisson binomial")
    if clustered is None or clustered[0] <= 0:
        return line + f"; calibrated within ± 2): {verdict(abs(deviation) <= 2)}"
    sd, n_stars = clustered
    star_deviation = (right - expected) / sd
    return (line + f" of independent curves; {star_deviation:+.1f} with each of the {n_stars} stars' "
            f"whole and sparse curves taken together, a cluster-robust spread; calibrated within "
            f"± 2 of it): {verdict(abs(star_deviation) <= 2)}")


def departure(share: float, level: float, n: int) -> float:
    """How far a coverage ``share`` of ``n`` cases lies from a calibrated interval's ``level``,
    in standard deviations of the binomial count, sqrt(level (1 - level) / n) as a share."""
    return (share - level) / math.sqrt(level * (1 - level) / n) + 0.0   # + 0.0: no "-0.0"


def row_coverage_line(rows: list[dict], name: str, label: str) -> str:
    """Whether the rows' Teff coverages scatter about the nominal level as chance allows: a
    row of n stars (one curve each) covers a calibrated interval of level p a binomial number
    of times, of standard deviation sqrt(n p (1 - p)), so with 40 stars a 68 % interval may
    cover 61-75 % at one SD. Rows beyond two are named; the largest departure is given."""
    nominal = COVERAGE_TARGETS[name][0]
    scored = [(r, departure(r[name], nominal, r[name + "_n"]))
              for r in rows if r[name] is not None and r[name + "_n"]]
    if not scored:
        return f"- Teff {label} coverage per row: no rows"
    beyond = [f"{r['group']} {r['epochs']} ({r[name]:.0%} of {r[name + '_n']}, {z:+.1f} SD)"
              for r, z in scored if abs(z) > 2]
    row, z = max(scored, key=lambda item: abs(item[1]))
    return (f"- Teff {label} coverage per row against a calibrated interval's binomial spread: "
            f"{len(beyond)} of {len(scored)} rows beyond 2 standard deviations"
            + (f" ({'; '.join(beyond)})" if beyond else
               f"; the largest departure {row['group']} {row['epochs']}, {row[name]:.0%} of "
               f"{row[name + '_n']} ({z:+.1f} SD)"))


def recalibration_line(summary: dict | None) -> str:
    """Whether the Teff intervals above were recalibrated, on what, and how well held out."""
    if summary is None:
        return ("- Teff intervals at the raw posterior's levels: the model holds no recalibration "
                "(`pelsvae calibrate-inference`)")
    parts = [f"{cls} {'recalibrated' if e['applied'] else 'raw levels kept'} ({e['curves']} curves "
             f"of {e['stars']} stars; raw {e['raw_coverage']['68']:.0%} / {e['raw_coverage']['95']:.0%}, "
             f"recalibrated and held out {e['held_out_coverage']['68']:.0%} / "
             f"{e['held_out_coverage']['95']:.0%})"
             for cls, e in summary["classes"].items() if e["held_out_coverage"]]
    return ("- Teff intervals, quantile levels recalibrated per inferred class on the "
            f"{summary['split']} split where that helps held out ({summary['per_group']} stars per "
            "group; Kuleshov et al. 2018; coverage of the 16–84 / 2.5–97.5 % intervals, held out in "
            f"two folds by star): {'; '.join(parts) or 'no class'}")


def wander_lines(rows: list[dict]) -> list[str]:
    """The halves of the stars whose phase wanders, beside their periodic twins (:mod:`.inference`:
    the same cadences and noise, a constant period), paired star by star, and the twins' own O-C
    verdicts. Read only where the numbers say it: the twins' intervals wide enough (coverage
    at least the target's lower edge) while the real halves agree more than two binomial
    standard deviations below the target and, paired, significantly less often than their
    twins (McNemar, p < 0.05): then the cadences and the noise are not what the halves disagree
    by; the twins' coverage more than two below the lower edge: the intervals are too narrow."""
    share, n = _pooled(rows, "period_halves_wander_68")
    if share is None:
        return []
    goal, tolerance = COVERAGE_TARGETS["period_twin_68"]
    line = (f"- the halves of the stars whose phase wanders (O-C probability ≤ {CONSTANT_PERIOD_P:g}: "
            f"no constant period explains the phases of their seasons): {share:.0%} of {n} "
            f"({departure(share, goal, n):+.1f} SD)")
    twin, n_twin = _pooled(rows, "period_twin_wander_68")
    if twin is None:  # evaluations written before the twins were split by it
        return [line]
    only_real = sum(r.get("period_wander_only_real", 0) for r in rows)
    only_twin = sum(r.get("period_wander_only_twin", 0) for r in rows)
    p = mcnemar_p(only_real, only_twin)
    line += (f"; their periodic twins (the same cadences and noise, a constant period): {twin:.0%} of "
             f"{n_twin} ({departure(twin, goal, n_twin):+.1f} SD); paired by star, only the real halves "
             f"agree for {only_real}, only the twins' for {only_twin} (McNemar's exact test, p = {p:.2g})")
    if twin >= goal - tolerance and departure(share, goal, n) < -2 and only_twin > only_real and p < 0.05:
        line += (": the cadences and the noise are not what these halves disagree by; the phase "
                 "wander their O-C diagrams show is (a changing period, a Blazhko modulation, or a "
                 "shape the model misses that moves with the seasons), which an interval from one "
                 "half cannot know")
    elif departure(twin, goal - tolerance, n_twin) < -2:
        line += ": the intervals are too narrow on these stars' cadences"
    lines = [line]
    wanders, n_wanders = _pooled(rows, "period_twin_wanders")
    if wanders is not None:
        lines.append(f"- the twins' own O-C diagrams, every twin strictly periodic: {wanders:.0%} of "
                     f"{n_wanders} called wandering at probability ≤ {CONSTANT_PERIOD_P:g} (a calibrated "
                     f"test: {CONSTANT_PERIOD_P:.0%})")
    return lines


def inference_lines(result: dict) -> list[str]:
    """Section 12: the inverse problem on real test stars (:mod:`.inference`), per group and
    number of epochs, the issue's targets pooled over the rows, and class accuracy per class."""
    rows = result["rows"]
    def number(value, fmt: str) -> str:
        return "–" if value is None else format(value, fmt)
    lines = [f"{result['per_group']} stars per group of the {result['split']} split (Catalina: per "
             "class), each inferred on its whole, unfolded curve and on that many of its own epochs "
             "drawn at random (`pelsvae_core.evaluation.inference`; more stars: "
             "`benchmarks/infer.py --per-group 80`). "
             + (f"Random forest on Fourier features trained on {result['baseline_curves']} "
                "Catalina training curves. " if result["baseline_curves"] else "No random forest. ")
             + "Period: abs ΔP / σ is the error against the catalogue in units of half the 16–84 % "
             "interval; the catalogue periods are estimates from the same kind of data, with errors "
             "not given: were they exact, a calibrated interval would give a median of 0.67 (68 % "
             "inside), were they as uncertain as ours, 0.95 (52 % inside). Halves: the two halves of "
             "each whole curve (cut at the median time) inferred apart, where both find the "
             "period: the share whose periods agree within their intervals' half widths together "
             "(68 % when calibrated, whatever the catalogue's errors) and the median of that ratio; "
             "twin: the star's periodic twin (the whole curve's best fit at the same times with "
             "noise of its errors and jitter), a star as periodic as the model whose period is "
             "known exactly: the share of twins whose whole curve's 16–84 % interval holds it "
             "(twin P in 16–84 %), and the share whose halves agree within 1 σ (twin halves). "
             "Mean p(class): the mean top class probability; z: the classes right minus those "
             "these probabilities promise, in standard deviations (negative: overconfident). "
             "RRab/RRc: the RR Lyrae mode (OGLE-III boundary); other subtypes: Cepheid F/1O and "
             "eclipsing EA/EB/EW (the training stars' vote), each among the stars whose class was "
             "right. M_I: the LMC Cepheids inferred at the LMC distance against the catalogue's mean V "
             "and I; the inferred M is the fitted curve's intensity-mean magnitude minus the distance "
             "modulus, so this checks the photometry (bias and RMS of our intensity mean against "
             "OGLE's), not the model's physics, and the training stars' spread of M beside it is context, "
             "not a measure of what the model tells; no coverage is counted: the catalogue value "
             "shares the distance and reddening the inference is given, so their spread cannot "
             "enter the comparison.", "",
             *table(["group", "epochs", "stars (failed)", "period within 1 %",
                     f"RR/CEP ≥ {PERIOD_MIN_EPOCHS} epochs", "P in 16–84 %", "median abs ΔP / σ",
                     "twin P in 16–84 %", "halves within 1 σ", "halves median z",
                     "twin halves within 1 σ", "class",
                     "random forest", "mean p(class) (z)", "RRab/RRc", "other subtypes", "Teff in 16–84 %",
                     "Teff in 2.5–97.5 %", "Teff RMS / prior sd (K)", "M_I bias, RMS / prior sd (mag)",
                     "CPU s per star"],
                    [[r["group"], r["epochs"], f"{r['stars']} ({r['failed']})", _share(r, "period_1pct"),
                      _share(r, "period_target"), _share(r, "period_in_68"),
                      number(r.get("period_median_z"), ".2f"), _share(r, "period_twin_in_68"),
                      _share(r, "period_halves_68"),
                      number(r.get("period_halves_median_z"), ".2f"), _share(r, "period_twin_68"),
                      _share(r, "class"),
                      _share(r, "baseline_class"), _class_probability(r),
                      _share(r, "mode"), _share(r, "subtype"), _share(r, "teff_68"), _share(r, "teff_95"),
                      "–" if r["teff_rms"] is None else f"{r['teff_rms']:.0f} / {r['teff_prior_sd']:.0f}",
                      "–" if r["abs_mag_rms"] is None else
                      f"{r['abs_mag_bias']:+.2f}, {r['abs_mag_rms']:.2f} / {r['abs_mag_prior_sd']:.2f}",
                      number(r["cpu_s"], ".2f")] for r in rows]), "", "Targets, pooled over the rows above (for a coverage also its departure from the "
             "target in binomial standard deviations of a calibrated interval at that count, SD: "
             "at these counts the ± tolerance is about one of them):", ""]
    targets = [("period within 1 %, RR Lyrae and Cepheids with "
                f"≥ {PERIOD_MIN_EPOCHS} epochs", "period_target", PERIOD_TARGET, None),
               ("RRab/RRc", "mode", MODE_TARGET, None),
               *((f"coverage of the Teff {label} intervals", name, *COVERAGE_TARGETS[name])
                 for name, label in (("teff_68", "16–84 %"), ("teff_95", "2.5–97.5 %"))),
               ("coverage of the period 16–84 % intervals of the periodic twins (period known "
                "exactly)", "period_twin_in_68", *COVERAGE_TARGETS["period_twin_in_68"]),
               ("period 16–84 % intervals, the halves of each whole curve within 1 σ of each other",
                "period_halves_68", *COVERAGE_TARGETS["period_halves_68"]),
               ("the same for each star's periodic twin (the intervals' own calibration on these "
                "cadences)", "period_twin_68", *COVERAGE_TARGETS["period_twin_68"]),
               ("the real halves again, of the stars whose whole curve's O-C diagram is a line "
                f"within its errors (a constant period; probability > {CONSTANT_PERIOD_P:g})",
                "period_halves_constant_68", *COVERAGE_TARGETS["period_halves_constant_68"]),
               ("the same stars' periodic twins", "period_twin_constant_68",
                *COVERAGE_TARGETS["period_twin_constant_68"])]
    for text, name, goal, tolerance in targets:
        share, n = _pooled(rows, name)
        if share is None:
            lines.append(f"- {text}: no cases")
            continue
        met = share >= goal if tolerance is None else abs(share - goal) <= tolerance
        wanted = f"≥ {goal:.0%}" if tolerance is None else f"{goal:.0%} ± {tolerance:.0%}"
        spread = "" if tolerance is None else \
            f"; {round(departure(share, goal, n), 1) + 0.0:+.1f} SD"
        lines.append(f"- {text}: {share:.0%} of {n} (target {wanted}): {verdict(met)}{spread}")
    lines += wander_lines(rows)
    lines += [row_coverage_line(rows, name, label)
              for name, label in (("teff_68", "16–84 %"), ("teff_95", "2.5–97.5 %"))]
    lines.append(class_calibration_line(rows))
    if "teff_recalibration" in result:  # evaluations written before it have none
        lines.append(recalibration_line(result["teff_recalibration"]))
    if result["per_class"]:
        lines += ["", "Class accuracy per true class (inference / random forest), and without the "
                  "curves whose catalogue period lies outside their class's range in the OGLE-III "
                  "catalogue where classes meet (`doubtful`: the label or the period is wrong; "
                  f"{', '.join(class_period_note(c) for c in CLASS_PERIOD_ENDS)}):", "",
                  *table(["group", "epochs", "class", "curves", "inference", "random forest",
                          "doubtful", "inference without", "random forest without"],
                         [[r["group"], r["epochs"], r["class"], r["n"], number(r["inference"], ".0%"),
                           number(r["baseline"], ".0%"), r.get("doubtful", "–"),
                           number(r.get("inference_consistent"), ".0%"),
                           number(r.get("baseline_consistent"), ".0%")]
                          for r in result["per_class"]])]
    return lines


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
             *two_sample_lines(results["two_sample"]), "",
             "## 4. Train on synthetic, test on real", "", f"`{results['tstr']}`", "",
             "## 5. RR Lyrae morph", "", f"![morph]({MORPH_FIGURE})", "", f"![shapes]({SHAPES_FIGURE})", "",
             "## 6. Cadence invariance and memorisation", "",
             f"Largest decode difference, 30-1000 phases vs dense grid: {results['cadence_invariance']:.2e}", "",
             f"Nearest-training-curve distance: `{results['memorisation']}`", "",
             "## 7. Timing", "", f"Generating 100 curves at 300 phases: {results['generate_100_ms']:.1f} ms (1 thread)",
             "", "## Table 3 analogue: physics -> latent regressors on the by-star validation split", "",
             "R^2 compares across models; RMSE is in each model's own latent units.", "",
             "```", pd.DataFrame(results["regressor_validation"]).round(3).to_string(index=False), "```",
             "", *fidelity_lines(results)]
    if "inference" in results:  # evaluations written before it have none
        lines += ["## 12. The inverse problem on real test stars", "", *inference_lines(results["inference"]), ""]
    if "priors" in results:
        lines += ["## 13. Simulation priors against real physics", "", *priors_lines(results["priors"]), ""]
    return "\n".join(lines) + "\n"


def prior_verdict(row: dict) -> str:
    """A prior row's reading: untestable; within chance of 0.5; else within chance of the real
    stars it was made from (its excess over the control, paired draw by draw on the same
    held-out stars and averaged, no larger than chance's band for one test: an equivalence
    margin, since at these counts a paired test over a few draws flags excesses of 0.01 that
    move with the draws' seed); or told apart."""
    if not row["testable"]:
        return row.get("reason") or "too few to test"
    if row["accuracy"] - 0.5 <= row["chance_95"]:
        return "within chance"
    if row["excess"] <= row["chance_95"]:
        return "within chance of the control"
    return f"told apart ({row['excess']:+.3f} over the control)"


def priors_lines(priors: dict) -> list[str]:
    """Section 13: the physics ``pelsvae simulate`` draws, against held-out real stars."""
    lines = [
        "`pelsvae simulate` draws each star's physics from a Gaussian mixture per class (per "
        "survey, BIC-chosen) over the model's training stars (`primary`) and, for Teff or M "
        "that a class's training stars lack, the values of one of the OGLE x Gaia DR2 "
        "cross-match's stars nearest in period, carried along the donors' linear trend where "
        "the period lies beyond theirs (`secondary`). Classifier two-sample test "
        f"(gradient-boosted trees, {priors['folds']} folds; 0.5: indistinguishable): drawn "
        "against held-out real stars (primary: the model's test split, the whole joint drawn; "
        f"secondary: {priors['held_out_share']:.0%} of the cross-match, held out of the prior, "
        "each drawn given a held-out star's own period, so what is tested is Teff and M given "
        f"the period, as a simulation uses it), mean ± sd over {priors['draws']} draws. "
        "`chance`: the 95 % half-width of a coin-flip accuracy. `control`: the real stars the "
        "prior was made from, as many as are held out, against the same held-out stars: what "
        "a prior drawing real stars would score. Reading: within chance of 0.5; else the "
        "excess over the control (paired draw by draw, averaged) within chance; else told "
        "apart. `P outside`: the share of periods a simulation draws "
        "beyond the donors' (there the trend extrapolates and the test above does not reach).", ""]
    if priors["source"] != "fitted":
        lines += [f"Cross-match: {priors['source']}.", ""]

    def mean_sd(row: dict, name: str) -> str:
        shown = row["testable"] and math.isfinite(row[name])
        return f"{row[name]:.3f} ± {row[name + '_sd']:.3f}" if shown else "–"

    cells, near, testable = [], 0, 0
    for row in priors["rows"]:
        reading = prior_verdict(row)
        if not row["part"]:
            cells.append([row["class"], *["–"] * 7, reading])
            continue
        testable += row["testable"]
        near += reading in ("within chance", "within chance of the control")
        outside = f"{row['outside']:.0%}" if math.isfinite(row["outside"]) else "–"
        cells.append([row["class"], row["part"], row["parameters"], row["held_out"],
                      mean_sd(row, "accuracy"), mean_sd(row, "control"),
                      f"±{row['chance_95']:.3f}", outside, reading])
    return [*lines, *table(["class", "part", "parameters", "held out", "drawn", "control", "chance",
                            "P outside", "reading"], cells),
            "", f"{near} of {testable} testable rows within chance of 0.5 or of their control."]
