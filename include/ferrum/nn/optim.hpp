// Adam (Kingma & Ba 2015, Algorithm 1) with torch.optim.Adam's exact update, optionally Keras' "epsilon
// hat" form, and torch.nn.utils.clip_grad_norm_; both act on a parameter_list. The optimiser's state
// (m, v, step) round-trips through JSON so a trainer can checkpoint and resume bit-identically.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/parameter.hpp"

namespace ferrum::nn {

/// Hyper-parameters of adam. Defaults are PyTorch's (Keras uses epsilon = 1e-7).
struct adam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    /// PyTorch's L2 weight decay: weight_decay * p is added to the gradient before the moments
    /// (coupled, not AdamW's decoupled decay, and not Keras' `weight_decay`, which is decoupled).
    double weight_decay = 0.0;
    /// false: PyTorch, p -= lr * m_hat / (sqrt(v_hat) + eps).
    /// true: Keras/TensorFlow, eps is Kingma & Ba's "epsilon hat" (the form before their Sec. 2.1):
    /// p -= lr_t * m / (sqrt(v) + eps) with lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), i.e. the
    /// PyTorch update with eps replaced by eps / sqrt(1 - beta2^t).
    bool keras_epsilon = false;
};

namespace detail {

inline void check_adam_options(const adam_options& o) {
    const auto bad = [](const char* what, double v) {
        return value_error(std::string("adam: ") + what + ", got " + std::to_string(v));
    };
    if (!(o.lr >= 0) || !std::isfinite(o.lr)) throw bad("lr must be finite and >= 0", o.lr);
    if (!(o.beta1 >= 0 && o.beta1 < 1)) throw bad("beta1 must lie in [0, 1)", o.beta1);
    if (!(o.beta2 >= 0 && o.beta2 < 1)) throw bad("beta2 must lie in [0, 1)", o.beta2);
    if (!(o.eps >= 0) || !std::isfinite(o.eps)) throw bad("eps must be finite and >= 0", o.eps);
    if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay))
        throw bad("weight_decay must be finite and >= 0", o.weight_decay);
}

template <class T>
void require_buffers(const parameter_ref<T>& p, const char* function) {
    if (!p.value || !p.grad)
        throw value_error(std::string(function) + ": parameter '" + p.name + "' has no value or no gradient buffer");
}

}  // namespace detail

/// \brief torch.optim.Adam on a parameter_list<T>. The first step() fixes which parameters (names,
/// shapes, order) the optimiser serves and creates m = v = 0 for each; every later step() must be
/// given the same list, else value_error. step() reads the grad buffers and writes the values.
///
/// Per parameter element, with g the gradient (+ weight_decay * p) and t the step number (from 1):
///   m = beta1 m + (1-beta1) g;  v = beta2 v + (1-beta2) g^2;
///   p -= (lr / (1-beta1^t)) * m / (sqrt(v) / sqrt(1-beta2^t) + eps)
/// in this order of operations, which is PyTorch 1.13's single-tensor path (adam.json to 1e-12).
/// \tparam T float or double.
template <class T>
class adam {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::adam<T> needs T = float or double (the parameter type of the network).");

public:
    explicit adam(adam_options options = {}) : options_(options) { detail::check_adam_options(options_); }

    const adam_options& options() const noexcept { return options_; }
    /// The current learning rate (PyTorch's param_groups[0]["lr"]).
    double lr() const noexcept { return options_.lr; }
    /// Changes the learning rate for later steps (for schedules); the moments are kept.
    void set_lr(double lr) {
        adam_options o = options_;
        o.lr = lr;
        detail::check_adam_options(o);
        options_ = o;
    }
    /// Number of steps taken (PyTorch's state["step"]).
    std::int64_t step_count() const noexcept { return step_; }

    /// One Adam update of every parameter in `params` from its current gradient.
    /// \throws value_error if the list differs (count, name, shape) from the one of earlier steps, a
    /// buffer is missing, or the update would make a value non-finite (nothing is written then).
    void step(const parameter_list<T>& params) {
        // The first step adopts the list; the state is committed only once the whole step succeeded.
        std::vector<slot> fresh;
        const bool first = slots_.empty() && step_ == 0;
        if (first)
            for (const auto& p : params)
                fresh.push_back({p.name, p.shape, std::vector<T>(p.size(), T(0)), std::vector<T>(p.size(), T(0))});
        std::vector<slot>& slots = first ? fresh : slots_;
        check_same_list(params, slots);
        const std::int64_t t = step_ + 1;
        const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t));
        const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t));
        const double eps = options_.keras_epsilon ? options_.eps / std::sqrt(bias2) : options_.eps;
        // PyTorch does this scalar arithmetic in Python floats (double) and rounds into T per operation.
        const T step_size = static_cast<T>(options_.lr / bias1);
        const T bias2_sqrt = static_cast<T>(std::sqrt(bias2));
        const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
        const T one_minus_b1 = static_cast<T>(1.0 - options_.beta1);
        const T one_minus_b2 = static_cast<T>(1.0 - options_.beta2);
        const T wd = static_cast<T>(options_.weight_decay), e = static_cast<T>(eps);

        // Compute every new value first, so a non-finite gradient leaves parameters and state intact.
        std::vector<std::vector<T>> new_m(slots.size()), new_v(slots.size()), new_p(slots.size());
        for (std::size_t k = 0; k < slots.size(); ++k) {
            const parameter_ref<T>& p = params[k];
            const std::size_t n = p.size();
            new_m[k].resize(n);
            new_v[k].resize(n);
            new_p[k].resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                T g = p.grad[i];
                if (options_.weight_decay != 0) g = g + wd * p.value[i];
                const T m = slots[k].m[i] * b1 + g * one_minus_b1;
                const T v = slots[k].v[i] * b2 + one_minus_b2 * g * g;
                const T denom = std::sqrt(v) / bias2_sqrt + e;
                const T updated = p.value[i] + (-step_size) * m / denom;  // addcdiv's (value*t1)/t2
                if (!std::isfinite(updated))
                    throw value_error("adam: step " + std::to_string(t) + " would make parameter '" + p.name + "'[" +
                                      std::to_string(i) + "] non-finite (gradient " + std::to_string(p.grad[i]) + ")");
                new_m[k][i] = m;
                new_v[k][i] = v;
                new_p[k][i] = updated;
            }
        }
        for (std::size_t k = 0; k < slots.size(); ++k) {
            slots[k].m.swap(new_m[k]);
            slots[k].v.swap(new_v[k]);
            std::copy(new_p[k].begin(), new_p[k].end(), params[k].value);
        }
        if (first) slots_ = std::move(fresh);
        step_ = t;
    }

    /// \brief The optimiser's state as JSON: options, step, and per parameter its name, shape, m and v
    /// (numbers printed to round-trip exactly). Pair with load_state_dict() to resume training.
    nlohmann::json state_dict() const {
        nlohmann::json j;
        j["format"] = "ferrum.adam";
        j["version"] = 1;
        j["options"] = {{"lr", options_.lr},
                        {"beta1", options_.beta1},
                        {"beta2", options_.beta2},
                        {"eps", options_.eps},
                        {"weight_decay", options_.weight_decay},
                        {"keras_epsilon", options_.keras_epsilon}};
        j["step"] = step_;
        nlohmann::json params = nlohmann::json::array();
        for (const auto& s : slots_) params.push_back({{"name", s.name}, {"shape", s.shape}, {"m", s.m}, {"v", s.v}});
        j["params"] = std::move(params);
        return j;
    }

    /// \brief Restores options, step and moments saved by state_dict() (as torch's load_state_dict,
    /// the saved hyper-parameters replace the current ones). The next step() must get a parameter list
    /// with the saved names and shapes.
    /// \throws value_error on a malformed or inconsistent state (the optimiser is then unchanged).
    void load_state_dict(const nlohmann::json& j) {
        try {
            if (j.at("format").get<std::string>() != "ferrum.adam")
                throw value_error("adam::load_state_dict: not an Adam state (format '" +
                                  j.at("format").get<std::string>() + "')");
            if (j.at("version").get<int>() != 1)
                throw value_error("adam::load_state_dict: unsupported state version " + j.at("version").dump());
            const auto& o = j.at("options");
            adam_options opt;
            opt.lr = o.at("lr").get<double>();
            opt.beta1 = o.at("beta1").get<double>();
            opt.beta2 = o.at("beta2").get<double>();
            opt.eps = o.at("eps").get<double>();
            opt.weight_decay = o.at("weight_decay").get<double>();
            opt.keras_epsilon = o.at("keras_epsilon").get<bool>();
            detail::check_adam_options(opt);
            const auto step = j.at("step").get<std::int64_t>();
            if (step < 0) throw value_error("adam::load_state_dict: negative step count");
            std::vector<slot> slots;
            for (const auto& p : j.at("params")) {
                slot s{p.at("name").get<std::string>(), p.at("shape").get<std::vector<std::size_t>>(),
                       p.at("m").get<std::vector<T>>(), p.at("v").get<std::vector<T>>()};
                const std::size_t n = size_of(s.shape);
                if (s.m.size() != n || s.v.size() != n)
                    throw value_error("adam::load_state_dict: parameter '" + s.name + "': m and v must hold " +
                                      std::to_string(n) + " values");
                slots.push_back(std::move(s));
            }
            if (step == 0 && !slots.empty())
                throw value_error("adam::load_state_dict: moments given for a state with 0 steps");
            options_ = opt;
            step_ = step;
            slots_ = std::move(slots);
        } catch (const nlohmann::json::exception& e) {
            throw value_error(std::string("adam::load_state_dict: malformed state: ") + e.what());
        }
    }

    /// Forgets all moments and the step count (the options are kept).
    void reset() noexcept {
        slots_.clear();
        step_ = 0;
    }

private:
    struct slot {
        std::string name;
        std::vector<std::size_t> shape;
        std::vector<T> m, v;
    };

    static std::size_t size_of(const std::vector<std::size_t>& shape) noexcept {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }

    static std::string shape_str(const std::vector<std::size_t>& shape) {
        std::string s = "(";
        for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
        return s + ")";
    }

    static void check_same_list(const parameter_list<T>& params, const std::vector<slot>& slots) {
        if (params.size() != slots.size())
            throw value_error("adam::step: got " + std::to_string(params.size()) +
                              " parameters, but this optimiser's state is for " + std::to_string(slots.size()));
        for (std::size_t k = 0; k < params.size(); ++k) {
            detail::require_buffers(params[k], "adam::step");
            if (params[k].name != slots[k].name || params[k].shape != slots[k].shape)
                throw value_error("adam::step: parameter " + std::to_string(k) + " is '" + params[k].name + "' " +
                                  shape_str(params[k].shape) + ", but the optimiser's state is for '" + slots[k].name +
                                  "' " + shape_str(slots[k].shape));
        }
    }

    adam_options options_;
    std::int64_t step_ = 0;
    std::vector<slot> slots_;
};

/// \brief torch.nn.utils.clip_grad_norm_ (2-norm): the total norm N of all gradients taken as one
/// vector; if max_norm / (N + 1e-6) < 1 every gradient is multiplied by that factor.
/// \returns N, the norm before clipping.
/// \throws value_error if max_norm < 0, a buffer is missing, or N is not finite (PyTorch's
/// error_if_nonfinite=True; the gradients are then left untouched).
template <class T>
T clip_grad_norm(const parameter_list<T>& params, T max_norm) {
    detail::require_real_scalar<T>();
    if (!(max_norm >= T(0)) || !std::isfinite(max_norm))
        throw value_error("clip_grad_norm: max_norm must be finite and >= 0, got " + std::to_string(max_norm));
    // As PyTorch: the norm of the per-parameter norms.
    T sum_sq = 0;
    for (const auto& p : params) {
        detail::require_buffers(p, "clip_grad_norm");
        const T norm = Eigen::Map<const output_vector<T>>(p.grad, static_cast<Eigen::Index>(p.size())).norm();
        sum_sq += norm * norm;
    }
    const T total = std::sqrt(sum_sq);
    if (!std::isfinite(total))
        throw value_error(
            "clip_grad_norm: the total gradient norm is not finite; "
            "a gradient holds NaN or inf");
    const T coef = max_norm / (total + T(1e-6));
    if (coef < T(1))
        for (const auto& p : params) Eigen::Map<output_vector<T>>(p.grad, static_cast<Eigen::Index>(p.size())) *= coef;
    return total;
}

}  // namespace ferrum::nn
