#pragma once
// The tail of the standard normal distribution for vec::normal_cdf, shared
// by its scalar path (vector_math.cpp) and its AVX2 path
// (vector_math_avx2.cpp). For z >= 0 and t = 1 / (1 + z / 2),
//
//   erfc(z) = t exp(-z^2) G(t),  G(t) = sum of kNormalTail[k] t^(11 - k),
//
// with G fitted by scripts/fit_normal_tail.py (relative error 3.6e-10 for z
// in [0, 10], past which the float32 result is below FLT_MIN). Phi(x) =
// erfc(-x / sqrt 2) / 2 computed this way (in double, but for exp(-z^2),
// taken in float with z^2 split into a float and a small remainder) is
// within 2 ULP everywhere, while 1 + erf(x / sqrt 2) loses every digit
// below x = -4 (it gave Phi(-6) = 0 for 9.9e-10); the density shares the
// one exp.
// Internal: not installed.

namespace tg::kernel::vec {

inline constexpr double kNormalTail[12] = {
    -0x1.f0d3c5ffae229p-6,  // -3.03239282208968321e-02
    0x1.d0814fd13bbc7p-3,   // +2.26809142658991741e-01
    -0x1.728066c60be6ep-1,  // -7.23635875392529604e-01
    0x1.3f36a320c13d5p+0,   // +1.24692744779280429e+00
    -0x1.32d1b8493e401p+0,  // -1.19851257122195443e+00
    0x1.3f9a502bae02dp-1,   // +6.24224191028593389e-01
    -0x1.1ff401e320a62p-2,  // -2.81204251754536227e-01
    0x1.4ada5a99aa581p-3,   // +1.61549289526458778e-01
    0x1.4a99e673b898cp-3,   // +1.61426353842284320e-01
    0x1.fd4c0b5c19535p-3,   // +2.48680199382911887e-01
    0x1.20ba5d245a721p-2,   // +2.81960921615438009e-01
    0x1.20de94d937b48p-2,   // +2.82099080808553726e-01
};

// |x| is clamped here: past it exp(-x^2 / 2) is 0 in float, so Phi is 0 or 1
// and phi is 0 exactly, also for the infinities.
inline constexpr double kNormalTailXMax = 15;

}  // namespace tg::kernel::vec
