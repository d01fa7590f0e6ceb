// One Transformer encoder block (Vaswani et al. 2017, section 3.1) equal to torch.nn.TransformerEncoderLayer
// (batch_first=True, src_key_padding_mask from the lengths) with post-norm (norm_first=False:
// x = norm1(x + SA(x)); y = norm2(x + FF(x))) or pre-norm (norm_first=True: x = x + SA(norm1(x));
// y = x + FF(norm2(x))), FF(x) = linear2(dropout(act(linear1(x)))), act relu or exact GELU. Parameter names
// and layout are PyTorch's state_dict's (self_attn.*, linear1.*, linear2.*, norm1.*, norm2.*).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/backend/cpu/dense_kernels.hpp"
#include "ferrum/backend/cpu/dropout_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/random.hpp"
#include "ferrum/nn/layer.hpp"
#include "ferrum/nn/multi_head_attention.hpp"

namespace ferrum::nn {

/// The feed-forward non-linearity of a transformer_encoder_layer.
enum class transformer_activation {
    relu,
    gelu
};

/// \brief A Transformer encoder block over each sample's valid steps (padded steps are masked keys, output
/// zeros and get zero gradient). Dropout (rate p) is the library's inverted dropout at PyTorch's dropout1,
/// dropout and dropout2 sites, active in mode::training and mode::mc_dropout and the identity at inference;
/// the attention weights themselves are not dropped (PyTorch also drops them in training). CPU kernels on
/// every backend (host memory). \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class transformer_encoder_layer {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::transformer_encoder_layer is defined for T = float or T = double only");
    using dense_k = backend::dense_kernels<backend::cpu, T>;
    using drop_k = backend::dropout_kernels<backend::cpu, T>;

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "transformer_encoder_layer";
    struct cache {
        backend::attention_cpu::mha_cache<T> attn;
        backend::attention_cpu::layer_norm_cache<T> ln1, ln2;
        typename dense_k::cache lin1, lin2;
        typename drop_k::cache drop1, drop, drop2;
        bool active = false;
        matrix<T> n1, a, ad, h1, n2, f1, g, gd, f2, fd, r;  ///< forward intermediates
        matrix<T> dy, d1, d2, d3, d4, d5;                   ///< backward workspaces
    };

    transformer_encoder_layer(std::size_t d_model, std::size_t nhead, std::size_t dim_feedforward, double dropout = 0.1,
                              transformer_activation act = transformer_activation::relu, bool norm_first = false,
                              std::uint64_t seed = 0, double layer_norm_eps = 1e-5)
        : d_(d_model),
          heads_(nhead),
          ff_(dim_feedforward),
          rate_(dropout),
          act_(act),
          norm_first_(norm_first),
          eps_(layer_norm_eps),
          seed_(seed) {
        detail::check_heads("transformer_encoder_layer", d_model, nhead);
        if (ff_ == 0) throw value_error("transformer_encoder_layer: dim_feedforward must be positive");
        if (!(dropout >= 0.0 && dropout < 1.0))
            throw value_error("transformer_encoder_layer: dropout must be in [0, 1)");
        if (!(layer_norm_eps > 0.0)) throw value_error("transformer_encoder_layer: layer_norm_eps must be positive");
        detail::declare_self_attention(store_, "self_attn.", d_);
        lin1_ = store_.declare("linear1.weight", {ff_, d_}, parameter_role::kernel);
        store_.declare("linear1.bias", {ff_}, parameter_role::bias);
        lin2_ = store_.declare("linear2.weight", {d_, ff_}, parameter_role::kernel);
        store_.declare("linear2.bias", {d_}, parameter_role::bias);
        norm1_ = store_.declare("norm1.weight", {d_}, parameter_role::kernel);
        store_.declare("norm1.bias", {d_}, parameter_role::bias);
        norm2_ = store_.declare("norm2.weight", {d_}, parameter_role::kernel);
        store_.declare("norm2.bias", {d_}, parameter_role::bias);
        reset_parameters(seed);
    }

    std::size_t d_model() const noexcept { return d_; }
    std::size_t nhead() const noexcept { return heads_; }
    std::size_t dim_feedforward() const noexcept { return ff_; }
    double dropout() const noexcept { return rate_; }
    transformer_activation activation() const noexcept { return act_; }
    bool norm_first() const noexcept { return norm_first_; }
    std::uint64_t seed() const noexcept { return seed_; }

    /// PyTorch's initialisation (self_attn as MultiheadAttention, linear1/2 as nn.Linear, norms 1 and 0);
    /// also reseeds the dropout masks.
    void reset_parameters(std::uint64_t seed) {
        seed_ = seed;
        draw_ = 0;
        std::mt19937_64 gen(seed);
        T* p = store_.values().data();
        detail::reset_self_attention(p, d_, gen);
        auto linear = [&](std::size_t off, std::size_t out, std::size_t in) {
            const double b = 1.0 / std::sqrt(static_cast<double>(in));
            std::uniform_real_distribution<double> u(-b, b);
            for (std::size_t i = 0; i < out * in + out; ++i) p[off + i] = static_cast<T>(u(gen));
        };
        linear(lin1_, ff_, d_);
        linear(lin2_, d_, ff_);
        for (std::size_t off : {norm1_, norm2_})
            for (std::size_t i = 0; i < d_; ++i) {
                p[off + i] = T(1);
                p[off + d_ + i] = T(0);
            }
    }
    /// Index of the dropout masks the next sampling training-API forward pass uses.
    std::uint64_t draw() const noexcept { return draw_; }
    void set_draw(std::uint64_t d) noexcept { draw_ = d; }
    std::uint64_t begin_forward(mode m) noexcept { return active(m) ? draw_++ : draw_; }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(d_), true}; }
    io_shape output_shape(io_shape in) const {
        if (!in.sequence)
            throw value_error("transformer_encoder_layer: input must be a sequence (batch, time, features)");
        if (static_cast<std::size_t>(in.features) != d_)
            throw value_error("transformer_encoder_layer: input has " + std::to_string(in.features) +
                              " features, layer expects " + std::to_string(d_));
        return in;
    }

    nlohmann::json config() const {
        return {{"d_model", d_},
                {"nhead", heads_},
                {"dim_feedforward", ff_},
                {"dropout", rate_},
                {"activation", act_ == transformer_activation::gelu ? "gelu" : "relu"},
                {"norm_first", norm_first_},
                {"layer_norm_eps", eps_},
                {"seed", seed_}};
    }
    static transformer_encoder_layer from_config(const nlohmann::json& j) {
        const auto a = config_field<std::string>(j, "activation");
        if (a != "relu" && a != "gelu") throw value_error("field 'activation' is '" + a + "' (expected relu or gelu)");
        transformer_encoder_layer l(config_field<std::size_t>(j, "d_model"), config_field<std::size_t>(j, "nhead"),
                                    config_field<std::size_t>(j, "dim_feedforward"), config_field<double>(j, "dropout"),
                                    a == "gelu" ? transformer_activation::gelu : transformer_activation::relu,
                                    config_field<bool>(j, "norm_first"),
                                    j.contains("seed") ? config_field<std::uint64_t>(j, "seed") : 0,
                                    config_field<double>(j, "layer_norm_eps"));
        return l;
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        namespace k = backend::attention_cpu;
        c.active = active(ctx.run_mode);
        if (!norm_first_) {
            k::mha_forward(attn_weights(), x, ctx, c.a, c.attn);
            c.r = x + drop(0, c.a, c.ad, c.drop1, c, ctx);
            k::layer_norm_forward(norm(norm1_), norm(norm1_) + d_, static_cast<T>(eps_), c.r, c.h1, c.ln1);
            feed_forward(c.h1, c, ctx);
            c.r = c.h1 + drop(2, c.f2, c.fd, c.drop2, c, ctx);
            k::layer_norm_forward(norm(norm2_), norm(norm2_) + d_, static_cast<T>(eps_), c.r, y, c.ln2);
        } else {
            k::layer_norm_forward(norm(norm1_), norm(norm1_) + d_, static_cast<T>(eps_), x, c.n1, c.ln1);
            k::mha_forward(attn_weights(), c.n1, ctx, c.a, c.attn);
            c.h1 = x + drop(0, c.a, c.ad, c.drop1, c, ctx);
            k::layer_norm_forward(norm(norm2_), norm(norm2_) + d_, static_cast<T>(eps_), c.h1, c.n2, c.ln2);
            feed_forward(c.n2, c, ctx);
            y = c.h1 + drop(2, c.f2, c.fd, c.drop2, c, ctx);
        }
        k::zero_padded(y, ctx);
    }

    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy_in, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        namespace k = backend::attention_cpu;
        const matrix<T>& dy = k::masked_gradient(dy_in, ctx, c.dy);
        const auto ga = detail::self_attention_grads(grad, d_);
        if (!norm_first_) {
            k::layer_norm_backward(norm(norm2_), dy, c.ln2, grad + norm2_, grad + norm2_ + d_, c.d1);  // d1 = d r2
            feed_forward_backward(c.h1, undrop(c.d1, c.d2, c.drop2, c), c, grad, c.d3);                // d3 = d h1 (FF)
            c.d3 += c.d1;
            k::layer_norm_backward(norm(norm1_), c.d3, c.ln1, grad + norm1_, grad + norm1_ + d_, c.d4);  // d4 = d r1
            k::mha_backward(attn_weights(), x, undrop(c.d4, c.d5, c.drop1, c), ctx, ga, dx, c.attn);
            if (dx) *dx += c.d4;
        } else {
            feed_forward_backward(c.n2, undrop(dy, c.d2, c.drop2, c), c, grad, c.d3);  // d3 = d n2
            k::layer_norm_backward(norm(norm2_), c.d3, c.ln2, grad + norm2_, grad + norm2_ + d_, c.d1);
            c.d1 += dy;  // d1 = d h1
            k::mha_backward(attn_weights(), c.n1, undrop(c.d1, c.d5, c.drop1, c), ctx, ga, &c.d4, c.attn);
            k::layer_norm_backward(norm(norm1_), c.d4, c.ln1, grad + norm1_, grad + norm1_ + d_, c.d3);
            if (dx) *dx = c.d1 + c.d3;
        }
        if (dx) k::zero_padded(*dx, ctx);
    }

private:
    bool active(mode m) const noexcept { return m != mode::inference && rate_ > 0.0; }
    const T* norm(std::size_t off) const noexcept { return store_.values().data() + off; }
    backend::attention_cpu::mha_weights<T> attn_weights() const noexcept {
        return detail::self_attention_weights(store_.values().data(), d_, heads_);
    }
    backend::dense_weights<T> linear1() const noexcept {
        const T* p = store_.values().data() + lin1_;
        return {p, p + ff_ * d_, static_cast<Eigen::Index>(d_), static_cast<Eigen::Index>(ff_),
                act_ == transformer_activation::relu ? nn::activation::relu : nn::activation::linear};
    }
    backend::dense_weights<T> linear2() const noexcept {
        const T* p = store_.values().data() + lin2_;
        return {p, p + d_ * ff_, static_cast<Eigen::Index>(ff_), static_cast<Eigen::Index>(d_), nn::activation::linear};
    }

    /// Dropout site `site` (0: dropout1, 1: dropout, 2: dropout2): x itself when inactive.
    const matrix<T>& drop(std::uint64_t site, const matrix<T>& x, matrix<T>& buf, typename drop_k::cache& dc,
                          const cache& c, const chunk_info& ctx) const {
        if (!c.active) return x;
        drop_k::forward(static_cast<T>(rate_), ferrum::splitmix64(seed_ + site) ^ ctx.node, ctx.draw, ctx, x, buf, dc);
        return buf;
    }
    const matrix<T>& undrop(const matrix<T>& dy, matrix<T>& buf, const typename drop_k::cache& dc,
                            const cache& c) const {
        if (!c.active) return dy;
        drop_k::backward(dc, dy, buf);
        return buf;
    }

    /// f2 = linear2(dropout(act(linear1(in)))).
    void feed_forward(const matrix<T>& in, cache& c, const chunk_info& ctx) const {
        dense_k::forward(linear1(), in, c.f1);
        const matrix<T>* g = &c.f1;
        if (act_ == transformer_activation::gelu) {
            backend::attention_cpu::gelu_forward(c.f1, c.g);
            g = &c.g;
        }
        dense_k::forward(linear2(), drop(1, *g, c.gd, c.drop, c, ctx), c.f2);
    }
    /// Accumulates linear1/linear2 gradients for d f2; writes d in.
    void feed_forward_backward(const matrix<T>& in, const matrix<T>& df2, cache& c, T* grad, matrix<T>& din) const {
        const matrix<T>& g = act_ == transformer_activation::gelu ? c.g : c.f1;
        const matrix<T>& gd = c.active ? c.gd : g;
        dense_k::backward(linear2(), gd, c.f2, df2, c.lin2, {grad + lin2_, grad + lin2_ + d_ * ff_}, &c.d4);
        const matrix<T>& dg = undrop(c.d4, c.d5, c.drop, c);
        const matrix<T>* df1 = &dg;
        if (act_ == transformer_activation::gelu) {
            backend::attention_cpu::gelu_backward(c.f1, dg, c.r);
            df1 = &c.r;
        }
        dense_k::backward(linear1(), in, c.f1, *df1, c.lin1, {grad + lin1_, grad + lin1_ + ff_ * d_}, &din);
    }

    std::size_t d_, heads_, ff_;
    double rate_;
    transformer_activation act_;
    bool norm_first_;
    double eps_;
    std::uint64_t seed_;
    std::uint64_t draw_ = 0;
    std::size_t lin1_ = 0, lin2_ = 0, norm1_ = 0, norm2_ = 0;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
