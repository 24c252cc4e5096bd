"""Survey error relations and the Gaia cross-match class references, on constructed and real data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core.data.surveys import DataRoot
from pelsvae_core.physics.noise import (ALL_CLASSES, ErrorModel, fit_class_scatter,
                                        fit_error_model, fit_error_models, scatter_ratio)
from pelsvae_core.physics.reference import ClassReference, class_references


def test_error_relation_recovers_known_parameters():
    truth = ErrorModel("S", "r", sigma_sys=0.01, m5=21.0, gamma=0.039, mag_range=(0, 0), n_stars=0)
    rng = np.random.default_rng(0)
    mag = rng.uniform(14, 21, 800)
    err = truth.sigma(mag) * 10 ** rng.normal(0, 0.03, mag.size)  # 7 % scatter
    err[:20] = 1.0  # outliers must not drag the fit
    fitted = fit_error_model("S", "r", mag, err)
    assert fitted.sigma_sys == pytest.approx(0.01, rel=0.1)
    assert fitted.m5 == pytest.approx(21.0, abs=0.15)
    assert ErrorModel.from_dict(fitted.to_dict()) == fitted
    assert 14 <= fitted.mag_range[0] < fitted.mag_range[1] <= 21


def test_scatter_ratio_measures_the_real_scatter_in_units_of_the_quoted_errors():
    rng = np.random.default_rng(0)
    phase = np.sort(rng.uniform(size=400))
    shape = np.cos(2 * np.pi * phase) + 0.3 * np.cos(4 * np.pi * phase + 1)
    quoted = np.full_like(phase, 0.02)
    for true_ratio in (0.5, 1.0, 3.0):
        mag = shape + rng.normal(0, true_ratio * 0.02, phase.size)
        assert scatter_ratio(phase, mag, quoted) == pytest.approx(true_ratio, rel=0.1)


def test_class_scatter_recovers_a_known_rescaling_and_extra_term():
    """Stars whose points scatter by sqrt((k e)^2 + x^2) mag about their shape, quoted errors e
    from 0.005 to 0.2 mag and amplitudes 0.3 to 1 mag: k and x come back per class."""
    rng = np.random.default_rng(2)
    truth = {"LPV": (1.5, 0.04), "ECL": (0.7, 0.0)}
    rows = []
    for cls, (k, x) in truth.items():
        for quoted, amplitude in zip(np.geomspace(0.005, 0.2, 40), rng.uniform(0.3, 1.0, 40)):
            phase = np.sort(rng.uniform(size=300))
            shape = 0.5 + 0.5 * np.cos(2 * np.pi * phase)
            mag = shape + rng.normal(0, np.hypot(k * quoted, x) / amplitude, phase.size)
            rows.append({"cls": cls, "phase": phase, "mag": mag, "amplitude": amplitude,
                         "err": np.full(phase.size, quoted / amplitude)})
    fitted = fit_class_scatter(pd.DataFrame(rows))
    assert set(fitted) == {ALL_CLASSES, "LPV", "ECL"}
    for cls, (k, x) in truth.items():
        assert fitted[cls].scale == pytest.approx(k, rel=0.1) and fitted[cls].extra == pytest.approx(x, abs=0.005)
        assert fitted[cls].n_stars == 40 and fitted[cls].spread[0] < fitted[cls].ratio < fitted[cls].spread[1]
    model = ErrorModel("S", "V", 0.01, 20.0, 0.039, (12, 19), 80, fitted)
    assert ErrorModel.from_dict(model.to_dict()) == model
    assert model.real_sigma(15.0, "LPV") == pytest.approx(np.hypot(fitted["LPV"].scale * model.sigma(15.0),
                                                                   fitted["LPV"].extra))
    assert model.scatter_of("RRLYR") == fitted[ALL_CLASSES]  # a class without its own: all classes'
    assert "quoted" in model.describe_scatter("LPV")


def test_real_scatter_differs_from_the_quoted_errors_as_each_survey_is_known_to(subset_cache):
    """On the real curves: OGLE underestimates its errors (Skowron et al. 2016), Catalina's are
    conservative; the fitted relations say so."""
    models = fit_error_models(subset_cache.kept)
    ogle = models["OGLE-III LMC CEP/I"].scatter[ALL_CLASSES]
    catalina = models["Catalina SSS/V_CSS"].scatter[ALL_CLASSES]
    assert ogle.ratio > 1.1 and catalina.ratio < 0.9


def test_error_relation_needs_enough_stars():
    with pytest.raises(ValueError, match="need 20"):
        fit_error_model("S", "r", np.arange(5.0), np.full(5, 0.1))


def test_period_luminosity_line_is_recovered_and_clips_outliers():
    rng = np.random.default_rng(1)
    log_p = rng.uniform(0, 1.5, 300)
    table = pd.DataFrame({"Type": "CEP", "Period": 10**log_p, "teff_val": 6000.0,
                          "abs_Gmag": -1.5 - 2.8 * log_p + rng.normal(0, 0.1, 300)})
    table.loc[:9, "abs_Gmag"] = 12.0  # ten wild magnitudes
    reference = class_references(table)["CEP"]
    intercept, slope = reference.luminosity
    assert slope == pytest.approx(-2.8, abs=0.05) and intercept == pytest.approx(-1.5, abs=0.05)
    assert reference.luminosity_scatter < 0.15
    assert reference.abs_mag(10.0) == pytest.approx(-4.3, abs=0.1)
    assert ClassReference.from_dict(reference.to_dict()) == reference


def test_real_cross_match_gives_every_class_ranges_and_a_relation(data_root):
    references = class_references(DataRoot(data_root).gaia_xmatch)
    assert set(references) == {"ACEP", "CEP", "DSCT", "ECL", "ELL", "LPV", "RRLYR", "T2CEP"}
    for reference in references.values():
        assert reference.luminosity is not None
        low, high = reference.ranges["log_period"]
        assert low < high
    # Cepheids and LPVs are the period-luminosity classics: brighter (smaller M) with longer period
    # for Cepheids; the LPV period range lies above every pulsator's
    assert references["CEP"].luminosity[1] < 0
    assert references["LPV"].ranges["log_period"][0] > references["CEP"].ranges["log_period"][1]
    assert references["RRLYR"].ranges["teff"][0] > 3000


def test_fit_noise_rewrites_only_the_noise(small_model, subset_root, subset_cache, tmp_path, capsys):
    """``pelsvae fit-noise`` refits the error models and real scatter on the model's own training
    stars (the same as fit-regressors gives) and keeps the network, regressors and latents."""
    import shutil

    from pelsvae_core import cli, load_model

    folder = tmp_path / "model"
    shutil.copytree(small_model.folder, folder)
    before = {name: (folder / name).read_bytes() for name in ("weights.pt", "regressors.npz", "latents.parquet")}
    code = cli.main(["fit-noise", "--model", str(folder), "--data-root", str(subset_root),
                     "--cache-dir", str(subset_cache.directory)])
    assert code == 0 and "median real / quoted" in capsys.readouterr().out
    assert {name: (folder / name).read_bytes() for name in before} == before
    refitted = load_model(folder)
    assert refitted.error_models == small_model.error_models
    # every fitted survey has its real scatter; LSST's and ZTF's published errors have none to measure
    assert all(bool(m.scatter) != bool(m.source) for m in refitted.error_models.values())
