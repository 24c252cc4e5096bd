"""Training sets: splits by star, class-balancing augmentation, fixed-length arrays.

Splits are drawn over physical stars, not curves (paper Sect. 3.2: 60/20/20,
stratified by class), so every band of a star, its curves from every survey that
saw it (``physical_star``: an OGLE-IV star and its Gaia DR3 curves are one star),
and every augmented copy of it land in the same split; the original code's leak
of one star into both training and validation cannot happen. Augmentation
(paper Sect. 2.2: Gaussian resampling within the errors, a phase shift,
undersampling) is applied to the training split only; validation and test hold
real curves.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from .. import fourier
from .preprocess import resample
from .records import CLASSES
from .subtypes import UNKNOWN
from .surveys import SURVEY_KEYS, SURVEY_NAMES

SPLITS = ("train", "val", "test")
AUGMENTATIONS = ("bootstrap", "paper")
#: Which Teff and absolute-magnitude columns of the cache a training set uses: the calibrated
#: scale (:mod:`.calibration`), or the convention models were trained on before it (the paper's
#: Gaia DR2 teff_val/abs_Gmag; :mod:`.sdss_physics` for Stripe 82).
PHYSICS_COLUMNS = {"calibrated": ("teff", "abs_mag"), "paper": ("teff_paper", "abs_mag_paper")}


@dataclass(frozen=True)
class DatasetConfig:
    """What goes into a training set, and how it is balanced."""

    n_points: int = 300
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    seed: int = 42
    bands: tuple[str, ...] | None = None  # None: every band
    classes: tuple[str, ...] = CLASSES
    #: Paper Sect. 2.2: classes with at least ``large_class`` training curves are
    #: brought to ``large_target`` curves, the others to ``small_target``; a class
    #: above its target is reduced, keeping stars with physical parameters first.
    large_class: int = 2000
    large_target: int = 10_000
    small_target: int = 5_000
    #: Phase shifts are drawn from U(-s, s). The paper draws U(0, 1); here the phase zero is
    #: aligned to maximum light, and even s = 0.05 flattened the copies' median curve by
    #: 6-12 % on ACEP and T2CEP, so copies are not shifted unless asked.
    max_phase_shift: float = 0.0
    #: "bootstrap" (default) or "paper": how augmented copies get their noise (:func:`_augment`).
    augmentation: str = "bootstrap"
    #: Which physics the curves carry: "calibrated" or "paper" (:data:`PHYSICS_COLUMNS`).
    physics: str = "calibrated"
    #: Which surveys go into the training set (keys of :data:`.surveys.SURVEYS`): every
    #: registered one by default, listed, so a model's metadata says which it saw.
    surveys: tuple[str, ...] = SURVEY_KEYS

    def __post_init__(self):
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation={self.augmentation!r}: choose one of {', '.join(AUGMENTATIONS)}")
        if self.physics not in PHYSICS_COLUMNS:
            raise ValueError(f"physics={self.physics!r}: choose one of {', '.join(PHYSICS_COLUMNS)}")
        unknown = [s for s in self.surveys if s not in SURVEY_NAMES]
        if unknown or not self.surveys:
            raise ValueError(f"surveys={list(self.surveys)!r}: choose among {', '.join(SURVEY_KEYS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def star_seed(seed: int, star_key: str) -> int:
    """A per-star seed that does not depend on the order stars were read in."""
    return seed * 1_000_003 + zlib.crc32(star_key.encode())


def surveys_of(star_keys) -> pd.Series:
    """The survey of each star key (``"<survey>:<id>"``, :attr:`.records.LightCurve.star_key`)."""
    return pd.Series(star_keys).astype(str).str.split(":", n=1).str[0]


def star_rank(seed: int, star: str) -> int:
    """A star's place in its class's split order: 64 bits of BLAKE2b of (seed, star), the same
    whichever other stars a build keeps."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{star}".encode(), digest_size=8).digest(), "big")


def split_by_star(stars: pd.DataFrame, fractions=(0.6, 0.2, 0.2), seed: int = 42) -> pd.Series:
    """Assign each physical star (``physical_star``) to train/val/test, stratified by class:
    the class's stars in :func:`star_rank` order, the first ``fractions[0]`` train, the next
    ``fractions[1]`` val, the rest test. Ranked by a hash, not shuffled: a build that keeps one
    star more or less moves only the stars at the two cuts, where a shuffle of the class's
    list dealt all of them anew (models/default's test split, rebuilt after 21 of its CRTS
    curves left the build, held 1,176 curves of its training stars; a model's own data now
    keep its recorded splits anyway, :func:`build_training_set`).

    A star whose surveys disagree on its class is stratified with the class of its
    first row in (``physical_star``, ``star_key``) order; its curves still share one split.
    """
    ordered = stars.sort_values(["physical_star", "star_key"], kind="stable")
    per_star = ordered.drop_duplicates("physical_star").set_index("physical_star")["cls"].sort_index()
    assignment = {}
    for _, keys in per_star.groupby(per_star, sort=True):
        keys = np.array(sorted(keys.index, key=lambda star: (star_rank(seed, star), star)), dtype=object)
        n_train = int(round(fractions[0] * len(keys)))
        n_val = int(round(fractions[1] * len(keys)))
        for i, key in enumerate(keys):
            assignment[key] = SPLITS[0] if i < n_train else SPLITS[1] if i < n_train + n_val else SPLITS[2]
    return pd.Series(assignment, name="split")


@dataclass
class TrainingSet:
    """Fixed-length curves with everything a model conditions on, as NumPy arrays."""

    phase: np.ndarray      # (N, L) float32, sorted
    mag: np.ndarray        # (N, L) float32 in [0, 1]
    err: np.ndarray        # (N, L) float32
    mask: np.ndarray       # (N, L) bool: distinct real observations
    cls: np.ndarray        # (N,) int64 index into ``classes``
    band: np.ndarray       # (N,) int64 index into ``bands``
    teff: np.ndarray       # (N,) float32, NaN where unknown
    abs_mag: np.ndarray    # (N,) float32, NaN where unknown
    log_period: np.ndarray  # (N,) float32, log10 days
    amplitude: np.ndarray  # (N,) float32, magnitudes
    mean_mag: np.ndarray   # (N,) float32
    split: np.ndarray      # (N,) str
    star_key: np.ndarray   # (N,) str
    augmented: np.ndarray  # (N,) bool
    #: (N,) str in the vocabulary of :mod:`.subtypes`, "unknown" where the survey does not say;
    #: None (sets built by hand) means unknown throughout
    subtype: np.ndarray | None = None
    classes: tuple[str, ...] = CLASSES
    bands: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.subtype is None:
            self.subtype = np.full(self.cls.size, UNKNOWN)

    def __len__(self) -> int:
        return int(self.cls.size)

    def subset(self, which: np.ndarray) -> "TrainingSet":
        """Rows selected by a boolean mask or index array."""
        arrays = {k: v[which] for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        return TrainingSet(**arrays, classes=self.classes, bands=self.bands)

    def split_part(self, name: str) -> "TrainingSet":
        return self.subset(self.split == name)

    def own_fourier_fits(self, order: int) -> np.ndarray:
        """Each curve's own weighted Fourier fit of ``order`` (:func:`pelsvae_core.fourier.fit`,
        on its distinct observations), evaluated at all its phases: (N, L) float64."""
        out = np.empty(self.mag.shape)
        for i, m in enumerate(self.mask):
            coeffs = fourier.fit(self.phase[i][m], self.mag[i][m], self.err[i][m], order)
            out[i] = fourier.evaluate(coeffs, self.phase[i])
        return out

    def smoothed(self, order: int) -> "TrainingSet":
        """The same rows with each curve's observed magnitudes replaced by its own order-``order``
        Fourier fit at the same phases (errors, mask and everything else kept)."""
        return replace(self, mag=self.own_fourier_fits(order).astype(self.mag.dtype))


def _augment(row: pd.Series, n_points: int, max_shift: float, method: str,
             rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """One augmented copy of a folded curve: new noise, a phase shift, undersampling (paper
    Sect. 2.2).

    ``"paper"`` adds Gaussian noise of the quoted errors to the observed magnitudes and
    min-max scales again, so a copy carries sqrt(2) times the real noise and a flatter
    shape: on the noise-dominated classes (ACEP, DSCT, ELL, T2CEP: 94-99 % copies) the
    median curve of the copies spans 25-40 % less than that of the real curves, and a decoder
    trained on them learns flattened shapes. ``"bootstrap"`` draws the star's own observations
    with replacement (Efron 1979, Ann. Stat. 7, 1): a copy has the real curve's noise and
    shape, and the copies' median curve matches the real one."""
    phase, mag, err = row["phase"], row["mag"], row["err"]
    if method == "paper":
        mag = mag + rng.normal(0.0, 1.0, mag.size) * err
        low, high = mag.min(), mag.max()
        scale = high - low if high > low else 1.0
        mag, err = (mag - low) / scale, err / scale
    else:
        pick = rng.choice(mag.size, size=mag.size, replace=True)
        phase, mag, err = phase[pick], mag[pick], err[pick]
    shifted = np.mod(phase + rng.uniform(-max_shift, max_shift), 1.0)
    return resample(shifted, mag, err, n_points, rng)


def _class_plan(train: pd.DataFrame, cfg: DatasetConfig, rng: np.random.Generator) -> dict:
    """Per class: which real training curves to keep and how many augmented copies to add."""
    plan = {}
    for cls, group in train.groupby("cls", sort=True):
        target = cfg.large_target if len(group) >= cfg.large_class else cfg.small_target
        if len(group) > target:
            has_params = group["teff"].notna() | group["abs_mag"].notna()
            priority = rng.permutation(len(group)) + np.where(has_params, 0, len(group))
            group = group.iloc[np.argsort(priority)[:target]]
        plan[cls] = (group, target - len(group))
    return plan


def build_training_set(kept: pd.DataFrame, cfg: DatasetConfig | None = None,
                       splits: pd.Series | None = None) -> TrainingSet:
    """Splits, augmentation of the training split, and fixed-length resampling. ``splits``
    (split by (star key, band), a model's record of its real curves): those curves alone, in
    those splits, instead of splits drawn by :func:`split_by_star`, which deals a class's
    stars anew whenever the build keeps other stars (the training split's curves then are
    the recorded ones, already subsampled to the class's target)."""
    cfg = cfg or DatasetConfig()
    stars = kept[kept["cls"].isin(cfg.classes)
                 & kept["survey"].isin([SURVEY_NAMES[k] for k in cfg.surveys])]
    if cfg.bands is not None:
        stars = stars[stars["band"].isin(cfg.bands)]
    if splits is not None:
        stars = stars[pd.MultiIndex.from_frame(stars[["star_key", "band"]]).isin(splits.index)]
    if stars.empty:
        raise ValueError("no kept curves match the requested classes, surveys and bands")
    teff_column, abs_mag_column = PHYSICS_COLUMNS[cfg.physics]
    stars = (stars.sort_values(["star_key", "band"]).reset_index(drop=True)
             .assign(teff=lambda t: t[teff_column], abs_mag=lambda t: t[abs_mag_column]))
    split = (split_by_star(stars, cfg.fractions, cfg.seed).reindex(stars["physical_star"]).to_numpy()
             if splits is None else
             splits.reindex(pd.MultiIndex.from_frame(stars[["star_key", "band"]])).to_numpy().astype(str))
    bands = tuple(sorted(stars["band"].unique()))
    rng = np.random.default_rng(cfg.seed)

    def real(i: int) -> tuple[np.ndarray, ...]:
        """A real curve resampled with its star's own seed, whatever order rows come in."""
        row_rng = np.random.default_rng(star_seed(cfg.seed, stars.at[i, "star_key"]))
        return resample(*(stars.at[i, c] for c in ("phase", "mag", "err")), cfg.n_points, row_rng)

    records: list[tuple] = []  # (row index, split, augmented, arrays)
    plan = _class_plan(stars.iloc[np.flatnonzero(split == "train")], cfg, rng)
    for cls, (group, n_extra) in plan.items():
        records += [(i, "train", False, real(i)) for i in group.index]
        if n_extra > 0:
            for i in rng.choice(group.index.to_numpy(), size=n_extra, replace=True):
                records.append((i, "train", True, _augment(stars.loc[i], cfg.n_points, cfg.max_phase_shift,
                                                           cfg.augmentation, rng)))
    records += [(i, split[i], False, real(i)) for i in np.flatnonzero(split != "train")]

    rows = np.array([r[0] for r in records])
    curves = [r[3] for r in records]
    meta = stars.iloc[rows]
    class_index = {c: k for k, c in enumerate(cfg.classes)}
    band_index = {b: k for k, b in enumerate(bands)}
    return TrainingSet(
        phase=np.stack([c[0] for c in curves]).astype(np.float32),
        mag=np.stack([c[1] for c in curves]).astype(np.float32),
        err=np.stack([c[2] for c in curves]).astype(np.float32),
        mask=np.stack([c[3] for c in curves]),
        cls=meta["cls"].map(class_index).to_numpy(np.int64),
        band=meta["band"].map(band_index).to_numpy(np.int64),
        teff=meta["teff"].to_numpy(np.float32),
        abs_mag=meta["abs_mag"].to_numpy(np.float32),
        log_period=np.log10(meta["period"].to_numpy(np.float64)).astype(np.float32),
        amplitude=meta["amplitude"].to_numpy(np.float32),
        mean_mag=meta["mean_mag"].to_numpy(np.float32),
        split=np.array([r[1] for r in records]),
        star_key=meta["star_key"].to_numpy(str),
        augmented=np.array([r[2] for r in records]),
        subtype=meta["subtype"].fillna(UNKNOWN).to_numpy(str),
        classes=tuple(cfg.classes), bands=bands)
