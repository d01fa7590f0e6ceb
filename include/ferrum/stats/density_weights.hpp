// Sample weights that undo an imbalanced target distribution by its density rho(y): the inverse-density
// weights of Monti et al. (2025, eq. 3), DenseWeight (Steininger et al. 2021, eqs. 2-4) and the clipped
// 1/(rho sigma^2) variant of the papers' code. rho is a Gaussian KDE of the targets at the samples.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/stats/gaussian_kde.hpp"

namespace ferrum {

/// \brief How rho(y_i) is estimated: scipy.stats.gaussian_kde(y, bw) at the samples, exactly
/// (fast_tolerance = 0, O(n^2)) or through gaussian_kde::evaluate_fast with that tolerance (O(n); use it for
/// n beyond ~10^5).
struct density_options {
    bandwidth bw = bandwidth_rule::scott;
    double fast_tolerance = 0.0;
};

namespace detail {

inline void require_usable_density(const std::vector<double>& rho, const char* who) {
    if (rho.empty()) throw value_error(std::string(who) + ": no samples");
    for (std::size_t i = 0; i < rho.size(); ++i)
        if (!(std::isfinite(rho[i]) && rho[i] > 0.0))
            throw value_error(std::string(who) + ": density at sample " + std::to_string(i) +
                              " is not finite and > 0 (" + std::to_string(rho[i]) + ")");
}

inline std::vector<double> min_max_scaled(const std::vector<double>& w, double lo, double hi) {
    const auto [mn, mx] = std::minmax_element(w.begin(), w.end());
    const double a = *mn, span = *mx - *mn;
    std::vector<double> out(w.size(), hi);  // all weights equal: every sample gets the top weight
    if (span > 0.0)
        for (std::size_t i = 0; i < w.size(); ++i) out[i] = lo + (hi - lo) * (w[i] - a) / span;
    return out;
}

}  // namespace detail

/// \brief rho(y_i): the Gaussian KDE of `y` evaluated at its own samples.
template <class Dummy = void>  // a template: the KDE is compiled only where it is used
std::vector<double> density_at_samples(const std::vector<double>& y, const density_options& opt = {}) {
    const gaussian_kde kde(y, opt.bw);
    return opt.fast_tolerance > 0.0 ? kde.evaluate_fast(y, opt.fast_tolerance) : kde(y);
}

/// \brief Inverse-density weights from given densities: w_i = (1/rho_i) N / sum_j (1/rho_j), so sum w = N.
inline std::vector<double> density_weights_from_density(const std::vector<double>& rho) {
    detail::require_usable_density(rho, "density_weights");
    double s = 0.0;
    for (double r : rho) s += 1.0 / r;
    std::vector<double> w(rho.size());
    for (std::size_t i = 0; i < rho.size(); ++i) w[i] = (1.0 / rho[i]) * double(rho.size()) / s;
    return w;
}

/// \brief The paper's weights (Monti et al. 2025, eq. 3): w_i proportional to 1/rho(y_i), sum w = N.
template <class Dummy = void>  // a template: the KDE is compiled only where it is used
std::vector<double> density_weights(const std::vector<double>& y, const density_options& opt = {}) {
    return density_weights_from_density(density_at_samples(y, opt));
}

/// \brief DenseWeight from given densities (Steininger et al. 2021): rho min-max normalised to [0, 1],
/// w = max(1 - alpha rho_n, epsilon), divided by its mean (so mean w = 1). alpha = 0 gives uniform weights.
inline std::vector<double> denseweight_from_density(const std::vector<double>& rho, double alpha,
                                                    double epsilon = 1e-6) {
    detail::require_usable_density(rho, "denseweight");
    if (!(std::isfinite(alpha) && alpha >= 0.0))
        throw value_error("denseweight: alpha must be finite and >= 0, got " + std::to_string(alpha));
    if (!(std::isfinite(epsilon) && epsilon > 0.0))
        throw value_error("denseweight: epsilon must be finite and > 0, got " + std::to_string(epsilon));
    // Equal densities have no spread to normalise; DenseWeight then means uniform weights.
    const auto [mn, mx] = std::minmax_element(rho.begin(), rho.end());
    const double span = *mx - *mn;
    std::vector<double> w(rho.size());
    double mean = 0.0;
    for (std::size_t i = 0; i < rho.size(); ++i) {
        const double rn = span > 0.0 ? (rho[i] - *mn) / span : 0.0;
        w[i] = std::max(1.0 - alpha * rn, epsilon);
        mean += w[i];
    }
    mean /= double(w.size());
    for (double& v : w) v /= mean;
    return w;
}

/// \brief DenseWeight (Steininger et al. 2021) over the targets `y`, with rho from the Gaussian KDE.
template <class Dummy = void>  // a template: the KDE is compiled only where it is used
std::vector<double> denseweight_weights(const std::vector<double>& y, double alpha,
                                               const density_options& opt = {}, double epsilon = 1e-6) {
    return denseweight_from_density(density_at_samples(y, opt), alpha, epsilon);
}

/// \brief The variant of the papers' training code from given densities: w_i = 1 / (max(rho_i, rho_min)
/// sigma_i^2), min-max scaled to [floor, 1]. Clipping rho at rho_min caps the weight of the sparse tails;
/// 1/sigma^2 down-weights noisy labels. If all raw weights are equal every sample gets 1.
inline std::vector<double> clipped_density_weights_from_density(const std::vector<double>& rho,
                                                                const std::vector<double>& sigma, double rho_min,
                                                                double floor = 0.01) {
    detail::require_usable_density(rho, "clipped_density_weights");
    if (sigma.size() != rho.size())
        throw value_error("clipped_density_weights: " + std::to_string(sigma.size()) + " label errors for " +
                          std::to_string(rho.size()) + " samples");
    if (!(std::isfinite(rho_min) && rho_min >= 0.0))
        throw value_error("clipped_density_weights: rho_min must be finite and >= 0, got " + std::to_string(rho_min));
    if (!(std::isfinite(floor) && floor >= 0.0 && floor < 1.0))
        throw value_error("clipped_density_weights: floor must be in [0, 1), got " + std::to_string(floor));
    std::vector<double> w(rho.size());
    for (std::size_t i = 0; i < rho.size(); ++i) {
        if (!(std::isfinite(sigma[i]) && sigma[i] > 0.0))
            throw value_error("clipped_density_weights: label error at sample " + std::to_string(i) +
                              " must be finite and > 0, got " + std::to_string(sigma[i]));
        w[i] = 1.0 / (std::max(rho[i], rho_min) * sigma[i] * sigma[i]);
    }
    return detail::min_max_scaled(w, floor, 1.0);
}

/// \brief The papers' code variant over the targets `y` with label errors `sigma` (see above).
template <class Dummy = void>  // a template: the KDE is compiled only where it is used
std::vector<double> clipped_density_weights(const std::vector<double>& y, const std::vector<double>& sigma,
                                                   double rho_min, const density_options& opt = {},
                                                   double floor = 0.01) {
    if (sigma.size() != y.size())
        throw value_error("clipped_density_weights: " + std::to_string(sigma.size()) + " label errors for " +
                          std::to_string(y.size()) + " samples");
    return clipped_density_weights_from_density(density_at_samples(y, opt), sigma, rho_min, floor);
}

}  // namespace ferrum
