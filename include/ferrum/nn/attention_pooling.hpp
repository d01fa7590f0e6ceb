// Attention pooling over time: a sequence becomes one vector y = sum_t alpha_t x_t with alpha = softmax of
// a score over each sample's valid steps. Scores: additive (Bahdanau, Cho & Bengio 2015, eq. 6:
// e_t = v^T tanh(W x_t + b)) or dot-product with a learned query (e_t = q^T x_t / sqrt(F), the scaled
// dot product of Vaswani et al. 2017, eq. 1, with one learned query).
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

/// How attention_pooling scores a step.
enum class attention_score {
    additive,  ///< v^T tanh(W x_t + b): parameters proj.weight [A, F], proj.bias [A], v [A]
    dot        ///< q^T x_t / sqrt(F): parameter query [F]
};

/// \brief Attention pooling of a sequence (features F) into one vector of F features. Padded steps get
/// zero weight and zero gradient. CPU kernels on every backend (host memory).
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class attention_pooling {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::attention_pooling is defined for T = float or T = double only");
    using kern_weights = backend::attention_cpu::pooling_weights<T>;

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "attention_pooling";
    struct cache {
        backend::attention_cpu::pooling_cache<T> k;
    };

    /// \param attention_size A, the width of the additive score's hidden layer (ignored for dot).
    attention_pooling(std::size_t features, attention_score score = attention_score::additive,
                      std::size_t attention_size = 32, std::uint64_t seed = 0)
        : features_(features), score_(score), attention_(score == attention_score::dot ? 0 : attention_size) {
        if (features == 0) throw value_error("attention_pooling: features must be positive");
        if (score == attention_score::additive) {
            if (attention_size == 0) throw value_error("attention_pooling: attention_size must be positive");
            store_.declare("proj.weight", {attention_, features_}, parameter_role::kernel);
            store_.declare("proj.bias", {attention_}, parameter_role::bias);
            store_.declare("v", {attention_}, parameter_role::kernel);
        } else {
            store_.declare("query", {features_}, parameter_role::kernel);
        }
        reset_parameters(seed);
    }

    std::size_t features() const noexcept { return features_; }
    attention_score score() const noexcept { return score_; }
    std::size_t attention_size() const noexcept { return attention_; }

    /// nn.Linear's initialisation for proj (U(+-1/sqrt(F))); v and query U(+-1/sqrt(A)) and U(+-1/sqrt(F)).
    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        auto fill = [&](const std::string& name, double fan_in) {
            std::uniform_real_distribution<double> u(-1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
            for (const auto& s : store_.specs())
                if (s.name == name)
                    for (std::size_t i = 0; i < s.size(); ++i) store_.values()[s.offset + i] = static_cast<T>(u(gen));
        };
        const auto F = static_cast<double>(features_);
        if (score_ == attention_score::additive) {
            fill("proj.weight", F);
            fill("proj.bias", F);
            fill("v", static_cast<double>(attention_));
        } else {
            fill("query", F);
        }
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(features_), true}; }
    io_shape output_shape(io_shape in) const {
        if (!in.sequence) throw value_error("attention_pooling: input must be a sequence (batch, time, features)");
        if (static_cast<std::size_t>(in.features) != features_)
            throw value_error("attention_pooling: input has " + std::to_string(in.features) +
                              " features, layer expects " + std::to_string(features_));
        return {in.features, false};
    }

    nlohmann::json config() const {
        return {{"features", features_},
                {"score", score_ == attention_score::dot ? "dot" : "additive"},
                {"attention_size", attention_}};
    }
    static attention_pooling from_config(const nlohmann::json& j) {
        const auto s = config_field<std::string>(j, "score");
        if (s != "additive" && s != "dot") throw value_error("field 'score' is '" + s + "' (expected additive or dot)");
        return attention_pooling(config_field<std::size_t>(j, "features"),
                                 s == "dot" ? attention_score::dot : attention_score::additive,
                                 config_field<std::size_t>(j, "attention_size"));
    }

    /// y (F x batch) = sum over each sample's valid steps of alpha_t x_t.
    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        backend::attention_cpu::pooling_forward(weights(), x, ctx, y, c.k);
    }
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        backend::attention_cpu::pooling_grads<T> g{nullptr, nullptr, nullptr, nullptr};
        if (score_ == attention_score::additive) {
            const std::size_t A = attention_, F = features_;
            g = {grad, grad + A * F, grad + A * F + A, nullptr};
        } else {
            g.query = grad;
        }
        backend::attention_cpu::pooling_backward(weights(), x, dy, ctx, g, dx, c.k);
    }

private:
    kern_weights weights() const noexcept {
        const T* p = store_.values().data();
        const auto F = static_cast<Eigen::Index>(features_), A = static_cast<Eigen::Index>(attention_);
        if (score_ == attention_score::dot) return {nullptr, nullptr, nullptr, p, F, 0};
        return {p, p + A * F, p + A * F + A, nullptr, F, A};
    }

    std::size_t features_;
    attention_score score_;
    std::size_t attention_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn
