"""Orbital Torus Imaging (Price-Whelan et al. 2021): the science package.

Modules each hold one job: ``constants`` (frame and mass-model constants),
``frame`` (sky to Galactocentric), ``potential`` (the mass model at fixed
v_circ), ``actions`` (Staeckel-fudge actions and angles), ``resample``
(bootstrap resamples and the neighbour sets of their stars), ``deviation``
(the eq.-2 action-local abundance deviation), ``bootstrap`` (deviations of
bootstrap resamples), ``fourier`` (the m <= 2 fit), ``objective`` (eq. 8 and
one Nelder-Mead bootstrap trial), ``constraints`` (per-element and joint
constraints), ``kernel_cache`` (where numba caches the compiled kernels).

Importing the package points numba's on-disk cache at a directory keyed by
the contents of every kernel source (:func:`oti.kernel_cache.configure`), so
an edit to any kernel file recompiles every kernel that may depend on it.
"""

from . import kernel_cache

kernel_cache.configure()

__version__ = "0.1.0"
