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
    /// Another stream of the same star, independent of the first: `stream` names it (non-zero). Options
    /// that are off by default draw from such a stream, so that turning them on leaves the draws of the
    /// main stream, and every star made with the defaults, as they were.
    star_rng(std::uint64_t seed, std::uint64_t index, std::uint64_t stream)
        : engine_(splitmix64(splitmix64(splitmix64(seed) ^ index) ^ splitmix64(stream))) {}

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
    /// Chi-square with `k` degrees of freedom, as the sum of k squared standard normals (small k only).
    double chi_square(int k) noexcept {
        double s = 0.0;
        for (int i = 0; i < k; ++i) {
            const double z = normal();
            s += z * z;
        }
        return s;
    }

private:
    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

}  // namespace ferrum::sim::detail
