"""Calibration of the inverse problem (issue 17) on real stars the model never trained on.

What is measured, on which stars and against what, is :mod:`pelsvae_core.evaluation.inference`
(``pelsvae evaluate`` runs it too, on fewer stars, for its report's section 12); this
script runs it on as many stars as asked and prints the same tables. ``--fit-mode-boundary``
refits :data:`pelsvae_core.inference.posterior.RRC_LOGIT` on the OGLE-III catalogue.

    .venv/bin/python benchmarks/infer.py --per-group 80   # ~6 min on a quiet 2-core CPU
    .venv/bin/python benchmarks/infer.py --per-group 10 --groups "OGLE CEP I"   # a quick look
    .venv/bin/python benchmarks/infer.py --fit-mode-boundary  # refit inference.posterior.RRC_LOGIT
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from pelsvae_core import load_model, paths
from pelsvae_core.atomic import atomic_path
from pelsvae_core.data.catalogues import read_ogle3_catalogue
from pelsvae_core.evaluation.inference import GROUPS, inference_calibration
from pelsvae_core.evaluation.report import inference_lines


def fit_mode_boundary() -> None:
    """Refit :data:`pelsvae_core.inference.posterior.RRC_LOGIT` on the OGLE-III catalogue."""
    catalogue = read_ogle3_catalogue(paths.data_root() / "ogle3_catalog")
    rr = catalogue[(catalogue["Type"] == "RRLyr") & catalogue["Subtype"].isin(["RRab", "RRc"])
                   & (catalogue["R21_1"] > 0) & (catalogue["P_1"] > 0)]
    x = np.column_stack([np.log10(rr["P_1"]), rr["R21_1"]])
    y = (rr["Subtype"] == "RRc").to_numpy()
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(x, y)
    print(f"{len(y)} OGLE-III RRab/RRc stars; logit P(RRc) = {fit.intercept_[0]:.3f} "
          f"{fit.coef_[0, 0]:+.3f} log10 P {fit.coef_[0, 1]:+.3f} R21; agreement "
          f"{100 * (fit.predict(x) == y).mean():.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--per-group", type=int, default=40,
                        help="stars per group (Catalina: per class)")
    parser.add_argument("--sparse", default="60,30", help="epoch counts of the sparse versions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the random forest")
    parser.add_argument("--groups", default=",".join(g[1] for g in GROUPS),
                        help="comma-separated group labels to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the measurements here (JSON)")
    parser.add_argument("--fit-mode-boundary", action="store_true")
    args = parser.parse_args()
    if args.fit_mode_boundary:
        fit_mode_boundary()
        return
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        result = inference_calibration(
            load_model(), paths.data_root(), args.per_group,
            tuple(int(v) for v in args.sparse.split(",") if v), args.seed, args.split,
            tuple(args.groups.split(",")), not args.no_baseline, progress=True)
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result, indent=1))
    print("\n".join(inference_lines(result)))


if __name__ == "__main__":
    main()
