"""pelsvae_core.data.calibration against hand computation, published relations and real data.

Published numbers compared against (each also cited where it is used):

* Soszynski et al. 2008, AcA 58, 163 (OGLE-III LMC classical Cepheids, fundamental mode):
  W_I = -3.314 log P + 15.888 (apparent, W_I = I - 1.55 (V - I)).
* Udalski et al. 1999, AcA 49, 201 (OGLE-II LMC F-mode Cepheids): I-band slope -2.962.
* RR Lyrae <M_V> = 0.59 + 0.214 ([Fe/H] + 1.5) (Cacciari & Clementini 2003; Clementini et al.
  2003), at the bulge RR Lyrae metallicity [Fe/H] = -1.02 (Pietrukowicz et al. 2012): 0.69.
* RR Lyrae mean temperatures: the RR Lyrae instability strip spans roughly 6,000-7,500 K, with
  RRab on the cool side (mean Teff about 6,100-6,900 K) and RRc on the hot side (about
  6,800-7,500 K) (e.g. Catelan & Smith 2015, "Pulsating Stars", Wiley-VCH; Sneden et al. 2017,
  ApJ 848, 68 for spectroscopic RRc). The windows below are those ranges, not tuned to results.
* The Sun: (BP-RP) = 0.82 (Casagrande & VandenBerg 2018, MNRAS 479, L102), (V-I)_C = 0.702
  (Ramirez et al. 2012, ApJ 752, 5), g-r = 0.44, r-i = 0.11 (Holmberg, Flynn & Portinari 2006,
  MNRAS 367, 449), Teff = 5772 K (IAU 2015 Resolution B3).

Run with ``-s`` to see the measured numbers.
"""
from __future__ import annotations

import math
import tarfile

import numpy as np
import pandas as pd
import pytest

from pelsvae_core.data import calibration as cal
from pelsvae_core.data import sdss
from pelsvae_core.data.catalogues import read_gaia_xmatch, read_ogle3_catalogue

MU_LMC = 18.477                                   # Pietrzynski et al. 2019
SOSZYNSKI08_W_SLOPE, SOSZYNSKI08_W_ZP = -3.314, 15.888
UDALSKI99_I_SLOPE = -2.962
RRAB_TEFF_WINDOW = (6000.0, 7000.0)
RRC_TEFF_WINDOW = (6700.0, 7700.0)


def report(label: str, **numbers) -> None:
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items())
    print(f"\n[calibration] {label}: {text}")


def robust(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    med = float(np.median(x))
    return med, float(1.4826 * np.median(np.abs(x - med)))


# --------------------------------------------------------------------------- containers / refusals

def test_calibrated_refuses_with_reasons_and_is_read_only():
    c = cal.Calibrated([1.0, np.nan, 3.0], 0.1, "test", ["", "", "too hot"])
    assert list(c.ok) == [True, False, False]
    assert np.isnan(c.value[2]) and np.isnan(c.sigma[2])
    assert c.reason[1].startswith("undefined")          # an unexplained NaN gets a reason
    with pytest.raises(ValueError):
        c.value[0] = 5.0
    assert cal.Calibrated.stack([c[0], c[2]]).refusals() == {"too hot": 1}


def test_physically_impossible_inputs_are_refused():
    teff = cal.teff_from_vi0(cal.Calibrated([-1.0, 0.45, 3.0], 0.02, "test"))
    assert teff.ok.tolist() == [False, True, False]
    assert all(teff.reason[[0, 2]] != "")
    ebv = cal.reddening_from_minimum_colour(cal.Calibrated([0.2, 1.4], 0.02, "test"))
    assert not ebv.ok[0] and "negative reddening" in ebv.reason[0] and ebv.ok[1]
    lmc = cal.lmc_parameters([np.nan, 99.0, 15.8], [15.0, 15.0, 15.0])
    assert lmc.abs_v.reason[0] == "missing mean V" and "not a magnitude" in lmc.abs_v.reason[1]
    assert lmc.abs_v.ok[2]
    s82 = cal.stripe82_rr_lyrae_parameters([17.0], [16.8], [16.7], [0.1], [-3.0])
    assert not s82.abs_v.ok[0] and "distance" in s82.abs_v.reason[0]


# --------------------------------------------------------------------------- hand computations

def test_lmc_star_absolute_magnitudes_by_hand():
    v, i = 15.8, 15.0
    w = cal.lmc_absolute_wesenheit([v], [i])
    # W = 15.0 - 1.55 * 0.8 = 13.76 ; M_W = 13.76 - 18.477
    assert w.value[0] == pytest.approx(-4.717, abs=1e-9)
    assert w.sigma_sys[0] == pytest.approx(0.026) and w.sigma[0] > 0.026
    p = cal.lmc_parameters([v], [i])
    # E(V-I) = 0.100 (Skowron et al. 2021); A_I = 1.55 E, A_V = 2.55 E
    assert p.abs_i.value[0] == pytest.approx(15.0 - 0.155 - 18.477, abs=1e-9)
    assert p.abs_v.value[0] == pytest.approx(15.8 - 0.255 - 18.477, abs=1e-9)
    assert p.vi0.value[0] == pytest.approx(0.7, abs=1e-12)
    # G - V at V-I = 0.7 (Riello et al. 2021): -0.01597 - 0.02809*0.7 - 0.2483*0.49
    #   + 0.03656*0.343 - 0.002939*0.2401 = -0.1454666...
    g_minus_v = -0.01597 - 0.019663 - 0.121667 + 0.01254008 - 0.0007056539
    assert p.abs_g.value[0] == pytest.approx(15.545 + g_minus_v - 18.477, abs=1e-6)
    assert "Pietrzynski et al. 2019" in p.abs_g.source and "Riello et al. 2021" in p.abs_g.source
    # Teff from (V-I)_0 = 0.7: BP-RP = -0.03298 + 1.259*0.7 - 0.1279*0.49 + 0.01631*0.343
    # (Riello et al. 2021), then Casagrande et al. 2021 at [Fe/H] -0.41 and log g 1.5
    x, g, f = -0.03298 + 0.8813 - 0.062671 + 0.00559433, 1.5, -0.41
    a = (7980.8845, -4138.3457, 1264.9366, -130.4388, 285.8393, -324.2196, 106.8511, -4.9825,
         4.5138, -203.7774, 126.6981, -14.7442, 40.7376)
    by_hand = (a[0] + a[1] * x + a[2] * x ** 2 + a[3] * x ** 3
               + g * (a[4] + a[5] * x + a[6] * x ** 2 + a[7] * x ** 3)
               + f * (a[8] + a[9] * x + a[10] * x ** 2 + a[11] * x ** 3) + a[12] * f * g * x)
    assert p.teff.value[0] == pytest.approx(by_hand, abs=0.01)
    assert 5500 < by_hand < 6000                  # a mid-strip Cepheid
    assert p.teff.sigma_sys[0] >= 150.0 and "Romaniello et al. 2022" in p.teff.source
    # the colour a Cepheid's Teff gives back is the one it came from (the Cepheids' scale)
    back = cal.vi0_from_teff(p.teff.value, cal.teff_scale("CEP"))
    assert back.value[0] == pytest.approx(0.7, abs=0.002)
    assert cal.vi0_from_teff(p.teff.value).value[0] != pytest.approx(0.7, abs=0.02)


def test_bulge_star_by_hand():
    e = cal.Calibrated([0.8], [0.07], "constructed")
    p = cal.bulge_rr_lyrae_parameters([17.5], [16.2], e)
    mu = 5 * math.log10(8178.0 / 10)                # GRAVITY Collaboration 2019
    assert p.abs_v.value[0] == pytest.approx(17.5 - 2.217 * 0.8 - mu, abs=1e-9)
    assert p.abs_i.value[0] == pytest.approx(16.2 - 1.217 * 0.8 - mu, abs=1e-9)
    assert p.vi0.value[0] == pytest.approx(0.5, abs=1e-12)
    # per-star uncertainty includes the 0.25 mag bulge depth and 2.217 x sigma(E)
    assert p.abs_v.sigma[0] > math.hypot(0.25, 2.217 * 0.07)
    same = cal.teff_from_vi0(cal.Calibrated([0.5], [0.0], "x"), feh=cal.BULGE_FEH)
    assert p.teff.value[0] == pytest.approx(same.value[0])


def test_star_not_at_the_bulge_distance_is_refused():
    """An RR Lyrae of the Sagittarius dwarf behind the bulge ((m-M)0 = 17.10, Monaco et al. 2004)
    read at the Galactic-centre distance is 2.5 mag too faint: its absolute magnitudes are
    refused, its Teff (independent of distance) kept; the same star in the bulge passes."""
    e = cal.Calibrated([0.8, 0.8], [0.05, 0.05], "constructed")
    m_v = float(cal.expected_rr_lyrae_abs_v(cal.BULGE_FEH).value)
    v = np.array([m_v + 5 * math.log10(8178.0 / 10), m_v + 17.10]) + 2.217 * 0.8
    p = cal.bulge_rr_lyrae_parameters(v, v - 1.3, e)
    assert p.abs_v.value[0] == pytest.approx(m_v, abs=1e-9)
    assert p.abs_v.ok.tolist() == p.abs_g.ok.tolist() == p.abs_i.ok.tolist() == [True, False]
    assert "inconsistent with an RR Lyrae at the bulge distance" in p.abs_g.reason[1]
    assert p.teff.ok.all() and p.teff.value[0] == p.teff.value[1]


def test_teff_scale_reproduces_the_sun():
    # the colour-Teff relation itself at the Sun's Gaia colour
    t = cal.teff_from_bp_rp0(cal.Calibrated([0.82], [0.01], "Sun"), feh=0.0, logg=4.44)
    assert t.value[0] == pytest.approx(5772, abs=60)
    # the full V-I chain (Riello transformation + relation) at the Sun's (V-I)_C
    sun = cal.teff_from_vi0(cal.Calibrated([0.702], [0.010], "Sun"), feh=0.0, logg=4.44)
    report("Sun through the V-I chain", teff=float(sun.value[0]), sigma=float(sun.sigma[0]))
    assert abs(sun.value[0] - 5772) < max(150.0, 1.5 * sun.sigma[0])
    # Lupton (2005) g,r,i -> V-I at the Sun's SDSS colours (A_r = 0: nothing removed)
    vi = cal.stripe82_vi0([10.44 + 0.11], [10.11], [10.0], [0.0])
    assert vi.value[0] == pytest.approx(0.702, abs=0.03)


def test_same_colour_same_teff_whichever_survey():
    vi0 = 0.45
    bulge = cal.bulge_rr_lyrae_parameters([17.0 + vi0 + 0.8], [17.0],
                                          cal.Calibrated([0.8], [0.0], "x"), feh=cal.HALO_FEH)
    # an SDSS star whose Lupton colours give the same (V-I)_0: choose r-i = 0.05, solve g-r
    r_i = 0.05
    g_r = (vi0 - 0.3782 - 1.2444 * r_i) / 0.4216
    s82 = cal.stripe82_rr_lyrae_parameters([16.0 + g_r + r_i], [16.0 + r_i], [16.0], [0.0], [10.0])
    assert s82.vi0.value[0] == pytest.approx(vi0, abs=1e-9)
    assert s82.teff.value[0] == pytest.approx(bulge.teff.value[0], abs=1e-6)


def test_paper_convention_is_labelled_and_never_the_default():
    teff, abs_g = cal.paper_convention([5000.0], [1.8])
    assert teff.source == cal.PAPER_CONVENTION_TEFF and "NOT physical" in teff.source
    assert abs_g.source == cal.PAPER_CONVENTION_ABS_G
    for result in (cal.lmc_parameters([15.8], [15.0]).abs_g,
                   cal.bulge_rr_lyrae_parameters([17.0], [16.0], cal.Calibrated([0.8], 0.07, "x")).teff,
                   cal.stripe82_rr_lyrae_parameters([16.2], [16.0], [15.95], [0.1], [10.0]).teff):
        assert "teff_val" not in result.source and "paper convention" not in result.source


# --------------------------------------------------------------------------- light-curve helper

def _synthetic_rrab(rng, n_v=60, n_i=800, period=0.57, vi_offset=1.2):
    """V and I curves of an RRab-like shape with known colour at minimum light."""
    amp = np.array([0.40, 0.18, 0.11, 0.06, 0.03])
    phs = np.array([0.0, 1.2, 2.5, 3.9, 5.1])

    def v_true(phi):
        return 17.0 + sum(a * np.cos(2 * np.pi * (k + 1) * phi + p) for k, (a, p) in enumerate(zip(amp, phs)))

    def i_true(phi):   # smaller amplitude, redder at minimum
        return 17.0 - vi_offset + 0.6 * (v_true(phi) - 17.0)

    t_v = np.sort(rng.uniform(0, 2000, n_v))
    t_i = np.sort(rng.uniform(0, 2000, n_i))
    v = v_true(t_v / period % 1) + rng.normal(0, 0.015, n_v)
    i = i_true(t_i / period % 1) + rng.normal(0, 0.01, n_i)
    grid = np.linspace(0, 1, 20000, endpoint=False)
    phi_max = grid[np.argmin(v_true(grid))]
    win = (phi_max + np.linspace(0.5, 0.8, 3001)) % 1
    return t_v, v, t_i, i, period, float(np.mean(v_true(win) - i_true(win)))


def test_colour_at_minimum_recovers_a_known_colour():
    rng = np.random.default_rng(42)
    pulls = []
    for _ in range(20):
        t_v, v, t_i, i, period, truth = _synthetic_rrab(rng)
        got = cal.colour_at_minimum(t_v, v, t_i, i, period)
        assert got.ok and 0 < got.sigma < 0.02
        pulls.append((got.value - truth) / got.sigma)
    pulls = np.array(pulls, dtype=float)
    report("synthetic minimum-light colour", mean_pull=float(pulls.mean()), rms_pull=float(pulls.std()))
    assert abs(pulls.mean()) < 1.0 and pulls.std() < 2.0
    # a V curve that misses a third of the cycle is refused, not extrapolated
    t_v, v, t_i, i, period, _ = _synthetic_rrab(rng)
    missing = (t_v / period % 1 > 0.55) & (t_v / period % 1 < 0.9)
    got = cal.colour_at_minimum(t_v[~missing], v[~missing], t_i, i, period)
    assert not got.ok and "gap" in str(got.reason)


# --------------------------------------------------------------------------- LMC Leavitt law

def test_leavitt_law_of_ogle3_lmc_cepheids(data_root):
    table = read_ogle3_catalogue(data_root / "ogle3_catalog")
    cep = table[(table["Type"] == "Cep") & (table["Subtype"] == "F")
                & table.index.str.startswith("OGLE-LMC")].dropna(subset=["I", "V", "P_1"])
    assert len(cep) > 1500
    log_p = np.log10(cep["P_1"].to_numpy())
    w = cal.lmc_absolute_wesenheit(cep["V"].to_numpy(), cep["I"].to_numpy())
    assert w.ok.all()
    slope, zp, rms, n = cal.clipped_line(log_p, w.value)
    p = cal.lmc_parameters(cep["V"].to_numpy(), cep["I"].to_numpy())
    slope_i, zp_i, rms_i, _ = cal.clipped_line(log_p, p.abs_i.value)
    report("LMC F-mode Cepheids, M_W = a log P + b", n=n, a=slope, b=zp, rms=rms,
           published_a=SOSZYNSKI08_W_SLOPE, published_b=SOSZYNSKI08_W_ZP - MU_LMC)
    report("LMC F-mode Cepheids, M_I = a log P + b", a=slope_i, b=zp_i, rms=rms_i,
           published_a=UDALSKI99_I_SLOPE, median_abs_g=float(np.median(p.abs_g.value)))
    # Soszynski et al. 2008, shifted by mu0 = 18.477 (Pietrzynski et al. 2019)
    assert slope == pytest.approx(SOSZYNSKI08_W_SLOPE, abs=0.05)
    assert zp == pytest.approx(SOSZYNSKI08_W_ZP - MU_LMC, abs=0.04)
    assert rms < 0.12
    assert slope_i == pytest.approx(UDALSKI99_I_SLOPE, abs=0.08)
    # classical Cepheids are luminous: M_G between about -1 and -7, never the paper's +1
    assert -5.0 < np.median(p.abs_g.value) < -2.0


# --------------------------------------------------------------------------- bulge RR Lyrae

@pytest.fixture(scope="module")
def bulge(data_root):
    """Every bulge RR Lyrae with V and I curves: catalogue row, minimum-light colour, parameters."""
    folder = data_root / "ogle4_blg_rrlyr"
    cat = pd.read_csv(folder / "OGLE_RR.csv").set_index("ID")
    curves: dict[str, dict[str, np.ndarray]] = {"I": {}, "V": {}}
    with tarfile.open(folder / "phot.tar.xz", mode="r|*") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".dat"):
                continue
            band, star = member.name.split("/")[-2], member.name.split("/")[-1][:-4]
            data = np.array(tar.extractfile(member).read().split(), dtype=float).reshape(-1, 3)
            curves[band][star] = data
    ids = sorted(s for s in curves["V"] if s in curves["I"] and s in cat.index)
    cat = cat.loc[ids]
    vi_min = cal.Calibrated.stack([
        cal.colour_at_minimum(curves["V"][s][:, 0], curves["V"][s][:, 1],
                              curves["I"][s][:, 0], curves["I"][s][:, 1], float(cat.at[s, "P_1"]))
        for s in ids])
    ab = (cat["Type"] == "RRab").to_numpy()
    rc = (cat["Type"] == "RRc").to_numpy()
    e_ab = cal.reddening_from_minimum_colour(vi_min[ab])
    ra, dec = cat["RA"].to_numpy(), cat["Decl"].to_numpy()
    e_c = cal.reddening_from_neighbours(ra[rc], dec[rc], ra[ab], dec[ab], e_ab)
    v = cat["V"].where(cat["V"] > -90).to_numpy()
    i = cat["I"].where(cat["I"] > -90).to_numpy()
    return {"cat": cat, "ab": ab, "rc": rc, "vi_min": vi_min, "e_ab": e_ab, "e_c": e_c,
            "p_ab": cal.bulge_rr_lyrae_parameters(v[ab], i[ab], e_ab),
            "p_c": cal.bulge_rr_lyrae_parameters(v[rc], i[rc], e_c)}


def test_bulge_reddening_from_minimum_light(bulge):
    e_ab, e_c, cat = bulge["e_ab"], bulge["e_c"], bulge["cat"]
    assert e_ab.ok.mean() > 0.95 and e_c.ok.mean() > 0.85
    q = np.nanpercentile(e_ab.value, [5, 25, 50, 75, 95])
    report("bulge RRab E(V-I) from minimum light", n=int(e_ab.ok.sum()),
           p5=q[0], p25=q[1], median=q[2], p75=q[3], p95=q[4],
           median_sigma=float(np.nanmedian(e_ab.sigma)), refused=e_ab.refusals())
    qc = np.nanpercentile(e_c.value, [5, 50, 95])
    report("bulge RRc E(V-I) from RRab neighbours", n=int(e_c.ok.sum()), p5=qc[0], median=qc[1],
           p95=qc[2], median_sigma=float(np.nanmedian(e_c.sigma)), refused=e_c.refusals())
    # fields around Baade's window (l = 0.4..2.6, b = -4.8..-2.6): heavily but not extremely reddened
    assert 0.4 < q[0] and q[-1] < 1.8 and 0.55 < q[2] < 1.2
    # the neighbour method is unbiased: RRab reddening predicted from the other RRab around them
    ab = bulge["ab"]
    ra, dec = cat["RA"].to_numpy()[ab], cat["Decl"].to_numpy()[ab]
    loo = cal.reddening_from_neighbours(ra, dec, ra, dec, e_ab)
    offset, spread = robust(e_ab.value - loo.value)
    report("RRab own minus neighbour E(V-I)", median=offset, robust_sigma=spread,
           expected_sigma=float(np.nanmedian(np.hypot(e_ab.sigma, loo.sigma))))
    assert abs(offset) < 0.03 and spread < 0.2


def test_bulge_rr_lyrae_absolute_magnitude_and_teff(bulge, data_root):
    p_ab, p_c, cat = bulge["p_ab"], bulge["p_c"], bulge["cat"]
    mv_ab, mv_ab_sd = robust(p_ab.abs_v.value)
    mv_c, _ = robust(p_c.abs_v.value)
    t_ab, t_c = float(np.nanmedian(p_ab.teff.value)), float(np.nanmedian(p_c.teff.value))
    expected = cal.expected_rr_lyrae_abs_v(cal.BULGE_FEH)
    report("bulge RR Lyrae", M_V_RRab=mv_ab, M_V_robust_sd=mv_ab_sd, M_V_RRc=mv_c,
           M_V_expected=float(expected.value), M_I_RRab=robust(p_ab.abs_i.value)[0],
           M_G_RRab=robust(p_ab.abs_g.value)[0], Teff_RRab=t_ab, Teff_RRc=t_c,
           n_teff_ab=int(p_ab.teff.ok.sum()), n_teff_c=int(p_c.teff.ok.sum()),
           teff_sigma_ab=float(np.nanmedian(p_ab.teff.sigma)),
           teff_refused_c=p_c.teff.refusals())
    # published RR Lyrae M_V at the bulge metallicity, within extinction-law and depth systematics
    assert abs(mv_ab - expected.value) < 0.25
    # scatter: bulge depth (0.25) and extinction errors, not the paper's 2-mag spread
    assert mv_ab_sd < 0.5
    assert RRAB_TEFF_WINDOW[0] < t_ab < RRAB_TEFF_WINDOW[1]
    assert RRC_TEFF_WINDOW[0] < t_c < RRC_TEFF_WINDOW[1]
    assert t_c - t_ab > 200
    assert p_ab.teff.ok.mean() > 0.9 and p_c.teff.ok.mean() > 0.75
    # the paper convention for the same stars, for the record
    xm = read_gaia_xmatch(data_root / "gaia_dr2_xmatch")
    shared = xm.index.intersection(cat.index[bulge["ab"] | bulge["rc"]])
    ours = pd.Series(np.concatenate([p_ab.teff.value, p_c.teff.value]),
                     index=np.concatenate([cat.index[bulge["ab"]], cat.index[bulge["rc"]]]))
    paper = xm.loc[shared, "teff_val"].dropna()
    report("bulge paper convention (Gaia DR2 teff_val) vs this calibration, same stars",
           n=len(paper), paper_median=float(paper.median()),
           ours_median=float(np.nanmedian(ours.loc[paper.index])))


# --------------------------------------------------------------------------- Stripe 82 RR Lyrae

@pytest.fixture(scope="module")
def stripe82(data_root):
    folder = data_root / "sdss_s82_rrlyrae"
    t = sdss.read_table3(folder).join(sdss.read_table2(folder)[["type", "P"]], how="inner")
    p = cal.stripe82_rr_lyrae_parameters(t["gF"], t["rF"], t["iF"], t["rExt"], t["d"])
    return t, p


def test_stripe82_table3_magnitudes_are_already_dereddened(data_root):
    """Guards stripe82_vi0's assumption: table-1 epochs, flux-averaged, minus gF = A_g."""
    folder = data_root / "sdss_s82_rrlyrae"
    t3 = sdss.read_table3(folder)
    diffs = []
    with tarfile.open(folder / "table1.tar.gz", mode="r|*") as tar:
        for member in tar:
            star = member.name.split("/")[-1].removesuffix(".dat")
            if not member.isfile() or star not in t3.index:
                continue
            rows = np.array(tar.extractfile(member).read().split(), dtype=float).reshape(-1, 17)
            g = rows[:, 6]
            g = g[(g > 0) & (g < 30)]
            flux_mean = -2.5 * np.log10(np.mean(10 ** (-0.4 * g)))
            a_g = t3.at[star, "rExt"] * 3.793 / 2.751
            diffs.append(flux_mean - t3.at[star, "gF"] - a_g)
            if len(diffs) == 40:
                break
    offset, spread = robust(np.array(diffs))
    report("Stripe 82 (raw flux mean - gF) - A_g", n=len(diffs), median=offset, robust_sigma=spread)
    assert abs(offset) < 0.04


def test_stripe82_teff_on_the_bulge_scale(stripe82, bulge):
    t, p = stripe82
    ab, rc = (t["type"] == "ab").to_numpy(), (t["type"] == "c").to_numpy()
    t_ab, t_c = float(np.nanmedian(p.teff.value[ab])), float(np.nanmedian(p.teff.value[rc]))
    bulge_ab = float(np.nanmedian(bulge["p_ab"].teff.value))
    bulge_c = float(np.nanmedian(bulge["p_c"].teff.value))
    report("Stripe 82 RR Lyrae", n_ab=int(ab.sum()), n_c=int(rc.sum()), Teff_RRab=t_ab,
           Teff_RRc=t_c, vi0_RRab=float(np.nanmedian(p.vi0.value[ab])),
           vi0_RRc=float(np.nanmedian(p.vi0.value[rc])),
           M_V_RRab=robust(p.abs_v.value[ab])[0], M_G_RRab=robust(p.abs_g.value[ab])[0],
           teff_sigma=float(np.nanmedian(p.teff.sigma)), refused=p.teff.refusals())
    assert p.teff.ok.mean() > 0.95
    assert RRAB_TEFF_WINDOW[0] < t_ab < RRAB_TEFF_WINDOW[1]
    assert RRC_TEFF_WINDOW[0] < t_c < RRC_TEFF_WINDOW[1]
    assert t_c - t_ab > 200
    # one Teff scale: RR Lyrae of the same mode agree across surveys within the shared
    # systematics (minimum-light colour zero point, colour transformations) plus population
    # differences between the bulge ([Fe/H] ~ -1.0) and the halo ([Fe/H] ~ -1.5)
    assert abs(t_ab - bulge_ab) < 300 and abs(t_c - bulge_c) < 300
    # Sesar et al.'s distances with our V: the published RR Lyrae M_V at [Fe/H] = -1.5
    assert abs(robust(p.abs_v.value[ab])[0] - cal.RR_LYRAE_MV_AT_FEH_M15.value) < 0.2


def test_stripe82_absolute_magnitudes_say_they_carry_no_star_by_star_information(stripe82):
    """Sesar et al.'s distances rest on an M_V-[Fe/H] relation, so V_0 - mu gives every star
    nearly the same M_V: its spread over the stars is far below the per-star uncertainty,
    and each value's provenance says what it is."""
    _, p = stripe82
    ok = p.abs_v.ok
    spread = robust(p.abs_v.value[ok])[1]
    report("Stripe 82 M_V", n=int(ok.sum()), robust_spread=spread,
           median_sigma=float(np.median(p.abs_v.sigma[ok])))
    assert spread < 0.05 < 0.09 < float(np.median(p.abs_v.sigma[ok]))
    for value in (p.abs_v, p.abs_i, p.abs_g):
        assert "not each star's own luminosity" in value.source


def test_reddening_accepts_plain_colours():
    e = cal.reddening_from_minimum_colour([1.38, 0.58], sigma=[0.02, 0.02])
    assert e.value == pytest.approx([0.80, 0.0])
    # 0.02 measurement (+) 0.07 star-to-star (+) 0.02 zero point (Guldenschuh et al. 2005)
    assert e.sigma[0] == pytest.approx(math.sqrt(0.02 ** 2 + 0.07 ** 2 + 0.02 ** 2))
    assert e.sigma_sys[0] == pytest.approx(0.02)
