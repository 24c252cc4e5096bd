"""The inverse problem (issue 17): from an observed light curve to class, mode, period and
physics with uncertainties, the model's decoder as the likelihood and its training stars
as the prior. :func:`infer` gives the result; :func:`analyse` also the best-fitting curve.

Below :mod:`pelsvae_core.api` (it takes any object with the model's ``decoder``, ``network``,
``metadata`` and ``latents()``), so that :meth:`pelsvae_core.api.Model.infer` can call it.
Imported on first use, so that loading a model does not load SciPy's optimisers."""
from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Inference", "analyse", "infer"]

if TYPE_CHECKING:
    from .inverse import Inference, analyse, infer


def __getattr__(name: str):
    if name in __all__:
        from . import inverse
        return getattr(inverse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
