#!/usr/bin/python3
"""Fits the polynomial behind tapegrad's float32 normal CDF
(core/kernels/normal_cdf.h): for z >= 0 and t = 1 / (1 + z / 2),

    erfc(z) = t * exp(-z^2) * G(t),   G(t) = sum_k c_k t^k,

least squares on Chebyshev nodes of t in [1/6, 1] (z in [0, 10]; past z = 10
the float32 result is below FLT_MIN), weighted by 1 / G so that the error is
relative. Needs numpy (Debian's python3-numpy); prints the coefficients,
highest degree first, and the fit's worst relative error.

    /usr/bin/python3 scripts/fit_normal_tail.py
"""
import math

import numpy as np

DEGREE = 11
Z_MAX = 10.0
T_MIN = 1 / (1 + Z_MAX / 2)


def g(t):
    z = 2 * (1 / t - 1)
    return math.erfc(z) * math.exp(z * z) / t


def main():
    n = 4000
    k = np.arange(n)
    ts = (1 + T_MIN) / 2 + (1 - T_MIN) / 2 * np.cos((2 * k + 1) * np.pi / (2 * n))
    gs = np.array([g(t) for t in ts])
    coeffs = np.polyfit(ts, gs, DEGREE, w=1 / gs)
    worst = np.max(np.abs(np.polyval(coeffs, ts) / gs - 1))
    for c in coeffs:
        print(f"    {float(c).hex()},  // {c:+.17e}")
    print(f"// worst relative error of the fit: {worst:.3e}")


if __name__ == "__main__":
    main()
