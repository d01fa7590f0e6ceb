// The k-th smallest of values that can be read again but not held: exact radix selection in passes (each
// double mapped to a 64-bit key that orders as the numbers do, then 16 bits of the key decided per pass from
// a histogram, as in MSD radix sort), for several groups at once. Once a group's candidates fit in memory
// they are collected and std::nth_element decides, so small inputs take one pass and large ones a few.
// Exact: the result is the value std::nth_element gives on all the values (no approximation, no error bound).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "ferrum/core/error.hpp"

namespace ferrum {

namespace detail {

/// The bits of a double as an unsigned integer that orders as the doubles do (NaN excluded; -0 before +0).
inline std::uint64_t ordered_bits(double x) noexcept {
    std::uint64_t u = 0;
    std::memcpy(&u, &x, sizeof u);
    return (u >> 63) ? ~u : (u | (std::uint64_t(1) << 63));
}

}  // namespace detail

/// \brief For each group g, the value of rank k[g] (0-based: what std::nth_element puts at k[g]) among the
/// values that `for_each` gives group g; k[g] must be below the group's count (none: skip the group, NaN back).
/// `for_each(visit)` calls visit(group, value) for every value, the same sequence each time it is called.
/// Memory: at most `max_in_memory` values or a 65,536-bin histogram per group.
template <class ForEach>
std::vector<double> streamed_kth_smallest(const std::vector<std::uint64_t>& k, const std::vector<std::uint64_t>& count,
                                          ForEach&& for_each, std::size_t max_in_memory = std::size_t(1) << 18) {
    constexpr std::uint64_t none = std::numeric_limits<std::uint64_t>::max();
    const std::size_t n_groups = k.size();
    if (count.size() != n_groups) throw value_error("streamed_kth_smallest: k and count differ in length");
    struct state {
        std::uint64_t rank = 0, candidates = 0, prefix = 0;
        unsigned prefix_bits = 0;
        bool done = true;
        std::vector<double> values;
        std::vector<std::uint64_t> histogram;
    };
    std::vector<state> s(n_groups);
    std::vector<double> out(n_groups, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t g = 0; g < n_groups; ++g)
        if (k[g] != none) {
            if (k[g] >= count[g]) throw value_error("streamed_kth_smallest: rank beyond the group's count");
            s[g].rank = k[g];
            s[g].candidates = count[g];
            s[g].done = false;
        }
    const auto matches = [](const state& st, std::uint64_t key) {
        return st.prefix_bits == 0 || (key >> (64 - st.prefix_bits)) == st.prefix;
    };
    while (std::any_of(s.begin(), s.end(), [](const state& st) { return !st.done; })) {
        for (auto& st : s) {
            if (st.done) continue;
            if (st.candidates <= max_in_memory) st.values.reserve(std::size_t(st.candidates));
            else st.histogram.assign(std::size_t(1) << 16, 0);
        }
        for_each([&](std::size_t g, double v) {
            state& st = s[g];
            if (st.done) return;
            const std::uint64_t key = detail::ordered_bits(v);
            if (!matches(st, key)) return;
            if (st.histogram.empty()) st.values.push_back(v);
            else ++st.histogram[std::size_t((key >> (48 - st.prefix_bits)) & 0xffff)];
        });
        for (std::size_t g = 0; g < n_groups; ++g) {
            state& st = s[g];
            if (st.done) continue;
            if (st.histogram.empty()) {
                std::nth_element(st.values.begin(), st.values.begin() + std::ptrdiff_t(st.rank), st.values.end());
                out[g] = st.values[std::size_t(st.rank)];
                st.done = true;
                st.values = {};
                continue;
            }
            std::uint64_t below = 0;
            std::size_t bin = 0;
            while (below + st.histogram[bin] <= st.rank) below += st.histogram[bin++];
            st.rank -= below;
            st.candidates = st.histogram[bin];
            st.prefix = (st.prefix << 16) | bin;
            st.prefix_bits += 16;
            st.histogram = {};
            if (st.prefix_bits == 64) {  // every candidate has these bits: the value itself
                const std::uint64_t key = st.prefix;
                const std::uint64_t u = (key >> 63) ? (key & ~(std::uint64_t(1) << 63)) : ~key;
                std::memcpy(&out[g], &u, sizeof u);
                st.done = true;
            }
        }
    }
    return out;
}

}  // namespace ferrum
