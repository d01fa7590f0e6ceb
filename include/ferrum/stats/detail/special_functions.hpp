// Special functions shared by the relations' statistics and the simulators: the regularised incomplete
// beta function I_x(a, b) by its continued fraction (DLMF 8.17.22, evaluated with the modified Lentz
// method), the F distribution's survival function through it (DLMF 8.17.5 / Abramowitz & Stegun 26.6.2),
// and the standard normal quantile (Acklam's rational approximation refined by one Halley step on erfc).
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "ferrum/core/error.hpp"

namespace ferrum::detail {

// The continued fraction of I_x(a, b) * B(a, b) / (x^a (1-x)^b) * a; converges fast for x < (a+1)/(a+b+2).
inline double incomplete_beta_fraction(double a, double b, double x) {
    constexpr double tiny = 1e-300, eps = 1e-16;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::abs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; ++m) {
        const double m2 = 2.0 * m;
        // even step d_{2m}
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        if (std::abs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        // odd step d_{2m+1}
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        if (std::abs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1.0) < eps) return h;
    }
    throw value_error("incomplete beta: continued fraction did not converge for a = " + std::to_string(a) +
                      ", b = " + std::to_string(b) + ", x = " + std::to_string(x));
}

/// Regularised incomplete beta I_x(a, b) (scipy.special.betainc) for a, b > 0 and x in [0, 1].
inline double incomplete_beta(double a, double b, double x) {
    if (!(a > 0 && b > 0)) throw value_error("incomplete beta: a and b must be > 0");
    if (!(x >= 0 && x <= 1)) throw value_error("incomplete beta: x must be in [0, 1], got " + std::to_string(x));
    if (x == 0.0 || x == 1.0) return x;
    const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                             b * std::log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * incomplete_beta_fraction(a, b, x) / a;
    return 1.0 - std::exp(log_front) * incomplete_beta_fraction(b, a, 1.0 - x) / b;
}

/// Survival function P(F > f) of the F distribution with (d1, d2) degrees of freedom
/// (scipy.stats.f.sf): I_{d2/(d2 + d1 f)}(d2/2, d1/2), which keeps tiny p-values accurate.
inline double f_distribution_sf(double f, double d1, double d2) {
    if (!(d1 > 0 && d2 > 0)) throw value_error("F distribution: degrees of freedom must be > 0");
    if (std::isnan(f)) throw value_error("F distribution: statistic is NaN");
    if (f <= 0) return 1.0;
    if (std::isinf(f)) return 0.0;
    return incomplete_beta(0.5 * d2, 0.5 * d1, d2 / (d2 + d1 * f));
}

/// Standard normal quantile Phi^-1(p) for p in (0, 1) (scipy.stats.norm.ppf), relative error ~1e-15.
inline double normal_quantile(double p) {
    if (!(p > 0 && p < 1)) throw value_error("normal quantile: p must be in (0, 1), got " + std::to_string(p));
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                                   1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                   6.680131188771972e+01, -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                   -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                   3.754408661907416e+00};
    // Upper half by symmetry: 1 - p is exact for p >= 0.5 (Sterbenz), and the lower tail keeps erfc accurate.
    if (p > 0.5) return -normal_quantile(1.0 - p);
    constexpr double lo = 0.02425;
    double x;
    if (p < lo) {
        const double q = std::sqrt(-2 * std::log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - lo) {
        const double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        const double q = std::sqrt(-2 * std::log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    // One Halley step on Phi(x) - p takes the 1e-9 approximation to full double precision.
    const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
    const double u = e * std::sqrt(2 * 3.14159265358979323846) * std::exp(0.5 * x * x);
    return x - u / (1 + 0.5 * x * u);
}

}  // namespace ferrum::detail
