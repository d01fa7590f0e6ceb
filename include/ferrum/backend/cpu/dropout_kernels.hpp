// CPU kernels of inverted dropout (Srivastava et al. 2014): keep with probability 1 - p and scale by
// 1/(1 - p). Masks come from a counter-based hash (SplitMix64 finaliser) of (seed, draw, sample, step,
// feature), so a mask does not depend on how the batch is split into chunks or threads; the sample is its
// position in the batch, or its key (chunk_info::sample_keys, e.g. a source_id) when the caller gives keys.
#pragma once

#include <cstdint>
#include <vector>

#include "ferrum/core/random.hpp"

#include "ferrum/backend/kernel_traits.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend {

template <class T>
struct dropout_kernels<ferrum::backend::cpu, T> {
    struct cache {
        nn::matrix<T> mask;  ///< 0 or 1/(1-p), same shape as the input
        std::vector<std::uint64_t> origin;  ///< per sample: where its counters start
    };

    /// y = x * mask; mask element (f, t, b) kept when hash(origin(b) + t * F + f) >= p, where origin(b) is
    /// stream + (first+b) * steps * F (by position) or hash(stream ^ key(b)) (by key).
    static void forward(T rate, std::uint64_t seed, std::uint64_t draw, const nn::chunk_info& ctx,
                        const nn::matrix<T>& x, nn::matrix<T>& y, cache& c) {
        const Eigen::Index F = x.rows(), B = ctx.batch, S = x.cols() / B;  // tabular input: one step
        const std::uint64_t stream = ferrum::splitmix64(seed ^ ferrum::splitmix64(draw + 0x632BE59BD9B4E019ULL));
        // keep if the top 32 bits of the hash are >= threshold; P(drop) = threshold / 2^32
        const auto threshold = static_cast<std::uint64_t>(static_cast<double>(rate) * 4294967296.0);
        const T scale = T(1) / (T(1) - rate);
        c.mask.resize(F, x.cols());
        c.origin.resize(static_cast<std::size_t>(B));
        const auto sample_span = static_cast<std::uint64_t>(S * F);  // counters of one sample
        for (Eigen::Index b = 0; b < B; ++b)
            c.origin[std::size_t(b)] = ctx.sample_keys
                                           ? ferrum::splitmix64(stream ^ ctx.sample_keys[b])
                                           : stream + (ctx.first_sample + static_cast<std::uint64_t>(b)) * sample_span;
        for (Eigen::Index f = 0; f < F; ++f) {
            T* m = c.mask.row(f).data();
            for (Eigen::Index t = 0; t < S; ++t) {
                const std::uint64_t base = static_cast<std::uint64_t>(t) * static_cast<std::uint64_t>(F) +
                                           static_cast<std::uint64_t>(f);
                for (Eigen::Index b = 0; b < B; ++b)
                    m[t * B + b] = (ferrum::splitmix64(c.origin[std::size_t(b)] + base) >> 32) >= threshold ? scale
                                                                                                            : T(0);
            }
        }
        y.resize(F, x.cols());
        y.array() = x.array() * c.mask.array();
    }

    static void backward(const cache& c, const nn::matrix<T>& dy, nn::matrix<T>& dx) {
        dx.resize(dy.rows(), dy.cols());
        dx.array() = dy.array() * c.mask.array();
    }
};

}  // namespace ferrum::backend
