"""Period search on real Catalina SSS curves, whose catalogue periods are the reference."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from pelsvae_core.data import catalina
from pelsvae_core.data.period import _periodogram, estimate_period, generalised_lomb_scargle


def test_lomb_scargle_with_half_period_resolution_recovers_catalogue_periods(subset_root):
    hits, totals = defaultdict(int), defaultdict(int)
    for lc in catalina.read_sss(subset_root / "catalina_sss"):
        if lc.read_problem or lc.subtype not in ("RRab", "RRc", "EW"):
            continue
        if totals[lc.subtype] >= 25:
            continue
        found = estimate_period(lc.time, lc.mag, lc.err, lc.cls)
        totals[lc.subtype] += 1
        hits[lc.subtype] += abs(found / lc.period - 1) < 0.01
    assert totals["EW"] >= 15 and totals["RRab"] >= 5
    for subtype, total in totals.items():
        # EW contact binaries: Lomb-Scargle alone finds half the period almost always
        assert hits[subtype] / total >= 0.8, (subtype, hits[subtype], total)


def test_direct_lomb_scargle_matches_nifty_ls_on_a_real_curve(subset_root):
    """The fine grid is evaluated directly; it must be the same periodogram as the coarse one."""
    lc = next(lc for lc in catalina.read_sss(subset_root / "catalina_sss")
              if not lc.read_problem and lc.subtype == "RRab")
    frequency, power = _periodogram(lc.time, lc.mag, lc.err, 0.9 / lc.period, 1.1 / lc.period, 200)
    np.testing.assert_allclose(generalised_lomb_scargle(lc.time, lc.mag, lc.err, frequency), power,
                               atol=1e-7)
    assert abs(frequency[np.argmax(power)] * lc.period - 1) < 0.01
