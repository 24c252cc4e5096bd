"""Survey error relations and the Gaia cross-match class references, on constructed and real data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pelsvae_core.data.surveys import DataRoot
from pelsvae_core.physics.noise import ErrorModel, fit_error_model
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
