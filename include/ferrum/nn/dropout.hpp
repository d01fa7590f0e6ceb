// Inverted dropout (Srivastava et al. 2014): in training each value is kept with probability 1 - rate
// and scaled by 1/(1 - rate); at inference it is the identity, unless the model runs in
// mode::mc_dropout (Monte-Carlo dropout, Gal & Ghahramani 2016), which keeps sampling masks.
#pragma once

#include <cstdint>
#include <string>

#include "ferrum/backend/cpu/dropout_kernels.hpp"
#ifdef FERRUM_USE_CUDNN  // linking ferrum::cudnn makes the GPU kernels the default backend
#include "ferrum/backend/cudnn/dropout_kernels.hpp"
#endif
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/detail/block.hpp"
#include "ferrum/nn/detail/parameter_storage.hpp"

namespace ferrum::nn {

/// \brief Dropout layer. Masks are a pure function of (seed, draw, sample, step, feature): draw counts
/// the forward passes that sampled a mask, so a seeded run is reproducible and independent of the
/// number of threads; set_draw() replays a mask (e.g. for gradient checks).
template <class T = float, class Backend = ferrum::default_backend>
class dropout {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::dropout is defined for T = float or T = double only");
    using kernels = detail::dropout_kernels<Backend, T>;

public:
    using value_type = T;
    using backend_type = Backend;
    struct chunk_cache {
        typename kernels::cache k;
    };

    explicit dropout(double rate, std::uint64_t seed = 0) : rate_(static_cast<T>(rate)), seed_(seed) {
        if (!(rate >= 0.0 && rate < 1.0)) throw value_error("dropout: rate must be in [0, 1)");
    }

    double rate() const noexcept { return static_cast<double>(rate_); }
    std::uint64_t seed() const noexcept { return seed_; }
    void reseed(std::uint64_t seed) noexcept {
        seed_ = seed;
        draw_ = 0;
    }
    /// Index of the mask the next sampling forward pass uses.
    std::uint64_t draw() const noexcept { return draw_; }
    void set_draw(std::uint64_t d) noexcept { draw_ = d; }
    /// Mixed into the mask stream; a model sets it to the layer's position so that dropout layers with
    /// equal seeds still draw independent masks.
    void set_salt(std::uint64_t s) noexcept { salt_ = s; }
    std::uint64_t salt() const noexcept { return salt_; }

    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    detail::parameter_storage<T>& storage() noexcept { return store_; }
    const detail::parameter_storage<T>& storage() const noexcept { return store_; }

    detail::io_shape output_shape(detail::io_shape in) const noexcept { return in; }

    /// Called once per forward pass before the chunks run: decides whether masks are sampled.
    void begin_forward(mode m) noexcept {
        active_ = m != mode::inference && rate_ > T(0);
        if (active_) current_ = draw_++;
    }

    void forward_chunk(const detail::block<T>& in, detail::block<T>& out, chunk_cache& c,
                       const detail::chunk_context& ctx) const {
        out.steps = in.steps;
        out.batch = in.batch;
        out.sequence = in.sequence;
        if (active_)
            kernels::forward(rate_, detail::mix64(seed_) ^ salt_, current_, ctx, in.v, out.v, c.k);
        else
            out.v = in.v;
    }

    void backward_chunk(const detail::block<T>&, const detail::block<T>&, chunk_cache& c,
                        const detail::block<T>& dout, detail::block<T>* din, T*,
                        const detail::chunk_context&) const {
        if (!din) return;
        if (active_)
            kernels::backward(c.k, dout.v, din->v);
        else
            din->v = dout.v;
    }

private:
    T rate_;
    std::uint64_t seed_;
    std::uint64_t draw_ = 0, current_ = 0, salt_ = 0;
    bool active_ = false;
    detail::parameter_storage<T> store_;  // empty: dropout has no parameters
};

}  // namespace ferrum::nn
