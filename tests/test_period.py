"""Period search on real Catalina SSS curves, whose catalogue periods are the reference."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from pelsvae_core.data import catalina
from pelsvae_core.data.periods import estimate_period
from pelsvae_core.periodogram import Periodogram, generalised_lomb_scargle, search_period


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


def rr_lyrae(subset_root):
    return next(lc for lc in catalina.read_sss(subset_root / "catalina_sss")
                if not lc.read_problem and lc.subtype == "RRab")


def test_nufft_periodogram_is_the_direct_generalised_lomb_scargle(subset_root):
    """The NUFFT sums (with the grid started at f_min, and at 2f) are the direct sums."""
    lc = rr_lyrae(subset_root)
    periodogram = Periodogram(lc.time, 0.9 / lc.period, 0.001 / lc.period, 201)
    power = periodogram.power(lc.mag, lc.err)
    np.testing.assert_allclose(power, generalised_lomb_scargle(lc.time, lc.mag, lc.err,
                                                               periodogram.frequency), atol=1e-7)
    assert abs(periodogram.frequency[np.argmax(power)] * lc.period - 1) < 0.01


def test_a_search_reuses_its_plans_for_the_same_times_whatever_the_periods(subset_root):
    """The dashboard searches one cadence again around a new period on each lesson move: the
    NUFFT plans are kept (the grid's spacing depends on the times only), the power is the same
    as a fresh search's, and other times get new plans."""
    lc = rr_lyrae(subset_root)
    first = search_period(lc.time, lc.mag, lc.err, 0.2, 2.0)
    assert abs(first.period / lc.period - 1) < 0.01
    again = search_period(lc.time, lc.mag[::-1].copy(), lc.err, 0.2, 2.0, reuse=first.periodogram)
    assert again.periodogram is first.periodogram
    np.testing.assert_array_equal(again.power, Periodogram.for_search(lc.time, 0.2, 2.0).power(
        lc.mag[::-1].copy(), lc.err))
    for low, high in ((0.3, 2.0), (0.25, 1.0)):  # another window: the same plans, moved
        moved = search_period(lc.time, lc.mag, lc.err, low, high, reuse=first.periodogram)
        fresh = search_period(lc.time, lc.mag, lc.err, low, high)
        assert moved.periodogram._plans is first.periodogram._plans
        np.testing.assert_allclose(moved.power, fresh.power, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(moved.frequency, 1 / high + np.arange(moved.power.size) / (2 * np.ptp(lc.time)))
        assert moved.period == fresh.period
    other = search_period(lc.time[1:], lc.mag[1:], lc.err[1:], 0.2, 2.0, reuse=first.periodogram)
    assert other.periodogram._plans is not first.periodogram._plans
    wider = search_period(lc.time, lc.mag, lc.err, 0.05, 2.0, reuse=first.periodogram)
    assert wider.periodogram._plans is not first.periodogram._plans  # more frequencies than its modes

def test_a_survey_star_s_period_is_searched_within_its_class_s_limits(subset_root):
    """CRTS gives no periods. An RR Lyrae's sparse curve can peak highest at a long alias (1 to
    100 d) or a harmonic (under 0.2 d), where the OGLE-III catalogue has no RR Lyrae; such a
    star takes its highest peak within the limits, and every other star keeps its peak."""
    from pelsvae_core.data.crts import read_crts
    from pelsvae_core.data.periods import CLASS_MIN_PERIOD
    from pelsvae_core.data.relations import class_period_limits

    lo, hi = class_period_limits("RRLYR")
    moved = kept = 0
    for lc in read_crts(subset_root / "crts_csdr1"):
        if lc.read_problem or lc.cls != "RRLYR" or lc.n_obs < 30:
            continue
        free = search_period(lc.time, lc.mag, lc.err, CLASS_MIN_PERIOD["RRLYR"]).period
        found = estimate_period(lc.time, lc.mag, lc.err, lc.cls)
        assert lo <= found <= hi
        if lo <= free <= hi:
            kept += found == free
        else:
            moved += 1
    assert moved >= 1 and kept >= 20, (moved, kept)
