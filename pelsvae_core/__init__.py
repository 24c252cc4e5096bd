"""pelsvae: physics-enhanced latent-space VAE light curves of periodic variable stars.

The core package; ``ARCHITECTURE.md`` draws its layers. The public API is
:class:`Model` and :func:`load_model`, imported on first use so that the
command line starts without loading torch. It never imports a plotting or
web framework.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Model", "load_model"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import Model, load_model


def __getattr__(name: str):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
