// Portable random variates for the relation samplers: the same numbers for a seed with every standard
// library (std::uniform_real_distribution and std::normal_distribution are implementation-defined).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace ferrum::detail {

/// Uniform in [0, 1) from the top 53 bits of one draw.
inline double uniform01(std::mt19937_64& rng) noexcept { return double(rng() >> 11) * 0x1.0p-53; }

/// Standard normal by Box-Muller (one of the pair; simplicity over speed, used only for initial states).
inline double standard_normal(std::mt19937_64& rng) noexcept {
    double u = 0.0;
    while (u == 0.0) u = uniform01(rng);
    const double v = uniform01(rng);
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

}  // namespace ferrum::detail
