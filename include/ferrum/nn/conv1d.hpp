// One-dimensional convolution over time, as torch.nn.Conv1d on (batch, channels, time) with the engine's
// (batch, time, channels) sequences: y[o, t] = bias[o] + sum_{c,k} weight[o, c, k] x[c, t*stride - pad + k*dilation]
// (cross-correlation, as PyTorch). Padding: valid (none), same (stride 1; dilation*(kernel-1) zeros split as
// PyTorch's padding='same', the extra one on the right) or causal (all of them on the left, Keras's
// padding='causal', so output t reads no input after t). CPU kernel: im2col + one Eigen GEMM per chunk.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "ferrum/backend/cpu/conv_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// How conv1d pads the time axis.
enum class conv_padding {
    valid,  ///< no padding: (steps - dilation*(kernel-1) - 1) / stride + 1 outputs
    same,   ///< as many outputs as steps (stride 1 only, as PyTorch)
    causal  ///< dilation*(kernel-1) zeros on the left: ceil(steps / stride) outputs, none reads the future
};

/// \brief 1-D convolution over the steps of a sequence (in_channels features in, out_channels out).
/// Parameters as torch.nn.Conv1d: weight [out, in, kernel], bias [out]. Each sample is convolved as if it
/// ended at its own length (zeros past it, as PyTorch on the truncated sequence): its valid outputs are
/// the first output_steps(length); later outputs are zero. CPU kernels on every backend (host memory).
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class conv1d {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::conv1d is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "conv1d";
    using cache = backend::conv_cpu::conv1d_cache<T>;

    conv1d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size,
           conv_padding padding = conv_padding::valid, std::size_t stride = 1, std::size_t dilation = 1,
           bool bias = true, std::uint64_t seed = 0)
        : in_(in_channels), out_(out_channels), padding_(padding), bias_(bias) {
        if (in_channels == 0 || out_channels == 0) throw value_error("conv1d: channels must be positive");
        if (kernel_size == 0) throw value_error("conv1d: kernel_size must be positive");
        if (stride == 0) throw value_error("conv1d: stride must be positive");
        if (dilation == 0) throw value_error("conv1d: dilation must be positive");
        if (padding == conv_padding::same && stride != 1)
            throw value_error("conv1d: padding 'same' needs stride 1 (as PyTorch); use 'causal' or 'valid'");
        w_.kernel = static_cast<Eigen::Index>(kernel_size);
        w_.stride = static_cast<Eigen::Index>(stride);
        w_.dilation = static_cast<Eigen::Index>(dilation);
        const Eigen::Index total = w_.dilation * (w_.kernel - 1);
        if (padding == conv_padding::same) w_.pad_left = total / 2, w_.pad_right = total - total / 2;
        if (padding == conv_padding::causal) w_.pad_left = total;
        store_.declare("weight", {out_, in_, kernel_size}, parameter_role::kernel);
        if (bias_) store_.declare("bias", {out_}, parameter_role::bias);
        reset_parameters(seed);
    }

    std::size_t in_channels() const noexcept { return in_; }
    std::size_t out_channels() const noexcept { return out_; }
    std::size_t kernel_size() const noexcept { return static_cast<std::size_t>(w_.kernel); }
    std::size_t stride() const noexcept { return static_cast<std::size_t>(w_.stride); }
    std::size_t dilation() const noexcept { return static_cast<std::size_t>(w_.dilation); }
    conv_padding padding() const noexcept { return padding_; }
    bool has_bias() const noexcept { return bias_; }

    /// PyTorch's initialisation (kaiming_uniform_ with a = sqrt(5)): weight and bias U(+-1/sqrt(in * kernel)).
    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in_) * static_cast<double>(w_.kernel));
        std::uniform_real_distribution<double> u(-bound, bound);
        for (auto& v : store_.values()) v = static_cast<T>(u(gen));
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(in_), true}; }
    io_shape output_shape(io_shape in) const {
        if (!in.sequence) throw value_error("conv1d: input must be a sequence (batch, time, channels)");
        if (static_cast<std::size_t>(in.features) != in_)
            throw value_error("conv1d: input has " + std::to_string(in.features) + " channels, layer expects " +
                              std::to_string(in_));
        return {static_cast<Eigen::Index>(out_), true};
    }
    /// Output steps of a sequence of `steps` steps (0: shorter than one kernel span under 'valid').
    std::size_t output_steps(std::size_t steps) const noexcept {
        return static_cast<std::size_t>(w_.output_steps(static_cast<Eigen::Index>(steps)));
    }

    nlohmann::json config() const {
        return {{"in_channels", in_},  {"out_channels", out_},    {"kernel_size", w_.kernel},
                {"stride", w_.stride}, {"dilation", w_.dilation}, {"padding", padding_name(padding_)},
                {"bias", bias_}};
    }
    static conv1d from_config(const nlohmann::json& j) {
        const auto p = config_field<std::string>(j, "padding");
        conv_padding padding = conv_padding::valid;
        if (p == "same") padding = conv_padding::same;
        else if (p == "causal") padding = conv_padding::causal;
        else if (p != "valid") throw value_error("field 'padding' is '" + p + "' (expected valid, same or causal)");
        return conv1d(config_field<std::size_t>(j, "in_channels"), config_field<std::size_t>(j, "out_channels"),
                      config_field<std::size_t>(j, "kernel_size"), padding, config_field<std::size_t>(j, "stride"),
                      config_field<std::size_t>(j, "dilation"), config_field<bool>(j, "bias"));
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        const T* p = store_.values().data();
        backend::conv_cpu::conv1d_forward(w_, p, bias_ ? p + weight_size() : nullptr, static_cast<Eigen::Index>(out_),
                                          x, ctx, y, c);
    }
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        backend::conv_cpu::conv1d_backward(w_, static_cast<Eigen::Index>(out_), x, dy, ctx, grad,
                                           bias_ ? grad + weight_size() : nullptr, dx, c);
    }

private:
    static const char* padding_name(conv_padding p) noexcept {
        return p == conv_padding::same ? "same" : p == conv_padding::causal ? "causal" : "valid";
    }
    std::size_t weight_size() const noexcept { return out_ * in_ * static_cast<std::size_t>(w_.kernel); }

    std::size_t in_, out_;
    conv_padding padding_;
    bool bias_;
    backend::conv_cpu::window w_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
