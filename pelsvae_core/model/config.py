"""Model configuration: one frozen, versioned record written next to the weights."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

#: Bumped when the saved layout or the meaning of a field changes.
FORMAT_VERSION = 1
ARCHITECTURES = ("tcn", "gru", "lstm")
CURVE_OUTPUTS = ("sigmoid", "linear")
RECONSTRUCTIONS = ("points", "fourier")
#: Bounds on the network's shape, checked before anything is allocated, so that no
#: ``config.json`` can ask for gigabytes: at the bounds a network has at most 89 M
#: parameters (356 MB, a TCN of width 512); the paper's Table 2 network has 0.27 M, the
#: shipped one 0.24 M.
LIMITS = {"latent_dim": (1, 64), "hidden": (1, 512), "blocks": (1, 16), "kernel": (1, 9),
          "rnn_layers": (1, 4), "grid_size": (1, 4096), "decoder_seed_size": (1, 4096),
          "decoder_kernel": (1, 9), "decoder_channels": (1, 256), "encoder_fourier_order": (1, 32),
          "decoder_fourier_order": (1, 32)}
#: At most this many classes and bands, each a distinct non-empty name.
MAX_LABELS = 64


@dataclass(frozen=True)
class ModelConfig:
    """Network shape. ``paper()`` gives the best values of Martinez-Palomera et al. (2022), Table 2."""

    classes: tuple[str, ...]
    bands: tuple[str, ...]
    architecture: str = "tcn"
    latent_dim: int = 4
    hidden: int = 32
    blocks: int = 6
    kernel: int = 5
    rnn_layers: int = 2
    dropout: float = 0.2
    #: cVAE-P: the encoder also sees (Teff, M, log P) with a mask for missing values.
    physics: bool = False
    #: Decoder output grid: the curve is decoded on this many phases in [0, 1) and
    #: interpolated periodically, so a value depends on its phase alone.
    grid_size: int = 128
    #: Width of each upsampling level of the TCN decoder, coarsest first (one level per
    #: doubling from ``decoder_seed_size`` to ``grid_size``); one number means every level.
    #: Narrowing the fine levels is what makes decoding cheap: their cost grows with
    #: grid points times width squared.
    decoder_channels: int | tuple[int, ...] = 32
    decoder_seed_size: int = 16
    #: Kernel of the decoder's circular convolutions; None means ``kernel``.
    decoder_kernel: int | None = None
    #: None: the encoder reads the phase-sorted curve with ``architecture``'s network (the
    #: paper's). A number K: it reads the curve's weighted least-squares Fourier series of order K
    #: (:func:`pelsvae_core.model.networks.fourier_coefficients`) with a small dense network.
    encoder_fourier_order: int | None = None
    #: None: the decoder refines a learned seed with circular convolutions (``decoder_*`` above).
    #: A number K: a dense network gives the Fourier series of order K of the magnitude and of the
    #: error, summed on the grid: periodic, smooth, and as detailed as K allows by construction.
    decoder_fourier_order: int | None = None
    #: How the decoder's last layer becomes the normalised curve: "sigmoid" (the paper's, in
    #: [0, 1] like the min-max scaled training curves) or "linear". The curves' extremes are their
    #: noisy brightest and faintest points, so the true curve nears 0 and 1 where a sigmoid is
    #: flattest: a Fourier series under it must be steep there (a series autoencoder's CEP
    #: two-sample accuracy 0.66 with a sigmoid, 0.62 without; README "Capacity").
    curve_output: str = "sigmoid"
    #: A Fourier encoder reads the class, band (and physics) with the coefficients at its first
    #: layer (True), or after two layers, as models before this setting did (False). Measured:
    #: conditions read late cost most of the detail a 32-dimensional latent can carry (a
    #: series autoencoder's LPV two-sample accuracy 0.68 early vs 0.84 late; README "Capacity").
    early_conditions: bool = False

    def __post_init__(self):
        for name in ("classes", "bands", "decoder_channels"):
            if isinstance(getattr(self, name), list):  # as JSON and TOML give them
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("classes", "bands"):
            labels = getattr(self, name)
            if (not isinstance(labels, tuple) or not 1 <= len(labels) <= MAX_LABELS
                    or not all(isinstance(label, str) and label for label in labels)
                    or len(set(labels)) != len(labels)):
                raise ValueError(f"model setting {name} must list 1 to {MAX_LABELS} distinct "
                                 f"names, not {labels!r}")
        if self.curve_output not in CURVE_OUTPUTS:
            raise ValueError(f"model setting curve_output must be one of {', '.join(CURVE_OUTPUTS)}, "
                             f"not {self.curve_output!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"model setting architecture must be one of {', '.join(ARCHITECTURES)}, "
                             f"not {self.architecture!r}")
        several = {"decoder_channels": self.decoder_channels if isinstance(self.decoder_channels, tuple)
                   else (self.decoder_channels,),
                   "decoder_kernel": () if self.decoder_kernel is None else (self.decoder_kernel,),
                   **{name: () if getattr(self, name) is None else (getattr(self, name),)
                      for name in ("encoder_fourier_order", "decoder_fourier_order")}}
        for name, (low, high) in LIMITS.items():
            for value in several.get(name, (getattr(self, name),)):
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise ValueError(f"model setting {name} must be an integer from {low} to "
                                     f"{high}, not {value!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            raise ValueError(f"model setting dropout must be a number from 0 to below 1, "
                             f"not {self.dropout!r}")
        if not isinstance(self.early_conditions, bool):
            raise ValueError(f"model setting early_conditions must be true or false, "
                             f"not {self.early_conditions!r}")
        if not isinstance(self.physics, bool):
            raise ValueError(f"model setting physics must be true or false, not {self.physics!r}")
        ratio, rest = divmod(self.grid_size, self.decoder_seed_size)
        if rest or ratio & (ratio - 1):
            raise ValueError(f"model setting grid_size ({self.grid_size}) must be decoder_seed_size "
                             f"({self.decoder_seed_size}) times a power of two")
        if isinstance(self.decoder_channels, tuple) and len(self.decoder_channels) != self.decoder_levels:
            raise ValueError(f"decoder_channels lists {len(self.decoder_channels)} widths; from "
                             f"{self.decoder_seed_size} to {self.grid_size} points the "
                             f"decoder has {self.decoder_levels} levels")

    @property
    def decoder_levels(self) -> int:
        """One level at the seed's size and one per doubling up to ``grid_size``."""
        return (self.grid_size // self.decoder_seed_size).bit_length()

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        """The width of every decoder level, coarsest first."""
        if isinstance(self.decoder_channels, int):
            return (self.decoder_channels,) * self.decoder_levels
        return self.decoder_channels

    @classmethod
    def paper(cls, classes, bands, **overrides) -> "ModelConfig":
        """Table 2 best values: latent 4, 48 hidden units, 9 temporal blocks, kernel 5, dropout 0.2."""
        return cls(classes=tuple(classes), bands=tuple(bands), **{
            "latent_dim": 4, "hidden": 48, "blocks": 9, "kernel": 5, "dropout": 0.2, **overrides})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """From :meth:`to_dict`'s form; every setting is checked (``__post_init__``), so a
        malformed ``config.json`` is refused before anything is built."""
        if not isinstance(data, dict):
            raise ValueError(f"model settings must be a mapping, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model settings: {', '.join(sorted(unknown))}")
        missing = [name for name in ("classes", "bands") if name not in data]
        if missing:
            raise ValueError(f"model settings lack {', '.join(missing)}")
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the paper's are Adam, lr 1e-3, cosine schedule, batch 128, beta 0.75."""

    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 1e-3
    scheduler: str = "cosine"  # none | exponential | cosine | plateau
    beta: float = 0.75
    #: beta rises linearly from 0 over this many epochs (KL annealing, Bowman et al. 2016),
    #: so the decoder learns to use z before the KL term can switch it off.
    kl_warmup_epochs: int = 5
    error_weight: float = 1.0
    #: Floor on normalised errors in the weighted MSE, so a few tiny errors cannot dominate.
    error_floor: float = 0.02
    #: The reconstruction term: "points" (the paper's weighted MSE at the observed phases) or
    #: "fourier" (a Fourier decoder's series against each curve's own weighted series of the same
    #: order, over the whole cycle: :func:`pelsvae_core.model.losses.series_distance`).
    reconstruction: str = "points"
    patience: int = 8
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        if self.scheduler not in ("none", "exponential", "cosine", "plateau"):
            raise ValueError(f"unknown scheduler {self.scheduler!r}")
        if self.reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"train setting reconstruction must be one of {', '.join(RECONSTRUCTIONS)}, "
                             f"not {self.reconstruction!r}")

    def to_dict(self) -> dict:
        return asdict(self)
