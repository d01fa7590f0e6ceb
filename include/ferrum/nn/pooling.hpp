// Pooling over time: max and average pooling over windows of `kernel_size` steps every `stride` steps
// (torch.nn.MaxPool1d / AvgPool1d, with optional padding on both sides), and global average / max pooling of a whole sequence
// into one vector (torch.mean / torch.amax over each sample's valid steps; Keras GlobalAveragePooling1D and
// GlobalMaxPooling1D with a mask). Windows never reach past a sample's length.
#pragma once

#include <cstdint>
#include <string>

#include "ferrum/backend/cpu/conv_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

namespace detail {

/// Max (Max = true) or average pooling over time windows; no parameters.
template <class T, class Backend, bool Max>
class time_pooling {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn pooling layers are defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = Max ? "max_pool1d" : "avg_pool1d";
    using cache = backend::conv_cpu::pooling_cache<T>;

    /// \param stride 0: kernel_size (PyTorch's default).
    /// \param padding steps added on each side (PyTorch's `padding`, at most kernel_size / 2): max pooling
    /// never picks a padded step (PyTorch pads with -inf), average pooling counts them as zeros
    /// (count_include_pad). kernel 3, stride 1, padding 1 keeps the steps (Keras `padding="same"`).
    explicit time_pooling(std::size_t kernel_size, std::size_t stride = 0, std::size_t padding = 0) {
        if (kernel_size == 0) throw value_error(std::string(type_name) + ": kernel_size must be positive");
        if (padding > kernel_size / 2)
            throw value_error(std::string(type_name) + ": padding " + std::to_string(padding) +
                              " is more than half the kernel (" + std::to_string(kernel_size) + ")");
        w_.kernel = static_cast<Eigen::Index>(kernel_size);
        w_.stride = static_cast<Eigen::Index>(stride ? stride : kernel_size);
        w_.pad_left = w_.pad_right = static_cast<Eigen::Index>(padding);
    }
    std::size_t kernel_size() const noexcept { return static_cast<std::size_t>(w_.kernel); }
    std::size_t stride() const noexcept { return static_cast<std::size_t>(w_.stride); }
    std::size_t padding() const noexcept { return static_cast<std::size_t>(w_.pad_left); }

    void reset_parameters(std::uint64_t) noexcept {}
    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const {
        if (!in.sequence)
            throw value_error(std::string(type_name) + ": input must be a sequence (batch, time, features)");
        return in;
    }
    /// (steps - kernel) / stride + 1 windows (0: shorter than one window).
    std::size_t output_steps(std::size_t steps) const noexcept {
        return static_cast<std::size_t>(w_.output_steps(static_cast<Eigen::Index>(steps)));
    }
    /// "padding" is written only when it is not 0 (files of earlier builds have none: 0).
    nlohmann::json config() const {
        nlohmann::json j{{"kernel_size", w_.kernel}, {"stride", w_.stride}};
        if (w_.pad_left) j["padding"] = w_.pad_left;
        return j;
    }
    static time_pooling from_config(const nlohmann::json& j) {
        return time_pooling(config_field<std::size_t>(j, "kernel_size"), config_field<std::size_t>(j, "stride"),
                            j.is_object() && j.contains("padding") ? config_field<std::size_t>(j, "padding") : 0);
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        backend::conv_cpu::pool_forward(w_, Max, x, ctx, y, c);
    }
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T*, cache& c,
                  const chunk_info& ctx) const {
        if (dx) backend::conv_cpu::pool_backward(w_, Max, x, dy, ctx, *dx, c);
    }

private:
    backend::conv_cpu::window w_;
    parameter_storage<T> store_;
};

/// Global average (Max = false) or max pooling of each sample's valid steps into one vector.
template <class T, class Backend, bool Max>
class global_pooling {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn pooling layers are defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = Max ? "global_max_pooling" : "global_average_pooling";
    using cache = backend::conv_cpu::pooling_cache<T>;

    global_pooling() = default;
    void reset_parameters(std::uint64_t) noexcept {}
    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape output_shape(io_shape in) const {
        if (!in.sequence)
            throw value_error(std::string(type_name) + ": input must be a sequence (batch, time, features)");
        return {in.features, false};
    }
    nlohmann::json config() const { return nlohmann::json::object(); }
    static global_pooling from_config(const nlohmann::json&) { return global_pooling(); }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        backend::conv_cpu::global_pool_forward(Max, x, ctx, y, c);
    }
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T*, cache& c,
                  const chunk_info& ctx) const {
        if (dx) backend::conv_cpu::global_pool_backward(Max, x, dy, ctx, *dx, c);
    }

private:
    parameter_storage<T> store_;
};

}  // namespace detail

/// \brief Max pooling over time (torch.nn.MaxPool1d(kernel_size, stride, padding)); the gradient goes to the first
/// step of each window that holds the maximum. \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
using max_pool1d = detail::time_pooling<T, Backend, true>;
/// \brief Average pooling over time (torch.nn.AvgPool1d(kernel_size, stride, padding)). \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
using avg_pool1d = detail::time_pooling<T, Backend, false>;
/// \brief Mean over each sample's valid steps: (batch, time, F) -> (batch, F). \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
using global_average_pooling = detail::global_pooling<T, Backend, false>;
/// \brief Maximum over each sample's valid steps: (batch, time, F) -> (batch, F). \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
using global_max_pooling = detail::global_pooling<T, Backend, true>;

}  // namespace ferrum::nn
