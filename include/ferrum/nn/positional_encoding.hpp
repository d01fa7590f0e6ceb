// Positional encodings added to a sequence: the fixed sinusoids of Vaswani et al. (2017, section 3.5)
// (the PyTorch tutorial's PositionalEncoding without dropout) and a learned table, one vector per step.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

namespace detail {
inline void check_positional_input(const char* who, io_shape in, std::size_t features) {
    if (!in.sequence) throw value_error(std::string(who) + ": input must be a sequence (batch, time, features)");
    if (static_cast<std::size_t>(in.features) != features)
        throw value_error(std::string(who) + ": input has " + std::to_string(in.features) +
                          " features, layer expects " + std::to_string(features));
}
}  // namespace detail

/// \brief y_t = x_t + PE(t), PE(t, 2i) = sin(t / 10000^(2i/F)), PE(t, 2i+1) = cos(t / 10000^(2i/F)).
/// No parameters; padded steps output zeros. \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
class sinusoidal_positional_encoding {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::sinusoidal_positional_encoding is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "sinusoidal_positional_encoding";
    struct cache {
        matrix<T> table;  ///< F x steps, made once per chunk shape
    };

    explicit sinusoidal_positional_encoding(std::size_t features) : features_(features) {
        if (features == 0) throw value_error("sinusoidal_positional_encoding: features must be positive");
    }
    std::size_t features() const noexcept { return features_; }

    void reset_parameters(std::uint64_t) noexcept {}
    parameter_list<T> parameters(const std::string& = {}) { return {}; }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(features_), true}; }
    io_shape output_shape(io_shape in) const {
        detail::check_positional_input("sinusoidal_positional_encoding", in, features_);
        return in;
    }
    nlohmann::json config() const { return {{"features", features_}}; }
    static sinusoidal_positional_encoding from_config(const nlohmann::json& j) {
        return sinusoidal_positional_encoding(config_field<std::size_t>(j, "features"));
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        backend::attention_cpu::sinusoidal_table(x.rows(), x.cols() / ctx.batch, c.table);
        backend::attention_cpu::add_positions(x, c.table, ctx, y);
    }
    void backward(const matrix<T>&, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T*, cache&,
                  const chunk_info& ctx) const {
        if (!dx) return;
        *dx = dy;
        backend::attention_cpu::zero_padded(*dx, ctx);
    }

private:
    std::size_t features_;
    parameter_storage<T> store_;
};

/// \brief y_t = x_t + weight[t] with a learned table weight [max_len, F] (as nn.Embedding over positions,
/// initialised N(0, 0.02^2)); sequences longer than max_len are an error. Padded steps output zeros and
/// add nothing to the gradient. \tparam T float or double.
template <class T = float, class Backend = ferrum::default_backend>
class learned_positional_encoding {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::learned_positional_encoding is defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "learned_positional_encoding";
    struct cache {
        matrix<T> dy;
    };

    learned_positional_encoding(std::size_t max_len, std::size_t features, std::uint64_t seed = 0)
        : max_len_(max_len), features_(features) {
        if (max_len == 0 || features == 0)
            throw value_error("learned_positional_encoding: max_len and features must be positive");
        store_.declare("weight", {max_len_, features_}, parameter_role::kernel);
        reset_parameters(seed);
    }
    std::size_t max_len() const noexcept { return max_len_; }
    std::size_t features() const noexcept { return features_; }

    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        std::normal_distribution<double> n(0.0, 0.02);
        for (auto& v : store_.values()) v = static_cast<T>(n(gen));
    }
    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(features_), true}; }
    io_shape output_shape(io_shape in) const {
        detail::check_positional_input("learned_positional_encoding", in, features_);
        return in;
    }
    nlohmann::json config() const { return {{"max_len", max_len_}, {"features", features_}}; }
    static learned_positional_encoding from_config(const nlohmann::json& j) {
        return learned_positional_encoding(config_field<std::size_t>(j, "max_len"),
                                           config_field<std::size_t>(j, "features"));
    }

    void forward(const matrix<T>& x, matrix<T>& y, cache&, const chunk_info& ctx) const {
        backend::attention_cpu::add_positions(x, table(x.cols() / ctx.batch), ctx, y);
    }
    void backward(const matrix<T>&, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        const Eigen::Index B = ctx.batch, S = dy.cols() / B, F = static_cast<Eigen::Index>(features_);
        const matrix<T>& d = backend::attention_cpu::masked_gradient(dy, ctx, c.dy);
        detail::matrix_map<T> g(grad, static_cast<Eigen::Index>(max_len_), F);
        for (Eigen::Index t = 0; t < S; ++t) g.row(t) += d.middleCols(t * B, B).rowwise().sum().transpose();
        if (dx) *dx = d;
    }

private:
    /// weight [max_len, F] row-major read as F x steps column-major: column t is step t's vector.
    Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> table(Eigen::Index steps) const {
        if (static_cast<std::size_t>(steps) > max_len_)
            throw value_error("learned_positional_encoding: sequences of " + std::to_string(steps) +
                              " steps exceed max_len " + std::to_string(max_len_));
        return {store_.values().data(), static_cast<Eigen::Index>(features_), steps};
    }

    std::size_t max_len_, features_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
