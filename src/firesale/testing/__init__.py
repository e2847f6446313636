"""Shipped checks for results, channels and models (the scikit-learn ``check_estimator`` way).

Import the hypothesis strategies from :mod:`firesale.testing.strategies` (hypothesis is
only needed there).
"""

from firesale.testing import invariants, kernels
from firesale.testing.invariants import *  # noqa: F403  (the public checks, listed in invariants.__all__)
from firesale.testing.kernels import assert_arrays_agree, assert_kernels_agree, assert_phase_agrees

__all__ = list(invariants.__all__) + list(kernels.__all__)
