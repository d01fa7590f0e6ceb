// Element-wise activations of dense layers (linear, relu, tanh, sigmoid, softplus) with their
// derivatives written in terms of the layer OUTPUT, so backpropagation needs no stored pre-activation.
// softplus(x) = log(1 + e^x) uses the overflow-free form max(x, 0) + log1p(e^-|x|).
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "ferrum/core/error.hpp"

namespace ferrum::nn {

/// The non-linearity applied after a dense layer's affine map.
enum class activation {
    linear,
    relu,
    tanh,
    sigmoid,
    softplus
};

/// The name used in model files and error messages ("linear", "relu", ...).
constexpr std::string_view to_string(activation a) noexcept {
    switch (a) {
        case activation::linear: return "linear";
        case activation::relu: return "relu";
        case activation::tanh: return "tanh";
        case activation::sigmoid: return "sigmoid";
        case activation::softplus: return "softplus";
    }
    return "linear";
}

/// Parses a name written by to_string; throws ferrum::value_error for anything else.
inline activation activation_from_string(std::string_view name) {
    constexpr std::array<activation, 5> all{activation::linear, activation::relu, activation::tanh, activation::sigmoid,
                                            activation::softplus};
    for (activation a : all)
        if (to_string(a) == name) return a;
    throw value_error("unknown activation '" + std::string(name) +
                      "' (expected linear, relu, tanh, sigmoid or softplus)");
}

namespace detail {

/// Applies `a` in place to an Eigen array expression holding pre-activations.
template <class ArrayRef>
void apply_activation(activation a, ArrayRef&& y) {
    using S = typename std::decay_t<ArrayRef>::Scalar;
    switch (a) {
        case activation::linear: break;
        case activation::relu: y = y.max(S(0)); break;
        case activation::tanh: y = y.tanh(); break;
        case activation::sigmoid: y = y.logistic(); break;
        case activation::softplus: y = y.max(S(0)) + (-y.abs()).exp().log1p(); break;
    }
}

/// Multiplies the upstream gradient `g` in place by f'(x), expressed through the output y = f(x):
/// relu: [y > 0]; tanh: 1 - y^2; sigmoid: y (1 - y); softplus: sigmoid(x) = 1 - e^-y = -expm1(-y).
template <class GradRef, class OutExpr>
void multiply_activation_derivative(activation a, GradRef&& g, const OutExpr& y) {
    using S = typename std::decay_t<GradRef>::Scalar;
    switch (a) {
        case activation::linear: break;
        case activation::relu: g = (y > S(0)).select(g, S(0)); break;
        case activation::tanh: g *= S(1) - y.square(); break;
        case activation::sigmoid: g *= y * (S(1) - y); break;
        case activation::softplus: g *= -((-y).unaryExpr([](S v) { return std::expm1(v); })); break;
    }
}

}  // namespace detail
}  // namespace ferrum::nn
