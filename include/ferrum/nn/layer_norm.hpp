// Layer normalisation (Ba, Kiros & Hinton 2016, eq. 4) over the features of every step, with an
// element-wise affine map, as torch.nn.LayerNorm(features): weight [F] (ones), bias [F] (zeros), eps 1e-5.
#pragma once

#include <cstdint>
#include <string>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief y = (x - mean) / sqrt(var + eps) * weight + bias over the features of each step (or row of a
/// table); padded steps of a sequence output zeros. CPU kernels on every backend (host memory).
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class layer_norm {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::layer_norm is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "layer_norm";
    struct cache {
        backend::attention_cpu::layer_norm_cache<T> k;
        matrix<T> dy;
    };

    explicit layer_norm(std::size_t features, double eps = 1e-5) : features_(features), eps_(eps) {
        if (features == 0) throw value_error("layer_norm: features must be positive");
        if (!(eps > 0.0)) throw value_error("layer_norm: eps must be positive");
        store_.declare("weight", {features_}, parameter_role::kernel);
        store_.declare("bias", {features_}, parameter_role::bias);
        reset_parameters(0);
    }

    std::size_t features() const noexcept { return features_; }
    double eps() const noexcept { return eps_; }

    /// PyTorch's initialisation: weight 1, bias 0 (the seed is not needed).
    void reset_parameters(std::uint64_t) {
        for (std::size_t i = 0; i < features_; ++i) {
            store_.values()[i] = T(1);
            store_.values()[features_ + i] = T(0);
        }
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const {
        if (static_cast<std::size_t>(in.features) != features_)
            throw value_error("layer_norm: input has " + std::to_string(in.features) + " features, layer expects " +
                              std::to_string(features_));
        return in;
    }

    nlohmann::json config() const { return {{"features", features_}, {"eps", eps_}}; }
    static layer_norm from_config(const nlohmann::json& j) {
        return layer_norm(config_field<std::size_t>(j, "features"), config_field<double>(j, "eps"));
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        const T* p = store_.values().data();
        backend::attention_cpu::layer_norm_forward(p, p + features_, static_cast<T>(eps_), x, y, c.k);
        backend::attention_cpu::zero_padded(y, ctx);
    }
    void backward(const matrix<T>&, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        matrix<T> local;
        const matrix<T>& d = backend::attention_cpu::masked_gradient(dy, ctx, c.dy);
        backend::attention_cpu::layer_norm_backward(store_.values().data(), d, c.k, grad, grad + features_,
                                                    dx ? *dx : local);
    }

private:
    std::size_t features_;
    double eps_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
