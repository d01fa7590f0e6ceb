// The affine-invariant ensemble MCMC sampler of Goodman & Weare (2010, CAMCoS 5, 65), the "stretch move"
// of emcee (Foreman-Mackey et al. 2013, eqs. 7-11, with the two-halves parallel update), and its
// convergence diagnostics: split R-hat (Gelman et al. 2013, BDA3 sec. 11.4) and the integrated
// autocorrelation time with Sokal's automatic window (as emcee.autocorr.integrated_time, c = 5).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/relations/detail/random.hpp"

namespace ferrum {

/// \brief Settings of run_ensemble_sampler().
struct ensemble_options {
    std::size_t walkers = 32;    ///< even, >= 2 * dimension
    std::size_t burn_in = 1000;  ///< steps discarded
    std::size_t steps = 2000;    ///< steps kept
    double a = 2.0;              ///< stretch scale: z ~ g(z) proportional to 1/sqrt(z) on [1/a, a]
    bool show_progress = progress_enabled_by_default();
};

/// \brief The kept states of an ensemble run: sample(step, walker) is a point of dimension dim.
struct ensemble_chain {
    std::size_t walkers = 0, steps = 0, dim = 0;
    std::vector<double> samples;  ///< [step][walker][dim]
    double acceptance_fraction = 0.0;

    double operator()(std::size_t step, std::size_t walker, std::size_t d) const noexcept {
        return samples[(step * walkers + walker) * dim + d];
    }
    std::size_t size() const noexcept { return walkers * steps; }
};

/// \brief Samples exp(log_prob(x)) with the stretch move, starting the walkers at `initial` (one point
/// each, all with finite log_prob). `log_prob(const Eigen::VectorXd&)` returns -inf outside the support.
template <class LogProb>
ensemble_chain run_ensemble_sampler(LogProb&& log_prob, const std::vector<Eigen::VectorXd>& initial,
                                    const ensemble_options& options, std::mt19937_64& rng) {
    static_assert(std::is_invocable_r_v<double, LogProb&, const Eigen::VectorXd&>,
                  "run_ensemble_sampler: log_prob must be callable as double(const Eigen::VectorXd&)");
    const std::size_t W = initial.size();
    if (W < 4 || W % 2 != 0)
        throw value_error("run_ensemble_sampler: needs an even number of walkers >= 4, got " + std::to_string(W));
    const std::size_t dim = std::size_t(initial.front().size());
    if (dim == 0) throw value_error("run_ensemble_sampler: points of dimension 0");
    if (W < 2 * dim)
        throw value_error("run_ensemble_sampler: " + std::to_string(W) + " walkers for dimension " +
                          std::to_string(dim) + " (needs at least 2 * dimension)");
    if (!(options.a > 1.0)) throw value_error("run_ensemble_sampler: stretch scale a must be > 1");
    if (options.steps < 4) throw value_error("run_ensemble_sampler: needs at least 4 kept steps");

    std::vector<Eigen::VectorXd> x = initial;
    std::vector<double> lp(W);
    for (std::size_t k = 0; k < W; ++k) {
        if (std::size_t(x[k].size()) != dim) throw value_error("run_ensemble_sampler: walkers of different dimension");
        lp[k] = log_prob(x[k]);
        if (!std::isfinite(lp[k]))
            throw value_error("run_ensemble_sampler: walker " + std::to_string(k) +
                              " starts where log_prob is not finite");
    }

    ensemble_chain chain;
    chain.walkers = W;
    chain.steps = options.steps;
    chain.dim = dim;
    chain.samples.resize(W * options.steps * dim);
    const std::size_t total = options.burn_in + options.steps;
    const std::size_t half = W / 2;
    std::size_t accepted = 0;
    progress bar("mcmc step", total, "steps", options.show_progress);
    Eigen::VectorXd y(dim);
    for (std::size_t t = 0; t < total; ++t) {
        // Each half moves using the other half as its complementary ensemble, which keeps detailed balance
        // (emcee's parallel stretch move).
        for (std::size_t h = 0; h < 2; ++h) {
            const std::size_t first = h * half, other = (1 - h) * half;
            for (std::size_t k = first; k < first + half; ++k) {
                const std::size_t j = other + std::size_t(detail::uniform01(rng) * double(half)) % half;
                const double u = detail::uniform01(rng);
                const double z = std::pow((options.a - 1.0) * u + 1.0, 2) / options.a;
                y = x[j] + z * (x[k] - x[j]);
                const double lpy = log_prob(y);
                const double log_ratio = double(dim - 1) * std::log(z) + lpy - lp[k];
                if (std::isfinite(lpy) && std::log(detail::uniform01(rng)) < log_ratio) {
                    x[k] = y;
                    lp[k] = lpy;
                    if (t >= options.burn_in) ++accepted;
                }
            }
        }
        if (t >= options.burn_in) {
            double* out = chain.samples.data() + (t - options.burn_in) * W * dim;
            for (std::size_t k = 0; k < W; ++k)
                for (std::size_t d = 0; d < dim; ++d) out[k * dim + d] = x[k][Eigen::Index(d)];
        }
        bar.update(t + 1, t < options.burn_in ? "burn-in" : "sampling");
    }
    chain.acceptance_fraction = double(accepted) / double(W * options.steps);
    return chain;
}

/// \brief Split R-hat of coordinate d: every walker's chain cut into halves, Gelman-Rubin potential scale
/// reduction sqrt(var+ / W) over the 2 * walkers half-chains (BDA3 eqs. 11.2-11.4). Near 1 when mixed.
inline double split_rhat(const ensemble_chain& c, std::size_t d) {
    const std::size_t n = c.steps / 2, m = 2 * c.walkers;
    if (n < 2) throw value_error("split_rhat: needs at least 4 steps");
    std::vector<double> mean(m, 0.0), var(m, 0.0);
    for (std::size_t k = 0; k < c.walkers; ++k)
        for (std::size_t h = 0; h < 2; ++h) {
            const std::size_t j = 2 * k + h, s0 = h * (c.steps - n);  // the second half ends at the last step
            double s = 0.0;
            for (std::size_t t = 0; t < n; ++t) s += c(s0 + t, k, d);
            mean[j] = s / double(n);
            double q = 0.0;
            for (std::size_t t = 0; t < n; ++t) q += (c(s0 + t, k, d) - mean[j]) * (c(s0 + t, k, d) - mean[j]);
            var[j] = q / double(n - 1);
        }
    double grand = 0.0, W = 0.0;
    for (std::size_t j = 0; j < m; ++j) grand += mean[j], W += var[j];
    grand /= double(m);
    W /= double(m);
    double B = 0.0;
    for (std::size_t j = 0; j < m; ++j) B += (mean[j] - grand) * (mean[j] - grand);
    B *= double(n) / double(m - 1);
    if (W == 0.0) return B == 0.0 ? 1.0 : std::numeric_limits<double>::infinity();
    const double var_plus = double(n - 1) / double(n) * W + B / double(n);
    return std::sqrt(var_plus / W);
}

/// \brief Integrated autocorrelation time of coordinate d (emcee 3's estimator): the normalised
/// autocorrelation function averaged over walkers, tau(M) = 1 + 2 sum_{t=1..M} rho(t), and Sokal's window,
/// the smallest M with M >= c tau(M). Lags are summed directly up to the window (tau << steps).
inline double integrated_autocorr_time(const ensemble_chain& ch, std::size_t d, double c = 5.0) {
    const std::size_t N = ch.steps, W = ch.walkers;
    // Each walker's centred series, contiguous, so that every lag is a plain dot product.
    std::vector<std::vector<double>> x;
    std::vector<double> var0;
    for (std::size_t k = 0; k < W; ++k) {
        std::vector<double> s(N);
        double mean = 0.0;
        for (std::size_t t = 0; t < N; ++t) mean += (s[t] = ch(t, k, d));
        mean /= double(N);
        double q = 0.0;
        for (double& v : s) v -= mean, q += v * v;
        if (q == 0.0) continue;  // a walker that never moved carries no correlation information
        x.push_back(std::move(s));
        var0.push_back(q);
    }
    if (x.empty()) return std::numeric_limits<double>::infinity();
    double tau = 1.0;
    for (std::size_t lag = 1; lag < N; ++lag) {
        double rho = 0.0;
        for (std::size_t k = 0; k < x.size(); ++k) {
            const double* a = x[k].data();
            double s = 0.0;
            for (std::size_t t = 0; t + lag < N; ++t) s += a[t] * a[t + lag];
            rho += s / var0[k];
        }
        tau += 2.0 * rho / double(x.size());
        if (double(lag) >= c * tau) return tau;
    }
    return tau;  // the window never closed: the chain is too short for a reliable estimate
}

/// \brief Effective sample size walkers * steps / tau of coordinate d.
inline double effective_sample_size(const ensemble_chain& c, std::size_t d) {
    return double(c.size()) / std::max(1.0, integrated_autocorr_time(c, d));
}

}  // namespace ferrum
