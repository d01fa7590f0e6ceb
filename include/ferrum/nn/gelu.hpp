// The Gaussian error linear unit (Hendrycks & Gimpel 2016), exact form x * Phi(x) = x/2 (1 + erf(x/sqrt 2)),
// as torch.nn.GELU() (approximate='none'), element-wise on tables and sequences.
#pragma once

#include <string>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief GELU activation layer (no parameters); padded steps of a sequence output zeros and get zero
/// gradient. CPU kernels on every backend (host memory). \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
class gelu {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::gelu is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "gelu";
    struct cache {};

    gelu() = default;

    void reset_parameters(std::uint64_t) noexcept {}
    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const noexcept { return in; }
    nlohmann::json config() const { return nlohmann::json::object(); }
    static gelu from_config(const nlohmann::json&) { return gelu(); }

    void forward(const matrix<T>& x, matrix<T>& y, cache&, const chunk_info& ctx) const {
        backend::attention_cpu::gelu_forward(x, y);
        backend::attention_cpu::zero_padded(y, ctx);
    }
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T*, cache&,
                  const chunk_info& ctx) const {
        if (!dx) return;
        backend::attention_cpu::gelu_backward(x, dy, *dx);
        backend::attention_cpu::zero_padded(*dx, ctx);
    }

private:
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
