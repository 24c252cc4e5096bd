"""Check the calibrated physics of the cache against published relations; print the README's numbers.

1. Leavitt law: the OGLE-III LMC fundamental-mode Cepheids kept in the cache, absolute
   Wesenheit M_W = I - 1.55 (V - I) - mu0 (catalogue mean V, I; mu0 = 18.477, Pietrzynski et
   al. 2019) against log P, least squares with 3-sigma clipping; published: Soszynski et al.
   2008, AcA 58, 163, W_I = -3.314 log P + 15.888, i.e. a zero point 15.888 - 18.477 = -2.589.
   The cache's M_G of the same stars against log P, for the record.
2. RR Lyrae per survey and mode: median M_V (:mod:`pelsvae_core.data.star_physics`, the
   values behind the cache's M_G), median Teff and M_G of the stars kept in the cache, and the
   paper's convention beside them. Published: <M_V> = 0.59 + 0.214 ([Fe/H] + 1.5) (Cacciari &
   Clementini 2003; Clementini et al. 2003): 0.69 at the bulge's [Fe/H] = -1.02, 0.59 at the
   halo's -1.5; mean Teff of RRab about 6,100-6,900 K, of RRc 6,800-7,500 K (Catelan & Smith
   2015, Pulsating Stars), RRc hotter than RRab in every survey.

Run: ``.venv/bin/python benchmarks/physics_check.py`` (reads the cache, building it if stale,
and the OGLE-IV curves once: about 20 s on a current cache).
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from pelsvae_core import paths
from pelsvae_core.data import cache, calibration, ogle, ogle4_bulge, sdss, star_physics
from pelsvae_core.data.surveys import DataRoot

SOSZYNSKI08_SLOPE, SOSZYNSKI08_ZERO_POINT = -3.314, 15.888


def leavitt(root: DataRoot, stars: pd.DataFrame) -> None:
    kept = stars[(stars["survey"] == ogle.SURVEY) & (stars["status"] == cache.KEPT)
                 & (stars["subtype"] == "F")].drop_duplicates("star_id").set_index("star_id")
    catalogue = root.ogle3_catalogue.reindex(kept.index)
    log_p = np.log10(kept["period"].to_numpy(float))
    w = calibration.lmc_absolute_wesenheit(catalogue["V"].to_numpy(float),
                                           catalogue["I"].to_numpy(float))
    a, b, rms, n = calibration.clipped_line(log_p, w.value)
    zero_point = SOSZYNSKI08_ZERO_POINT - calibration.LMC_DISTANCE_MODULUS.value
    print(f"Leavitt law, {n} of {len(kept)} LMC F-mode Cepheids kept in the cache:")
    print(f"  M_W = {a:.3f} log P {b:+.3f} (rms {rms:.3f} mag); published {SOSZYNSKI08_SLOPE:.3f} "
          f"log P {zero_point:+.3f} (Soszynski et al. 2008 shifted by mu0 = "
          f"{calibration.LMC_DISTANCE_MODULUS.value})")
    a_g, b_g, rms_g, n_g = calibration.clipped_line(log_p, kept["abs_mag"].to_numpy(float))
    print(f"  cache M_G = {a_g:.3f} log P {b_g:+.3f} (rms {rms_g:.3f}, {n_g} stars); median M_G "
          f"{np.nanmedian(kept['abs_mag']):.2f} (paper convention {np.nanmedian(kept['abs_mag_paper']):+.2f})")


def rr_lyrae(root: DataRoot, stars: pd.DataFrame) -> None:
    bulge = star_physics.bulge_rr_lyrae(ogle4_bulge.read_catalogue(root.path / "ogle4_blg_rrlyr"),
                                        root.ogle4_curves)
    folder = root.path / "sdss_s82_rrlyrae"
    s82 = star_physics.stripe82_rr_lyrae(sdss.read_table3(folder), sdss.read_table2(folder))
    abs_v = pd.Series(np.concatenate([g.params.abs_v.value for g in (*bulge, s82)]),
                      index=np.concatenate([g.ids for g in (*bulge, s82)]))
    kept = stars[(stars["cls"] == "RRLYR") & (stars["status"] == cache.KEPT)
                 & stars["survey"].isin([ogle4_bulge.SURVEY, "Gaia DR3", sdss.SURVEY])]
    per_star = kept.drop_duplicates("star_key").copy()
    per_star["abs_v"] = per_star["physical_star"].str.replace(f"{sdss.SURVEY}:", "").map(abs_v)
    table = per_star.groupby(["survey", "subtype"]).agg(
        stars=("star_key", "size"), with_teff=("teff", "count"),
        teff=("teff", "median"), teff_paper=("teff_paper", "median"),
        abs_v=("abs_v", "median"), abs_g=("abs_mag", "median"),
        abs_g_paper=("abs_mag_paper", "median"))
    expected = {f"[Fe/H] = {feh.value:+.2f} ({where})": float(calibration.expected_rr_lyrae_abs_v(feh).value)
                for where, feh in (("bulge", calibration.BULGE_FEH), ("halo", calibration.HALO_FEH))}
    print("\nRR Lyrae kept in the cache, medians per survey and mode (M_V from star_physics):")
    print(table.round({"teff": 0, "teff_paper": 0, "abs_v": 2, "abs_g": 2, "abs_g_paper": 2})
          .to_string())
    print("  published M_V: " + ", ".join(f"{v:.2f} at {k}" for k, v in expected.items()))
    for survey, part in table.groupby(level=0):
        modes = part.droplevel(0)["teff"]
        if {"RRab", "RRc"} <= set(modes.index):
            print(f"  {survey}: RRc - RRab = {modes['RRc'] - modes['RRab']:+.0f} K")
    refused = pd.Series(np.concatenate([g.params.abs_v.reason for g in bulge])).value_counts()
    print("  bulge stars without M_V, by reason: "
          + "; ".join(f"{n} {why[:70]}" for why, n in refused.items() if why))


def main() -> int:
    root = DataRoot(paths.data_root())
    stars = cache.load().stars
    leavitt(root, stars)
    rr_lyrae(root, stars)
    return 0


if __name__ == "__main__":
    sys.exit(main())
