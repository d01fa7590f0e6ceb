// An activation as a layer of its own (Keras's Activation layer; torch.nn.ReLU, Tanh, Sigmoid, Softplus):
// the element-wise non-linearities of activation.hpp on tables or sequences, e.g. the ReLU after a batch
// normalisation in a convolutional block (Wang, Yan & Oates 2017).
#pragma once

#include <string>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/nn/activation.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief y = f(x) element-wise (no parameters); padded steps of a sequence output zeros and get zero
/// gradient. CPU kernels on every backend (host memory). \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
class activation_layer {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::activation_layer is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "activation";
    struct cache {};

    explicit activation_layer(nn::activation f = nn::activation::relu) : f_(f) {}
    nn::activation function() const noexcept { return f_; }

    void reset_parameters(std::uint64_t) noexcept {}
    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const noexcept { return in; }
    nlohmann::json config() const { return {{"activation", std::string(to_string(f_))}}; }
    static activation_layer from_config(const nlohmann::json& j) {
        return activation_layer(activation_from_string(config_field<std::string>(j, "activation")));
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache&, const chunk_info& ctx) const {
        y = x;
        detail::apply_activation(f_, y.array());
        backend::attention_cpu::zero_padded(y, ctx);
    }
    /// The derivative from the output y, as dense layers do.
    void backward(const matrix<T>&, const matrix<T>& y, const matrix<T>& dy, matrix<T>* dx, T*, cache&,
                  const chunk_info& ctx) const {
        if (!dx) return;
        *dx = dy;
        detail::multiply_activation_derivative(f_, dx->array(), y.array());
        backend::attention_cpu::zero_padded(*dx, ctx);
    }

private:
    nn::activation f_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
