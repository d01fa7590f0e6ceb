// L1/L2 weight penalties with Keras' `kernel_regularizer` / `recurrent_regularizer` /
// `bias_regularizer` semantics (keras.regularizers.L1L2): penalty = l1 sum|w| + l2 sum w^2, added to
// the loss once per batch, with coefficients chosen separately per parameter_role.
#pragma once

#include <cmath>
#include <string>

#include "ferrum/core/error.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/parameter.hpp"

namespace ferrum::nn {

/// \brief Keras-style L1 + L2 penalties per parameter role. For each parameter with coefficients
/// (l1, l2) of its role: penalty += l1 sum|w| + l2 sum w^2 and grad += l1 sign(w) + 2 l2 w, with
/// sign(0) = 0 (the subgradient TensorFlow and PyTorch use). L2 with coefficient l2 equals PyTorch's
/// Adam/SGD weight_decay = 2 l2 on those parameters.
struct regularizer {
    double kernel_l1 = 0, kernel_l2 = 0;
    double recurrent_l1 = 0, recurrent_l2 = 0;
    double bias_l1 = 0, bias_l2 = 0;

    /// \brief Adds the penalty's gradient into each parameter's grad buffer (through the pointers in
    /// `params`, so a temporary list works) and returns the penalty to add to the loss.
    /// \throws value_error on a negative or non-finite coefficient or a missing buffer (nothing is
    /// written then).
    template <class T>
    T apply(const parameter_list<T>& params) const {
        return accumulate(params, true);
    }

    /// \brief The penalty alone, e.g. to report the regularised loss on validation data.
    template <class T>
    T penalty(const parameter_list<T>& params) const {
        return accumulate(params, false);
    }

private:
    struct coefficients {
        double l1, l2;
    };

    constexpr coefficients for_role(parameter_role role) const noexcept {
        switch (role) {
            case parameter_role::kernel: return {kernel_l1, kernel_l2};
            case parameter_role::recurrent: return {recurrent_l1, recurrent_l2};
            case parameter_role::bias: return {bias_l1, bias_l2};
        }
        return {0, 0};
    }

    void check() const {
        const double all[] = {kernel_l1, kernel_l2, recurrent_l1, recurrent_l2, bias_l1, bias_l2};
        const char* names[] = {"kernel_l1", "kernel_l2", "recurrent_l1", "recurrent_l2", "bias_l1", "bias_l2"};
        for (int k = 0; k < 6; ++k)
            if (!(all[k] >= 0) || !std::isfinite(all[k]))
                throw value_error(std::string("regularizer: ") + names[k] + " must be finite and >= 0, got " +
                                  std::to_string(all[k]));
    }

    template <class T>
    static Eigen::Map<const output_vector<T>> values(const parameter_ref<T>& p) noexcept {
        return {p.value, static_cast<Eigen::Index>(p.size())};
    }

    template <class T>
    T accumulate(const parameter_list<T>& params, bool add_gradient) const {
        detail::require_real_scalar<T>();
        check();
        for (const auto& p : params)
            if (!p.value || (add_gradient && !p.grad))
                throw value_error("regularizer: parameter '" + p.name + "' has no value or no gradient buffer");
        T total = 0;
        for (const auto& p : params) {
            const coefficients c = for_role(p.role);
            if (c.l1 == 0 && c.l2 == 0) continue;
            const auto w = values(p);
            total += static_cast<T>(c.l1) * w.cwiseAbs().sum() + static_cast<T>(c.l2) * w.squaredNorm();
        }
        if (!std::isfinite(total)) throw value_error("regularizer: the penalty is not finite; a weight is NaN or inf");
        if (add_gradient)
            for (const auto& p : params) {
                const coefficients c = for_role(p.role);
                if (c.l1 == 0 && c.l2 == 0) continue;
                const auto w = values(p);
                Eigen::Map<output_vector<T>>(p.grad, w.size()) += static_cast<T>(c.l1) * w.cwiseSign() +
                                                                  static_cast<T>(2 * c.l2) * w;
            }
        return total;
    }
};

}  // namespace ferrum::nn
