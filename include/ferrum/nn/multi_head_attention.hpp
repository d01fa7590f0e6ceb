// Multi-head self-attention (Vaswani et al. 2017, section 3.2.2) as torch.nn.MultiheadAttention(E, H,
// batch_first=True) called as attn(x, x, x, key_padding_mask) on each sample's valid steps: the parameters
// keep PyTorch's names and layout (in_proj_weight [3E, E] stacking q, k, v; in_proj_bias [3E];
// out_proj.weight [E, E]; out_proj.bias [E]), so a state_dict maps one to one.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

namespace detail {
/// Declares the four MultiheadAttention tensors under `prefix`; returns the offset of the first.
template <class T>
std::size_t declare_self_attention(parameter_storage<T>& s, const std::string& prefix, std::size_t E) {
    const std::size_t off = s.declare(prefix + "in_proj_weight", {3 * E, E}, parameter_role::kernel);
    s.declare(prefix + "in_proj_bias", {3 * E}, parameter_role::bias);
    s.declare(prefix + "out_proj.weight", {E, E}, parameter_role::kernel);
    s.declare(prefix + "out_proj.bias", {E}, parameter_role::bias);
    return off;
}
/// PyTorch's _reset_parameters: xavier_uniform_ in_proj_weight, zero biases, out_proj.weight as nn.Linear.
template <class T>
void reset_self_attention(T* p, std::size_t E, std::mt19937_64& gen) {
    const double xb = std::sqrt(6.0 / static_cast<double>(4 * E)), lb = 1.0 / std::sqrt(static_cast<double>(E));
    std::uniform_real_distribution<double> xu(-xb, xb), lu(-lb, lb);
    for (std::size_t i = 0; i < 3 * E * E; ++i) p[i] = static_cast<T>(xu(gen));
    for (std::size_t i = 0; i < 3 * E; ++i) p[3 * E * E + i] = T(0);
    T* o = p + 3 * E * E + 3 * E;
    for (std::size_t i = 0; i < E * E; ++i) o[i] = static_cast<T>(lu(gen));
    for (std::size_t i = 0; i < E; ++i) o[E * E + i] = T(0);
}
template <class T>
backend::attention_cpu::mha_weights<T> self_attention_weights(const T* p, std::size_t E, std::size_t H) noexcept {
    return {p,
            p + 3 * E * E,
            p + 3 * E * E + 3 * E,
            p + 4 * E * E + 3 * E,
            static_cast<Eigen::Index>(E),
            static_cast<Eigen::Index>(H)};
}
template <class T>
backend::attention_cpu::mha_grads<T> self_attention_grads(T* p, std::size_t E) noexcept {
    return {p, p + 3 * E * E, p + 3 * E * E + 3 * E, p + 4 * E * E + 3 * E};
}
inline void check_heads(const char* who, std::size_t E, std::size_t H) {
    if (E == 0 || H == 0) throw value_error(std::string(who) + ": embed_dim and num_heads must be positive");
    if (E % H != 0)
        throw value_error(std::string(who) + ": embed_dim " + std::to_string(E) + " is not divisible by num_heads " +
                          std::to_string(H));
}
}  // namespace detail

/// \brief Multi-head self-attention over each sample's valid steps (padded steps are masked keys, output
/// zeros and get zero gradient). CPU kernels on every backend (host memory).
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class multi_head_attention {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::multi_head_attention is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "multi_head_attention";
    struct cache {
        backend::attention_cpu::mha_cache<T> k;
    };

    multi_head_attention(std::size_t embed_dim, std::size_t num_heads, std::uint64_t seed = 0)
        : embed_(embed_dim), heads_(num_heads) {
        detail::check_heads("multi_head_attention", embed_dim, num_heads);
        detail::declare_self_attention(store_, "", embed_);
        reset_parameters(seed);
    }

    std::size_t embed_dim() const noexcept { return embed_; }
    std::size_t num_heads() const noexcept { return heads_; }

    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        detail::reset_self_attention(store_.values().data(), embed_, gen);
    }
    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(embed_), true}; }
    io_shape output_shape(io_shape in) const {
        if (!in.sequence) throw value_error("multi_head_attention: input must be a sequence (batch, time, features)");
        if (static_cast<std::size_t>(in.features) != embed_)
            throw value_error("multi_head_attention: input has " + std::to_string(in.features) +
                              " features, layer expects " + std::to_string(embed_));
        return in;
    }
    nlohmann::json config() const { return {{"embed_dim", embed_}, {"num_heads", heads_}}; }
    static multi_head_attention from_config(const nlohmann::json& j) {
        return multi_head_attention(config_field<std::size_t>(j, "embed_dim"),
                                    config_field<std::size_t>(j, "num_heads"));
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        backend::attention_cpu::mha_forward(detail::self_attention_weights(store_.values().data(), embed_, heads_), x,
                                            ctx, y, c.k);
    }
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        backend::attention_cpu::mha_backward(detail::self_attention_weights(store_.values().data(), embed_, heads_), x,
                                             dy, ctx, detail::self_attention_grads(grad, embed_), dx, c.k);
    }

private:
    std::size_t embed_, heads_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
