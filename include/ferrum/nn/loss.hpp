// Training losses for metallicity regression, each returning its value and its gradient with respect
// to the network outputs: Keras-style weighted MSE; the robust heteroscedastic loss with label errors
// (Leung & Bovy 2019; Fallows & Sanders 2022 eq. 3); UA-CSNet's cost-sensitive Gaussian NLL with an
// error floor (Yang et al., eqs. 7, 10, 12); and the Fallows & Sanders loss weight (eq. 11).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include <Eigen/Core>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xutils.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum::nn {

/// How per-sample terms are combined, with PyTorch's names: `mean` divides the (weighted) sum by the
/// number of samples N -- never by the sum of the weights, as Keras' default "sum_over_batch_size".
enum class reduction {
    mean,
    sum
};

/// A column vector of network outputs (one per sample), targets, or gradients w.r.t. the outputs.
template <class T>
using output_vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// Value of a loss with one network output per sample, and d(value)/d(prediction).
template <class T>
struct loss_result {
    T value;
    output_vector<T> grad;
};

/// Value of a loss on a mean and a log-variance output per sample, with both gradients.
template <class T>
struct heteroscedastic_loss_result {
    T value;
    output_vector<T> grad_mean;     ///< d(value)/d(mu_i)
    output_vector<T> grad_log_var;  ///< d(value)/d(log_var_pred_i), log_var_pred = ln(sigma_model^2)
};

namespace detail {

template <class T>
constexpr void require_real_scalar() noexcept {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn losses, penalties and optimisers work on float or double values only; "
                  "convert integer or long double data with .template cast<double>() first.");
}

template <class D>
void require_sample_vector(const Eigen::MatrixBase<D>& v, const char* what, Eigen::Index n, const char* function) {
    if (v.cols() != 1 || v.rows() != n)
        throw value_error(std::string(function) + ": '" + what + "' must be a column vector of " + std::to_string(n) +
                          " values (one per sample), got " + std::to_string(v.rows()) + "x" + std::to_string(v.cols()));
}

/// Contribution of one sample: its term of the loss and the term's derivatives w.r.t. the first and
/// (for heteroscedastic losses) second network output.
template <class T>
struct sample_term {
    T value;
    T d_first;
    T d_second;
};

/// The one reduction loop every loss shares: validates the weights, weights and reduces the
/// per-sample terms given by `term(i)`, and refuses a non-finite term (never a silent NaN).
/// `weight` is null for unit weights; `grad_second` is null for single-output losses.
template <class T, class Term>
T reduce_terms(Eigen::Index n, const T* weight, reduction r, const char* function, Term&& term,
               output_vector<T>& grad_first, output_vector<T>* grad_second) {
    if (n == 0) throw value_error(std::string(function) + ": no samples (empty prediction vector)");
    const T scale = r == reduction::mean ? T(1) / static_cast<T>(n) : T(1);
    grad_first.resize(n);
    if (grad_second) grad_second->resize(n);
    T total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const T w = weight ? weight[i] : T(1);
        if (!(w >= T(0)) || !std::isfinite(w))
            throw value_error(std::string(function) + ": sample weight " + std::to_string(i) + " is " +
                              std::to_string(w) + "; weights must be finite and >= 0");
        const sample_term<T> t = term(i);
        if (!std::isfinite(t.value) || !std::isfinite(t.d_first) || !std::isfinite(t.d_second))
            throw value_error(std::string(function) + ": the loss of sample " + std::to_string(i) +
                              " is not finite; check that sample for NaN/inf inputs or an "
                              "overflowing log-variance");
        total += w * t.value;
        grad_first[i] = scale * w * t.d_first;
        if (grad_second) (*grad_second)[i] = scale * w * t.d_second;
    }
    return scale * total;
}

/// ln(a^2 + e^b) without overflow, and its derivative e^b / (a^2 + e^b) w.r.t. b; exact for a = 0.
template <class T>
sample_term<T> log_add_variance(T sigma, T log_var) noexcept {
    const T log_a2 = T(2) * std::log(sigma);  // -inf for sigma = 0, which the max/min below absorb
    const T hi = std::max(log_a2, log_var);
    const T lo = std::min(log_a2, log_var);
    const T s = hi + std::log1p(std::exp(lo - hi));
    return {s, std::exp(log_var - s), T(0)};
}

template <class D>
using scalar_of = typename D::Scalar;

// --- xtensor operands: every loss also takes xtensor expressions (mixed with Eigen ones) ---------------

template <class A>
constexpr bool is_xtensor_operand = xt::is_xexpression<A>::value;
template <class A>
constexpr bool is_eigen_operand = std::is_base_of_v<Eigen::EigenBase<A>, A>;
/// A call with at least one xtensor operand and nothing but xtensor or Eigen operands (calls with Eigen
/// operands only take the Eigen overloads).
template <class... A>
constexpr bool xtensor_loss_call = ((is_xtensor_operand<A> || is_eigen_operand<A>)&&...) &&
                                   (is_xtensor_operand<A> || ...);

template <class A, bool = is_xtensor_operand<A>>
struct operand_scalar {
    using type = std::decay_t<typename A::value_type>;
};
template <class A>
struct operand_scalar<A, false> {
    using type = typename A::Scalar;
};
template <class A>
using operand_scalar_t = typename operand_scalar<A>::type;

/// \brief One value per sample, seen by the Eigen losses as a column: an `Eigen::Map` over the operand's own
/// memory at its stride (xtensor containers, strided views such as `xt::col(out, 0)`, Eigen vectors, maps
/// and blocks), or a copy made once where the operand has no memory layout (an expression such as `x * 2`).
template <class T>
class sample_column {
public:
    using map_type = Eigen::Map<const output_vector<T>, 0, Eigen::InnerStride<>>;

    template <class A>
    sample_column(const A& a, const char* what, const char* function) {
        static_assert(std::is_same_v<operand_scalar_t<A>, T>,
                      "ferrum::nn losses: every operand must have the scalar type of the prediction.");
        if constexpr (is_xtensor_operand<A>) {
            const auto& shape = a.shape();
            const std::size_t dim = shape.size();
            if (!(dim == 1 || (dim == 2 && shape[1] == 1)))
                throw value_error(std::string(function) + ": '" + what +
                                  "' must hold one value per sample, shaped (samples,) or (samples, 1)");
            n_ = static_cast<Eigen::Index>(shape[0]);
            if constexpr (xt::has_data_interface<A>::value && xt::has_strides<A>::value) {
                const auto stride = static_cast<Eigen::Index>(a.strides()[0]);
                if (stride > 0 || n_ <= 1) {
                    data_ = a.data() + a.data_offset();
                    stride_ = n_ <= 1 ? 1 : stride;
                    return;
                }
            }
            const xt::xarray<T> copy = a;
            owned_ = Eigen::Map<const output_vector<T>>(copy.data(), n_);
        } else {
            n_ = a.rows();
            if (a.cols() != 1)
                throw value_error(std::string(function) + ": '" + what +
                                  "' must be a column vector (one value per "
                                  "sample), got " +
                                  std::to_string(a.rows()) + "x" + std::to_string(a.cols()));
            if constexpr (bool(A::Flags & Eigen::DirectAccessBit)) {
                data_ = a.derived().data();
                stride_ = n_ <= 1 ? 1 : static_cast<Eigen::Index>(a.derived().rowStride());
                if (stride_ > 0) return;
            }
            owned_ = a;
        }
        data_ = owned_.data();
        stride_ = 1;
    }
    sample_column(const sample_column&) = delete;
    sample_column& operator=(const sample_column&) = delete;

    map_type map() const { return map_type(data_, n_, Eigen::InnerStride<>(stride_)); }

private:
    output_vector<T> owned_;
    const T* data_ = nullptr;
    Eigen::Index n_ = 0, stride_ = 1;
};

}  // namespace detail

// --- weighted mean squared error ------------------------------------------------------------------

/// \brief Mean squared error with Keras `sample_weight` semantics:
/// J = (1/N) sum_i w_i (yhat_i - y_i)^2 for reduction::mean (divided by N, not by sum w -- the same as
/// PyTorch's `(w * (yhat - y)**2).mean()`), J = sum_i w_i (yhat_i - y_i)^2 for reduction::sum.
/// \tparam D1, D2, D3 Eigen column-vector expressions of float or double.
/// \throws value_error on empty or mismatched inputs, negative weights or a non-finite term.
template <class D1, class D2, class D3>
loss_result<detail::scalar_of<D1>> mse_loss(const Eigen::MatrixBase<D1>& prediction,
                                            const Eigen::MatrixBase<D2>& target,
                                            const Eigen::MatrixBase<D3>& sample_weight, reduction r = reduction::mean) {
    using T = detail::scalar_of<D1>;
    detail::require_real_scalar<T>();
    static_assert(std::is_same_v<T, detail::scalar_of<D2>> && std::is_same_v<T, detail::scalar_of<D3>>,
                  "mse_loss: prediction, target and sample_weight must have the same scalar type.");
    constexpr const char* fn = "mse_loss";
    const Eigen::Index n = prediction.rows();
    detail::require_sample_vector(prediction, "prediction", n, fn);
    detail::require_sample_vector(target, "target", n, fn);
    detail::require_sample_vector(sample_weight, "sample_weight", n, fn);
    const output_vector<T> yhat = prediction, y = target, w = sample_weight;
    loss_result<T> out;
    out.value = detail::reduce_terms<T>(
        n, w.data(), r, fn,
        [&](Eigen::Index i) {
        const T d = yhat[i] - y[i];
        return detail::sample_term<T>{d * d, T(2) * d, T(0)};
        },
        out.grad, nullptr);
    return out;
}

/// \brief Unweighted mean squared error (all w_i = 1); see the weighted overload.
template <class D1, class D2>
loss_result<detail::scalar_of<D1>> mse_loss(const Eigen::MatrixBase<D1>& prediction,
                                            const Eigen::MatrixBase<D2>& target, reduction r = reduction::mean) {
    using T = detail::scalar_of<D1>;
    return mse_loss(prediction, target, output_vector<T>::Ones(prediction.rows()), r);
}

// --- robust heteroscedastic loss with label errors ------------------------------------------------

/// \brief The robust loss with label errors of Leung & Bovy (2019) as written by Fallows & Sanders
/// (2022, eq. 3). The network predicts a mean mu_i and log_var_i = ln(sigma_model,i^2); the label's
/// own error sigma_data,i adds in quadrature: s_i = ln(sigma_data,i^2 + e^{log_var_i}) and
/// J = (1/N) sum_i w_i [ (y_i - mu_i)^2 e^{-s_i} / 2 + s_i / 2 ]   (reduction::mean; sum drops 1/N).
/// s_i is evaluated as a log-sum-exp, so a large log_var does not overflow and sigma_data = 0 is exact.
/// \throws value_error on empty or mismatched inputs, sigma_data < 0, negative weights, non-finite terms.
template <class D1, class D2, class D3, class D4, class D5>
heteroscedastic_loss_result<detail::scalar_of<D1>> robust_heteroscedastic_loss(
    const Eigen::MatrixBase<D1>& mean, const Eigen::MatrixBase<D2>& log_var, const Eigen::MatrixBase<D3>& target,
    const Eigen::MatrixBase<D4>& sigma_data, const Eigen::MatrixBase<D5>& sample_weight,
    reduction r = reduction::mean) {
    using T = detail::scalar_of<D1>;
    detail::require_real_scalar<T>();
    static_assert(std::is_same_v<T, detail::scalar_of<D2>> && std::is_same_v<T, detail::scalar_of<D3>> &&
                      std::is_same_v<T, detail::scalar_of<D4>> && std::is_same_v<T, detail::scalar_of<D5>>,
                  "robust_heteroscedastic_loss: all inputs must have the same scalar type.");
    constexpr const char* fn = "robust_heteroscedastic_loss";
    const Eigen::Index n = mean.rows();
    detail::require_sample_vector(mean, "mean", n, fn);
    detail::require_sample_vector(log_var, "log_var", n, fn);
    detail::require_sample_vector(target, "target", n, fn);
    detail::require_sample_vector(sigma_data, "sigma_data", n, fn);
    detail::require_sample_vector(sample_weight, "sample_weight", n, fn);
    const output_vector<T> mu = mean, lv = log_var, y = target, sd = sigma_data, w = sample_weight;
    heteroscedastic_loss_result<T> out;
    out.value = detail::reduce_terms<T>(
        n, w.data(), r, fn,
        [&](Eigen::Index i) {
        if (!(sd[i] >= T(0)))
            throw value_error(std::string(fn) + ": sigma_data[" + std::to_string(i) + "] must be >= 0, got " +
                              std::to_string(sd[i]));
        const auto s = detail::log_add_variance(sd[i], lv[i]);  // s.value = s_i, s.d_first = ds/dlog_var
        const T resid = y[i] - mu[i];
        const T inv_var = std::exp(-s.value);
        const T half_chi2 = T(0.5) * resid * resid * inv_var;
        return detail::sample_term<T>{half_chi2 + T(0.5) * s.value, -resid * inv_var, (T(0.5) - half_chi2) * s.d_first};
        },
        out.grad_mean, &out.grad_log_var);
    return out;
}

/// \brief Unweighted robust heteroscedastic loss (all w_i = 1); see the weighted overload.
template <class D1, class D2, class D3, class D4>
heteroscedastic_loss_result<detail::scalar_of<D1>> robust_heteroscedastic_loss(const Eigen::MatrixBase<D1>& mean,
                                                                               const Eigen::MatrixBase<D2>& log_var,
                                                                               const Eigen::MatrixBase<D3>& target,
                                                                               const Eigen::MatrixBase<D4>& sigma_data,
                                                                               reduction r = reduction::mean) {
    using T = detail::scalar_of<D1>;
    return robust_heteroscedastic_loss(mean, log_var, target, sigma_data, output_vector<T>::Ones(mean.rows()), r);
}

// --- cost-sensitive Gaussian NLL with an error floor (UA-CSNet) ------------------------------------

/// \brief UA-CSNet's cost-sensitive Gaussian negative log-likelihood (Yang et al., eqs. 7, 10, 12).
/// With var_i = max(epsilon, e^{log_var_i}) (eq. 10's floor on sigma_model^2),
/// J = sum_i c_i [ (y_i - mu_i)^2 / (2 var_i) + ln(var_i) / 2 ]   (reduction::sum, the paper's and
/// the default; reduction::mean divides by N). Where the floor is active (e^{log_var} < epsilon) the
/// gradient w.r.t. log_var is 0, as PyTorch's clamp gives; at equality the gradient passes.
/// \param cost per-sample cost c_i >= 0 (eq. 7); pass ones for the plain NLL.
/// \throws value_error on empty or mismatched inputs, epsilon <= 0, negative costs, non-finite terms.
template <class D1, class D2, class D3, class D4>
heteroscedastic_loss_result<detail::scalar_of<D1>> cost_sensitive_gaussian_nll(
    const Eigen::MatrixBase<D1>& mean, const Eigen::MatrixBase<D2>& log_var, const Eigen::MatrixBase<D3>& target,
    const Eigen::MatrixBase<D4>& cost, detail::scalar_of<D1> epsilon = detail::scalar_of<D1>(0.02),
    reduction r = reduction::sum) {
    using T = detail::scalar_of<D1>;
    detail::require_real_scalar<T>();
    static_assert(std::is_same_v<T, detail::scalar_of<D2>> && std::is_same_v<T, detail::scalar_of<D3>> &&
                      std::is_same_v<T, detail::scalar_of<D4>>,
                  "cost_sensitive_gaussian_nll: all inputs must have the same scalar type.");
    constexpr const char* fn = "cost_sensitive_gaussian_nll";
    if (!(epsilon > T(0)) || !std::isfinite(epsilon))
        throw value_error(std::string(fn) + ": the variance floor epsilon must be finite and > 0, got " +
                          std::to_string(epsilon));
    const Eigen::Index n = mean.rows();
    detail::require_sample_vector(mean, "mean", n, fn);
    detail::require_sample_vector(log_var, "log_var", n, fn);
    detail::require_sample_vector(target, "target", n, fn);
    detail::require_sample_vector(cost, "cost", n, fn);
    const output_vector<T> mu = mean, lv = log_var, y = target, c = cost;
    const T log_eps = std::log(epsilon);
    heteroscedastic_loss_result<T> out;
    out.value = detail::reduce_terms<T>(
        n, c.data(), r, fn,
        [&](Eigen::Index i) {
        const T model_var = std::exp(lv[i]);
        const bool floored = model_var < epsilon;
        const T var = floored ? epsilon : model_var;
        const T resid = y[i] - mu[i];
        const T half_chi2 = T(0.5) * resid * resid / var;
        // ln(var) is taken from log_var itself where unfloored: exact, unlike ln(exp(log_var)).
        return detail::sample_term<T>{half_chi2 + T(0.5) * (floored ? log_eps : lv[i]), -resid / var,
                                      floored ? T(0) : T(0.5) - half_chi2};
        },
        out.grad_mean, &out.grad_log_var);
    return out;
}

/// \brief The same NLL with unit costs (c_i = 1).
template <class D1, class D2, class D3>
heteroscedastic_loss_result<detail::scalar_of<D1>> cost_sensitive_gaussian_nll(
    const Eigen::MatrixBase<D1>& mean, const Eigen::MatrixBase<D2>& log_var, const Eigen::MatrixBase<D3>& target,
    detail::scalar_of<D1> epsilon = detail::scalar_of<D1>(0.02), reduction r = reduction::sum) {
    using T = detail::scalar_of<D1>;
    return cost_sensitive_gaussian_nll(mean, log_var, target, output_vector<T>::Ones(mean.rows()), epsilon, r);
}

// --- Fallows & Sanders loss weight ----------------------------------------------------------------

/// \brief Fallows & Sanders (2022) eq. 11 sample weight W_i = |[Fe/H]_i| + C (C = 0.5 in the paper):
/// up-weights the metal-poor tail, which is rare in training sets. Use as `sample_weight`.
/// \throws value_error on a non-finite [Fe/H] or C < 0.
template <class D>
output_vector<detail::scalar_of<D>> fallows_sanders_weight(const Eigen::MatrixBase<D>& feh,
                                                           detail::scalar_of<D> c = detail::scalar_of<D>(0.5)) {
    using T = detail::scalar_of<D>;
    detail::require_real_scalar<T>();
    if (!(c >= T(0)) || !std::isfinite(c))
        throw value_error("fallows_sanders_weight: C must be finite and >= 0, got " + std::to_string(c));
    detail::require_sample_vector(feh, "feh", feh.rows(), "fallows_sanders_weight");
    output_vector<T> w = feh.cwiseAbs().array() + c;
    for (Eigen::Index i = 0; i < w.size(); ++i)
        if (!std::isfinite(w[i]))
            throw value_error("fallows_sanders_weight: [Fe/H][" + std::to_string(i) + "] is not finite");
    return w;
}

// --- the same losses on xtensor operands ----------------------------------------------------------
// Any argument may be an xtensor expression (a container, `xt::col(output, 0)`, `xt::adapt` over a buffer)
// or an Eigen one; each is read in place where it has a memory layout (see detail::sample_column).

/// \brief mse_loss with xtensor (or mixed xtensor and Eigen) operands: (samples,) or (samples, 1) each.
template <class P, class Y, class W, std::enable_if_t<detail::xtensor_loss_call<P, Y, W>, int> = 0>
loss_result<detail::operand_scalar_t<P>> mse_loss(const P& prediction, const Y& target, const W& sample_weight,
                                                  reduction r = reduction::mean) {
    using T = detail::operand_scalar_t<P>;
    constexpr const char* fn = "mse_loss";
    const detail::sample_column<T> p(prediction, "prediction", fn), y(target, "target", fn),
        w(sample_weight, "sample_weight", fn);
    return mse_loss(p.map(), y.map(), w.map(), r);
}
/// \brief Unweighted mse_loss with xtensor (or mixed) operands.
template <class P, class Y, std::enable_if_t<detail::xtensor_loss_call<P, Y>, int> = 0>
loss_result<detail::operand_scalar_t<P>> mse_loss(const P& prediction, const Y& target, reduction r = reduction::mean) {
    using T = detail::operand_scalar_t<P>;
    constexpr const char* fn = "mse_loss";
    const detail::sample_column<T> p(prediction, "prediction", fn), y(target, "target", fn);
    return mse_loss(p.map(), y.map(), r);
}

/// \brief robust_heteroscedastic_loss with xtensor (or mixed) operands.
template <class M, class L, class Y, class S, class W,
          std::enable_if_t<detail::xtensor_loss_call<M, L, Y, S, W>, int> = 0>
heteroscedastic_loss_result<detail::operand_scalar_t<M>> robust_heteroscedastic_loss(const M& mean, const L& log_var,
                                                                                     const Y& target,
                                                                                     const S& sigma_data,
                                                                                     const W& sample_weight,
                                                                                     reduction r = reduction::mean) {
    using T = detail::operand_scalar_t<M>;
    constexpr const char* fn = "robust_heteroscedastic_loss";
    const detail::sample_column<T> m(mean, "mean", fn), l(log_var, "log_var", fn), y(target, "target", fn),
        s(sigma_data, "sigma_data", fn), w(sample_weight, "sample_weight", fn);
    return robust_heteroscedastic_loss(m.map(), l.map(), y.map(), s.map(), w.map(), r);
}
/// \brief Unweighted robust_heteroscedastic_loss with xtensor (or mixed) operands.
template <class M, class L, class Y, class S, std::enable_if_t<detail::xtensor_loss_call<M, L, Y, S>, int> = 0>
heteroscedastic_loss_result<detail::operand_scalar_t<M>> robust_heteroscedastic_loss(const M& mean, const L& log_var,
                                                                                     const Y& target,
                                                                                     const S& sigma_data,
                                                                                     reduction r = reduction::mean) {
    using T = detail::operand_scalar_t<M>;
    constexpr const char* fn = "robust_heteroscedastic_loss";
    const detail::sample_column<T> m(mean, "mean", fn), l(log_var, "log_var", fn), y(target, "target", fn),
        s(sigma_data, "sigma_data", fn);
    return robust_heteroscedastic_loss(m.map(), l.map(), y.map(), s.map(), r);
}

/// \brief cost_sensitive_gaussian_nll with xtensor (or mixed) operands.
template <class M, class L, class Y, class C, std::enable_if_t<detail::xtensor_loss_call<M, L, Y, C>, int> = 0>
heteroscedastic_loss_result<detail::operand_scalar_t<M>> cost_sensitive_gaussian_nll(
    const M& mean, const L& log_var, const Y& target, const C& cost,
    detail::operand_scalar_t<M> epsilon = detail::operand_scalar_t<M>(0.02), reduction r = reduction::sum) {
    using T = detail::operand_scalar_t<M>;
    constexpr const char* fn = "cost_sensitive_gaussian_nll";
    const detail::sample_column<T> m(mean, "mean", fn), l(log_var, "log_var", fn), y(target, "target", fn),
        c(cost, "cost", fn);
    return cost_sensitive_gaussian_nll(m.map(), l.map(), y.map(), c.map(), epsilon, r);
}
/// \brief cost_sensitive_gaussian_nll with unit costs and xtensor (or mixed) operands.
template <class M, class L, class Y, std::enable_if_t<detail::xtensor_loss_call<M, L, Y>, int> = 0>
heteroscedastic_loss_result<detail::operand_scalar_t<M>> cost_sensitive_gaussian_nll(
    const M& mean, const L& log_var, const Y& target,
    detail::operand_scalar_t<M> epsilon = detail::operand_scalar_t<M>(0.02), reduction r = reduction::sum) {
    using T = detail::operand_scalar_t<M>;
    constexpr const char* fn = "cost_sensitive_gaussian_nll";
    const detail::sample_column<T> m(mean, "mean", fn), l(log_var, "log_var", fn), y(target, "target", fn);
    return cost_sensitive_gaussian_nll(m.map(), l.map(), y.map(), epsilon, r);
}

/// \brief fallows_sanders_weight of an xtensor expression of [Fe/H] values.
template <class F, std::enable_if_t<detail::xtensor_loss_call<F>, int> = 0>
output_vector<detail::operand_scalar_t<F>> fallows_sanders_weight(
    const F& feh, detail::operand_scalar_t<F> c = detail::operand_scalar_t<F>(0.5)) {
    using T = detail::operand_scalar_t<F>;
    const detail::sample_column<T> f(feh, "feh", "fallows_sanders_weight");
    return fallows_sanders_weight(f.map(), c);
}

}  // namespace ferrum::nn
