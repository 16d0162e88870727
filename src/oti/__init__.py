"""Orbital Torus Imaging (Price-Whelan et al. 2021): the science package.

Modules each hold one job: ``constants`` (frame and mass-model constants),
``frame`` (sky to Galactocentric), ``potential`` (the mass model at fixed
v_circ), ``actions`` (Staeckel-fudge actions and angles), ``deviation``
(action-local abundance deviations), ``fourier`` (the m <= 2 fit),
``objective`` (eq. 8 and one Nelder-Mead bootstrap trial), ``constraints``
(per-element and joint constraints).
"""

__version__ = "0.1.0"
