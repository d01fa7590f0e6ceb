// Counter-based random numbers shared by the simulators and the dropout masks: SplitMix64 (Steele, Lea
// & Flood 2014), a bijective 64-bit mix, so draws depend on (seed, index) only — not on thread count,
// order of evaluation or the standard library.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

namespace ferrum {

/// One step of SplitMix64: mixes a 64-bit counter or seed into a well-spread 64-bit value.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/// \brief A star's id as a 64-bit key: a Gaia source_id (an integer) is its own key; any other name (e.g. a
/// CRTS id) is its FNV-1a hash. The key that shards a catalogue (core/shards.hpp) and keys a star's MC-dropout
/// masks, the same on every machine and standard library (unlike std::hash).
inline std::uint64_t id_key(std::string_view id) noexcept {
    std::int64_t v = 0;
    const auto r = std::from_chars(id.data(), id.data() + id.size(), v);
    if (!id.empty() && r.ec == std::errc() && r.ptr == id.data() + id.size()) return static_cast<std::uint64_t>(v);
    std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
    for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return h;
}

}  // namespace ferrum
