"""pelsvae stars inside LightCurveLynx (lincc-frameworks; Kubica et al., MIT licence).

LightCurveLynx simulates surveys around models of sources; for pulsating stars it
has SNANA LCLIB templates and a sine wave. :class:`PelsvaeStar` is a LightCurveLynx
``BandfluxModel`` whose band fluxes are a pelsvae curve: the class's regressor at the
star's physics (``period``, ``teff``, ``abs_mag``: constants or LightCurveLynx nodes,
sampled per object like any of its parameters) and a per-object ``latent_seed``,
decoded and placed at ``distance``, phase zero at ``t0``; the mean magnitude in a band is
M_G plus the star's intrinsic colour in it (:func:`pelsvae_core.generation.band_colour`;
M_G alone, with a warning, where none can be derived). Bands a class was not
trained in are refused unless ``band_map`` maps them. Needs the optional
``lightcurvelynx`` package (``pip install 'pelsvae[simulate]'``).
"""
from __future__ import annotations

import math

import numpy as np
from lightcurvelynx.math_nodes.np_random import NumpyRandomFunc
from lightcurvelynx.models.physical_model import BandfluxModel

from . import curves
from .errors import SimulationError
from ..data.subtypes import UNKNOWN
from ..generation import band_colour, relative_magnitudes
from ..photometry import distance_modulus


class PelsvaeStar(BandfluxModel):
    """A pelsvae star of class ``cls`` of ``model`` (a loaded :class:`pelsvae_core.Model`).

    Parameters the class does not respond to are ignored by its regressor; a missing
    Teff or M takes the class's median, and a class trained without M takes its mean
    magnitude from the period-luminosity relation, as :meth:`pelsvae_core.Model.draw` does.
    """

    def __init__(self, model, cls: str, *, period, teff=None, abs_mag=None, latent_seed=None,
                 band_map: dict[str, str] | None = None, regressor: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.pelsvae = model
        self.info = model.physics.class_info(cls, model.folder)
        self.cls = cls
        self.band_map = dict(band_map or {})
        self.regressor = model.physics.regressor_for(cls, regressor)
        self.add_parameter("period", period, description="The period, in days.")
        self.add_parameter("teff", teff, description="The effective temperature, in K.")
        self.add_parameter("abs_mag", abs_mag, description="The mean absolute magnitude.")
        self.add_parameter("latent_seed", NumpyRandomFunc("integers", low=0, high=2**31)
                           if latent_seed is None else latent_seed,
                           description="The seed of the star's latent draw.")

    def compute_bandflux(self, times, filter, state):
        """Band flux (nJy) of the star at ``times`` (days) in ``filter``."""
        p = self.get_local_params(state)
        band = self.band_map.get(filter, filter)
        if band not in self.info.bands:
            raise SimulationError(f"{self.cls} was trained in band(s) {', '.join(self.info.bands)}, "
                                  f"not {filter!r}; pass band_map={{'{filter}': ...}}")
        given = {"teff": p["teff"], "abs_mag": p["abs_mag"], "log_period": math.log10(p["period"])}
        values = {k: self.info.typical[k] if given[k] is None and k in self.info.typical else given[k]
                  for k in given}
        physics = np.array([[values[name] for name in self.info.parameters]], float)
        z, amplitude, _ = curves.latents(self.pelsvae, self.cls, self.regressor, physics, [band],
                                         int(p["latent_seed"]))[band]
        grid = curves.decode(self.pelsvae, z, self.cls, band)
        mean = values["abs_mag"]
        if mean is None:
            mean, _ = self.pelsvae.physics.period_luminosity(self.cls, p["period"])
        colour, _ = band_colour(self.info, band, p["period"], values, np.array([UNKNOWN]))
        mean = mean + float(colour[0])
        phase = np.mod((np.asarray(times, float) - (p["t0"] or 0.0)) / p["period"], 1.0)
        relative, = relative_magnitudes(grid, amplitude, phase[None])
        mag = relative[0] + mean
        if p["distance"] is not None:
            mag = mag + distance_modulus(p["distance"])
        return curves.flux_njy(mag, band)
