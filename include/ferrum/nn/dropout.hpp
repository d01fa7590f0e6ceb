// Inverted dropout (Srivastava et al. 2014): in training each value is kept with probability 1 - rate
// and scaled by 1/(1 - rate); at inference it is the identity, unless the model runs in
// mode::mc_dropout (Monte-Carlo dropout, Gal & Ghahramani 2016), which keeps sampling masks.
#pragma once

#include <cstdint>
#include <string>

#include "ferrum/backend/cpu/dropout_kernels.hpp"
#ifdef FERRUM_USE_CUDNN  // linking ferrum::cudnn makes the GPU kernels the default backend
#  include "ferrum/backend/cudnn/dropout_kernels.hpp"
#endif
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/random.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief Dropout layer. Masks are a pure function of (seed, position in the model, draw, sample, step,
/// feature): a training-API forward pass that samples masks uses the layer's draw counter (then advances
/// it), a const predict() uses its dropout_seed as the draw, so a seeded run is reproducible and
/// independent of the number of threads; set_draw() replays a mask (e.g. for gradient checks). The sample
/// is its position in the batch, or the key a const predict() was given for it (`sample_keys`, e.g. a
/// star's source_id: its masks are then the same in any batch, shard or rank).
template <class T = float, class Backend = ferrum::default_backend>
class dropout {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::dropout is defined for T = float or T = double only");
    using kernels = backend::dropout_kernels<Backend, T>;

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "dropout";
    /// Per-chunk scratch memory (owned by the model's pass, not by the layer).
    struct cache {
        typename kernels::cache k;
        bool active = false;  ///< whether the forward pass applied a mask
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
    /// A model's reset_parameters(seed) reseeds its dropout layers.
    void reset_parameters(std::uint64_t seed) noexcept { reseed(seed); }
    /// Index of the mask the next sampling training-API forward pass uses.
    std::uint64_t draw() const noexcept { return draw_; }
    void set_draw(std::uint64_t d) noexcept { draw_ = d; }

    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const noexcept { return in; }

    /// Model-file fields ("seed" may be left out when reading).
    nlohmann::json config() const { return {{"rate", rate()}, {"seed", seed_}}; }
    static dropout from_config(const nlohmann::json& j) {
        return dropout(config_field<double>(j, "rate"),
                       j.contains("seed") ? config_field<std::uint64_t>(j, "seed") : 0);
    }

    /// Called once per training-API forward pass: a pass that samples masks takes the next draw.
    std::uint64_t begin_forward(mode m) noexcept { return active(m) ? draw_++ : draw_; }

    /// The identity (no mask to draw) at inference or with rate 0: predict() hands the input on uncopied.
    bool passes_through(mode m) const noexcept { return !active(m); }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        c.active = active(ctx.run_mode);
        if (c.active) kernels::forward(rate_, ferrum::splitmix64(seed_) ^ ctx.node, ctx.draw, ctx, x, y, c.k);
        else y = x;
    }

    void backward(const matrix<T>&, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T*, cache& c,
                  const chunk_info&) const {
        if (!dx) return;
        if (c.active) kernels::backward(c.k, dy, *dx);
        else *dx = dy;
    }

private:
    bool active(mode m) const noexcept { return m != mode::inference && rate_ > T(0); }

    T rate_;
    std::uint64_t seed_;
    std::uint64_t draw_ = 0;
    parameter_storage<T> store_;  // empty: dropout has no parameters
};

namespace detail {
/// Code written against the former std::variant of layers reaches dropout layers with
/// std::get_if<nn::dropout<T, Backend>>(&model.layer(i)) (nn::get_if works for every layer type).
template <class Backend>
struct variant_compatible_layer<float, Backend> {
    using type = dropout<float, Backend>;
};
template <class Backend>
struct variant_compatible_layer<double, Backend> {
    using type = dropout<double, Backend>;
};
}  // namespace detail

}  // namespace ferrum::nn
