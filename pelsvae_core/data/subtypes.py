"""One vocabulary of subtypes (pulsation modes, eclipsing morphologies) across surveys.

Each survey spells subtypes its own way (Catalina type codes, CRTS file-name
labels, OGLE mode strings, SDSS ``ab``/``c``); :func:`normalise` maps them to
one set of names so that, e.g., an RRc from OGLE and one from Catalina are the
same condition for the model. The Blazhko effect is an amplitude/phase
modulation that any RR Lyrae mode can show (Blazhko 1907, AN 175, 325), so it
is returned as a flag beside the subtype, never as a subtype. Labels that name
no subtype of this vocabulary (e.g. Catalina's bare ``DSCT``, CRTS ``Cep_II``,
OGLE ``pWVir``) give :data:`UNKNOWN` rather than a guess.
"""
from __future__ import annotations

import re

UNKNOWN = "unknown"
MULTI_MODE = "multi-mode"

#: The subtypes of each class; every other class has none (always :data:`UNKNOWN`).
SUBTYPES: dict[str, tuple[str, ...]] = {
    "RRLYR": ("RRab", "RRc", "RRd"),
    "CEP": ("F", "1O", "2O", MULTI_MODE),
    "ECL": ("EA", "EW", "EB"),
    "DSCT": ("HADS", "LADS"),
    "T2CEP": ("BLHer", "WVir", "RVTau"),
}

#: Survey labels (other than Cepheid mode strings) per class -> subtype.
_LABELS: dict[str, dict[str, str]] = {
    # SDSS Stripe 82 table 2 gives "ab"/"c" (Sesar et al. 2010); the reader writes "RRab"/"RRc".
    "RRLYR": {"RRab": "RRab", "ab": "RRab", "RRc": "RRc", "c": "RRc", "RRd": "RRd", "d": "RRd"},
    # CRTS "beta_lyrae" (Drake et al. 2014) is the GCVS type EB, "beta Lyrae-type eclipsing
    # systems" (Samus et al. 2017, ARep 61, 80).
    "ECL": {"EA": "EA", "EW": "EW", "EB": "EB", "beta_lyrae": "EB"},
    "DSCT": {"HADS": "HADS", "LADS": "LADS"},
    # OGLE-III type II Cepheid subtypes (Soszynski et al. 2008, AcA 58, 293); "pWVir"
    # (peculiar W Vir, binaries with other light-curve shapes) is deliberately left unknown.
    "T2CEP": {"BLHer": "BLHer", "WVir": "WVir", "RVTau": "RVTau"},
}
#: RR Lyrae labels that say "Blazhko-modulated" without giving the mode (Catalina code 4, CRTS).
_BLAZHKO = frozenset({"Blazhko"})

#: One OGLE pulsation mode: F (fundamental) or the n-th overtone, written "1O" (ident.dat) or
#: "1" (OGLE-III catalogue Subtype column, e.g. "F1", "12", "123").
_MODE = r"F|[1-3]O?"
_MODES = re.compile(rf"(?:{_MODE})(?:/?(?:{_MODE}))*")
_SINGLE_MODES = {"F": "F", "1O": "1O", "1": "1O", "2O": "2O", "2": "2O"}


def cepheid_mode(label: str) -> str:
    """``F``, ``1O``, ``2O`` or ``multi-mode`` from an OGLE mode string, else :data:`UNKNOWN`.

    OGLE writes double- and triple-mode Cepheids as ``F/1O``, ``1O/2O``, ``1O/2O/3O``
    (ident.dat, Soszynski et al. 2008, AcA 58, 163) or ``F1``, ``12``, ``123`` (catalogue
    Subtype); the separator is optional here so ``F1O`` and ``1O2O`` are read too.
    """
    if not _MODES.fullmatch(label):
        return UNKNOWN
    modes = [m.rstrip("O") for m in re.findall(_MODE, label)]
    if len(modes) == 1:
        return _SINGLE_MODES.get(label, UNKNOWN)
    return MULTI_MODE if len(set(modes)) == len(modes) else UNKNOWN


def normalise(cls: str, label: str) -> tuple[str, bool]:
    """The vocabulary's ``(subtype, blazhko)`` for a survey's class and subtype label.

    =====  ===========================================  =================  =======
    class  label (source)                               subtype            blazhko
    =====  ===========================================  =================  =======
    RRLYR  RRab, ab (Catalina 1, CRTS, OGLE-IV, Gaia,   RRab               False
           SDSS)
    RRLYR  RRc, c (Catalina 2, CRTS, OGLE-IV, Gaia,     RRc                False
           SDSS)
    RRLYR  RRd, d (Catalina 3, CRTS, OGLE-IV, Gaia)     RRd                False
    RRLYR  Blazhko (Catalina 4, CRTS)                   unknown            True
    CEP    F (OGLE)                                     F                  False
    CEP    1O, 1 (OGLE)                                 1O                 False
    CEP    2O, 2 (OGLE)                                 2O                 False
    CEP    F/1O, 1O/2O, 1O/3O, 2O/3O, F/1O/2O,          multi-mode         False
           1O/2O/3O, F1O, 1O2O, F1, 12, 123 (OGLE)
    ECL    EA (Catalina 6, CRTS)                        EA                 False
    ECL    EW (Catalina 5, CRTS)                        EW                 False
    ECL    EB, beta_lyrae (CRTS)                        EB                 False
    DSCT   HADS, LADS (CRTS)                            HADS, LADS         False
    T2CEP  BLHer, WVir, RVTau (OGLE-III catalogue)      BLHer, WVir, RVTau False
    any    anything else, e.g. DSCT "DSCT", T2CEP       unknown            False
           "T2CEP"/"Cep_II", ACEP, LPV, ELL, OTHER,
           OGLE "pWVir", "RRe", ""
    =====  ===========================================  =================  =======

    Surrounding whitespace in ``label`` is ignored; matching is otherwise exact.
    """
    label = label.strip()
    if cls == "RRLYR" and label in _BLAZHKO:
        return UNKNOWN, True
    if cls == "CEP":
        return cepheid_mode(label), False
    return _LABELS.get(cls, {}).get(label, UNKNOWN), False
