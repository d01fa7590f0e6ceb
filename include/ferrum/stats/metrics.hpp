// Regression metrics equal to scikit-learn 1.2 (r2_score, mean_squared_error, mean_absolute_error with
// sample_weight) plus the scatter figures of the [Fe/H] papers: bias (weighted mean residual) and the
// robust scatter 1.4826 MAD (normal-consistent; Rousseeuw & Croux 1993).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "ferrum/core/error.hpp"

namespace ferrum {

namespace detail {

/// Checks sizes, finiteness and weights; returns the weights to use (all ones when `w` is empty).
inline std::vector<double> checked_weights(const char* who, const std::vector<double>& y_true,
                                           const std::vector<double>& y_pred, const std::vector<double>& w) {
    const std::string name(who);
    if (y_true.empty()) throw value_error(name + ": no samples");
    if (y_pred.size() != y_true.size())
        throw value_error(name + ": " + std::to_string(y_true.size()) + " true values but " +
                          std::to_string(y_pred.size()) + " predictions");
    if (!w.empty() && w.size() != y_true.size())
        throw value_error(name + ": " + std::to_string(w.size()) + " weights for " + std::to_string(y_true.size()) +
                          " samples");
    for (std::size_t i = 0; i < y_true.size(); ++i)
        if (!std::isfinite(y_true[i]) || !std::isfinite(y_pred[i]))
            throw value_error(name + ": non-finite value at index " + std::to_string(i));
    if (w.empty()) return std::vector<double>(y_true.size(), 1.0);
    double s = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (!(std::isfinite(w[i]) && w[i] >= 0.0))
            throw value_error(name + ": weight at index " + std::to_string(i) + " is negative or not finite (" +
                              std::to_string(w[i]) + ")");
        s += w[i];
    }
    if (!(s > 0.0)) throw value_error(name + ": weights sum to zero");
    return w;
}

/// numpy.median: the mean of the two middle values for an even count. `v` is reordered.
inline double median_inplace(std::vector<double>& v) {
    const std::size_t n = v.size(), mid = n / 2;
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(mid), v.end());
    const double upper = v[mid];
    if (n % 2) return upper;
    return 0.5 * (*std::max_element(v.begin(), v.begin() + std::ptrdiff_t(mid)) + upper);
}

inline double robust_scatter_inplace(std::vector<double>& r) {
    const double m = median_inplace(r);
    for (double& v : r) v = std::abs(v - m);
    return 1.4826 * median_inplace(r);
}

inline void require_finite_values(const char* who, const std::vector<double>& v) {
    if (v.empty()) throw value_error(std::string(who) + ": no values");
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
            throw value_error(std::string(who) + ": non-finite value at index " + std::to_string(i));
}

}  // namespace detail

/// \brief Coefficient of determination, sklearn.metrics.r2_score(y_true, y_pred, sample_weight=w):
/// 1 - sum w (y - yhat)^2 / sum w (y - ybar_w)^2. A constant y_true gives 1 for a perfect fit and 0
/// otherwise (sklearn's force_finite=True). Needs at least 2 samples.
inline double r2_score(const std::vector<double>& y_true, const std::vector<double>& y_pred,
                       const std::vector<double>& sample_weight = {}) {
    const auto w = detail::checked_weights("r2_score", y_true, y_pred, sample_weight);
    if (y_true.size() < 2) throw value_error("r2_score: needs at least 2 samples");
    double sw = 0.0, mean = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) sw += w[i], mean += w[i] * y_true[i];
    mean /= sw;
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        num += w[i] * (y_true[i] - y_pred[i]) * (y_true[i] - y_pred[i]);
        den += w[i] * (y_true[i] - mean) * (y_true[i] - mean);
    }
    if (den == 0.0) return num == 0.0 ? 1.0 : 0.0;
    return 1.0 - num / den;
}

/// \brief Weighted mean squared error, sklearn.metrics.mean_squared_error(sample_weight=w).
inline double mean_squared_error(const std::vector<double>& y_true, const std::vector<double>& y_pred,
                                 const std::vector<double>& sample_weight = {}) {
    const auto w = detail::checked_weights("mean_squared_error", y_true, y_pred, sample_weight);
    double sw = 0.0, s = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i)
        sw += w[i], s += w[i] * (y_true[i] - y_pred[i]) * (y_true[i] - y_pred[i]);
    return s / sw;
}

/// \brief Root of the weighted mean squared error.
inline double rmse(const std::vector<double>& y_true, const std::vector<double>& y_pred,
                   const std::vector<double>& sample_weight = {}) {
    return std::sqrt(mean_squared_error(y_true, y_pred, sample_weight));
}

/// \brief Weighted mean absolute error, sklearn.metrics.mean_absolute_error(sample_weight=w).
inline double mae(const std::vector<double>& y_true, const std::vector<double>& y_pred,
                  const std::vector<double>& sample_weight = {}) {
    const auto w = detail::checked_weights("mae", y_true, y_pred, sample_weight);
    double sw = 0.0, s = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) sw += w[i], s += w[i] * std::abs(y_true[i] - y_pred[i]);
    return s / sw;
}

/// \brief Bias: the weighted mean residual sum w (y_pred - y_true) / sum w (prediction minus truth, so a
/// positive bias means metallicities come out too high).
inline double bias(const std::vector<double>& y_true, const std::vector<double>& y_pred,
                   const std::vector<double>& sample_weight = {}) {
    const auto w = detail::checked_weights("bias", y_true, y_pred, sample_weight);
    double sw = 0.0, s = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) sw += w[i], s += w[i] * (y_pred[i] - y_true[i]);
    return s / sw;
}

/// \brief numpy.median of `values` (mean of the two middle values for an even count).
inline double median(std::vector<double> values) {
    detail::require_finite_values("median", values);
    return detail::median_inplace(values);
}

/// \brief Robust scatter 1.4826 median(|r - median r|) of residuals `r` (the standard deviation for
/// Gaussian residuals, insensitive to outliers).
inline double robust_scatter(std::vector<double> residuals) {
    detail::require_finite_values("robust_scatter", residuals);
    return detail::robust_scatter_inplace(residuals);
}

/// \brief Robust scatter of the residuals y_pred - y_true.
inline double robust_scatter(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
    detail::checked_weights("robust_scatter", y_true, y_pred, {});
    std::vector<double> r(y_true.size());
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = y_pred[i] - y_true[i];
    return detail::robust_scatter_inplace(r);
}

/// \brief All of the above for one set of predictions.
struct regression_metrics {
    double r2, rmse, mae, bias, robust_scatter;
};

/// \brief R^2, RMSE, MAE and bias (weighted when `sample_weight` is given) and the unweighted robust scatter.
inline regression_metrics evaluate_regression(const std::vector<double>& y_true, const std::vector<double>& y_pred,
                                              const std::vector<double>& sample_weight = {}) {
    return {r2_score(y_true, y_pred, sample_weight), rmse(y_true, y_pred, sample_weight),
            mae(y_true, y_pred, sample_weight), bias(y_true, y_pred, sample_weight), robust_scatter(y_true, y_pred)};
}

}  // namespace ferrum
