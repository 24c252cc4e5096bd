"""pelsvae: physics-enhanced latent-space VAE light curves of periodic variable stars.

The core package: data readers and preprocessing (:mod:`pelsvae_core.data`), the
model and its training (:mod:`pelsvae_core.model`), and the public API below.
It never imports a plotting or web framework.
"""
from .api import Model, load_model

__all__ = ["Model", "load_model"]
__version__ = "0.1.0"
