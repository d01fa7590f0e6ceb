// Fully connected layer y = f(W x + b) with PyTorch's nn.Linear layout (weight [out, in], bias [out])
// and initialisation (U(-1/sqrt(in), 1/sqrt(in)) for both). On a sequence it acts on every step.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "ferrum/backend/cpu/dense_kernels.hpp"
#ifdef FERRUM_USE_CUDNN  // linking ferrum::cudnn makes the GPU kernels the default backend
#  include "ferrum/backend/cudnn/dense_kernels.hpp"
#endif
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/activation.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief Dense (fully connected) layer. \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class dense {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::dense is defined for T = float or T = double only");
    using kernels = backend::dense_kernels<Backend, T>;

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "dense";
    /// Per-chunk scratch memory (owned by the model's pass, not by the layer).
    struct cache {
        typename kernels::cache k;
    };

    dense(std::size_t in_features, std::size_t out_features, activation act = activation::linear,
          std::uint64_t seed = 0)
        : in_(in_features), out_(out_features), act_(act) {
        if (in_features == 0 || out_features == 0)
            throw value_error("dense: in_features and out_features must be positive");
        store_.declare("weight", {out_, in_}, parameter_role::kernel);
        store_.declare("bias", {out_}, parameter_role::bias);
        reset_parameters(seed);
    }

    std::size_t in_features() const noexcept { return in_; }
    std::size_t out_features() const noexcept { return out_; }
    activation act() const noexcept { return act_; }

    /// PyTorch's default initialisation from an explicit seed.
    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
        std::uniform_real_distribution<double> u(-bound, bound);
        for (auto& v : store_.values()) v = static_cast<T>(u(gen));
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(in_), false}; }
    io_shape output_shape(io_shape in) const {
        if (static_cast<std::size_t>(in.features) != in_)
            throw value_error("dense: input has " + std::to_string(in.features) + " features, layer expects " +
                              std::to_string(in_));
        return {static_cast<Eigen::Index>(out_), in.sequence};
    }

    /// Model-file fields besides the weights.
    nlohmann::json config() const {
        return {{"in_features", in_}, {"out_features", out_}, {"activation", std::string(to_string(act_))}};
    }
    static dense from_config(const nlohmann::json& j) {
        return dense(config_field<std::size_t>(j, "in_features"), config_field<std::size_t>(j, "out_features"),
                     activation_from_string(config_field<std::string>(j, "activation")));
    }

    /// y = f(W x + b) on a chunk (features x columns).
    void forward(const matrix<T>& x, matrix<T>& y, cache&, const chunk_info&) const {
        kernels::forward(weights(), x, y);
    }
    /// Accumulates d loss / d (W, b) into grad (laid out as storage()); writes dx when not null.
    void backward(const matrix<T>& x, const matrix<T>& y, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info&) const {
        kernels::backward(weights(), x, y, dy, c.k, {grad, grad + out_ * in_}, dx);
    }

private:
    typename kernels::weights weights() const noexcept {
        const T* w = store_.values().data();
        return {w, w + out_ * in_, static_cast<Eigen::Index>(in_), static_cast<Eigen::Index>(out_), act_};
    }

    std::size_t in_, out_;
    activation act_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
