// Counter-based random numbers shared by the simulators and the dropout masks: SplitMix64 (Steele, Lea
// & Flood 2014), a bijective 64-bit mix, so draws depend on (seed, index) only — not on thread count,
// order of evaluation or the standard library.
#pragma once

#include <cstdint>

namespace ferrum {

/// One step of SplitMix64: mixes a 64-bit counter or seed into a well-spread 64-bit value.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

}  // namespace ferrum
