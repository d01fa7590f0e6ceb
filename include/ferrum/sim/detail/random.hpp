// Per-star random streams for the simulators: one std::mt19937_64 per (seed, star index), seeded through
// SplitMix64 (Steele, Lea & Flood 2014), so a star's draws depend on neither thread count nor order.
// Uniform and normal variates are computed here, not by <random>'s distributions, whose algorithms the
// standard leaves to the implementation: the same seed gives the same stars with libstdc++ and libc++.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

#include "ferrum/core/random.hpp"

namespace ferrum::sim::detail {

// SplitMix64 decorrelates nearby seeds and indices (core/random.hpp).
using ferrum::splitmix64;

/// The random stream of one simulated star.
class star_rng {
public:
    star_rng(std::uint64_t seed, std::uint64_t index) : engine_(splitmix64(splitmix64(seed) ^ index)) {}

    /// Uniform in [0, 1) with 53 random bits.
    double uniform() noexcept { return double(engine_() >> 11) * 0x1.0p-53; }
    /// Uniform in (0, 1].
    double uniform_open0() noexcept { return 1.0 - uniform(); }
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
    /// Standard normal by the Marsaglia polar method (one spare value kept).
    double normal() noexcept {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u, v, s;
        do {
            u = 2.0 * uniform() - 1.0;
            v = 2.0 * uniform() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        const double f = std::sqrt(-2.0 * std::log(s) / s);
        spare_ = v * f;
        has_spare_ = true;
        return u * f;
    }
    double normal(double mean, double sd) noexcept { return mean + sd * normal(); }
    /// Exponential with unit mean.
    double exponential() noexcept { return -std::log(uniform_open0()); }
    /// Integer uniform in [lo, hi] (the tiny modulo bias of a 64-bit draw is irrelevant here).
    int integer(int lo, int hi) noexcept {
        return lo + static_cast<int>(engine_() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    bool bernoulli(double p) noexcept { return uniform() < p; }

private:
    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

/// The standard normal quantile Phi^-1(p) for p in (0, 1), by Acklam's rational approximation (relative
/// error below 1.2e-9), enough to place a draw at a chosen rank of a distribution.
inline double normal_quantile(double p) noexcept {
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                   1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                   6.680131188771972e+01,  -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                   -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                   3.754408661907416e+00};
    constexpr double lo = 0.02425;
    if (p < lo) {
        const double q = std::sqrt(-2 * std::log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - lo) return -normal_quantile(1 - p);
    const double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace ferrum::sim::detail
