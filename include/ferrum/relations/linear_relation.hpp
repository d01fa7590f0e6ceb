// Bayesian linear relation y = b0 + sum_j b_j x_j (e.g. [Fe/H] on P, phi31, A2) with errors in y and in the
// features and an intrinsic scatter sigma_int. Each star's likelihood is the errors-in-variables
// approximation N(y_i | b0 + x_i^T b, sigma_y,i^2 + sum_j b_j^2 sigma_x,ij^2 + sigma_int^2) (Kelly 2007,
// ApJ 665, 1489, eq. 9 with independent feature errors; exact for y given the *observed* x when the
// errors are small against the spread of x). Fitted by Newton's method on the exact Hessian (maximum
// likelihood + Laplace covariance) or by the ensemble sampler (flat priors, sigma_int >= 0).
#pragma once

#include <Eigen/Cholesky>  // LLT, LDLT
#include <Eigen/Core>
#include <Eigen/QR>  // ColPivHouseholderQR

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/relations/detail/random.hpp"
#include "ferrum/relations/ensemble_sampler.hpp"
#include "ferrum/relations/feature_table.hpp"
#include "ferrum/stats/detail/special_functions.hpp"
#include "ferrum/stats/metrics.hpp"

namespace ferrum {

/// \brief How fit_linear_relation() computes the posterior.
enum class fit_method {
    laplace,  ///< maximum likelihood, covariance from the inverse Hessian (fast)
    mcmc,     ///< the affine-invariant ensemble sampler started at the maximum likelihood
};

inline const char* to_string(fit_method m) noexcept { return m == fit_method::laplace ? "laplace" : "mcmc"; }

/// \brief Options of fit_linear_relation().
struct linear_relation_options {
    fit_method method = fit_method::laplace;
    bool intrinsic_scatter = true;                           ///< fit sigma_int (else it is fixed at 0)
    std::vector<double> levels{0.68, 0.95};                  ///< credible levels of the reported intervals
    ensemble_options sampler{};                              ///< walkers, burn-in and kept steps of the MCMC path
    std::uint64_t seed = 20250101;                           ///< seeds the MCMC walkers
    int max_iterations = 200;                                ///< Newton iterations of the maximum-likelihood path
    phase_convention convention = phase_convention::cosine;  ///< convention of the training phases
    std::string target = "feh";                              ///< name of the target, recorded in model files
};

/// \brief An interval [lower, upper] holding `level` of the posterior (equal-tailed for MCMC).
struct credible_interval {
    double level = 0.0, lower = 0.0, upper = 0.0;
    bool contains(double v) const noexcept { return lower <= v && v <= upper; }
};

/// \brief Convergence of an MCMC fit, per parameter (coefficients, then sigma_int).
struct mcmc_diagnostics {
    std::size_t walkers = 0, burn_in = 0, steps = 0;
    double acceptance_fraction = 0.0;
    std::vector<double> rhat, autocorr_time, ess;
    double max_rhat() const { return *std::max_element(rhat.begin(), rhat.end()); }
    double min_ess() const { return *std::min_element(ess.begin(), ess.end()); }
};

/// \brief Predicted values with their 1-sigma uncertainties.
struct relation_prediction {
    std::vector<double> value, sigma;
};

/// \brief A fitted linear relation: coefficients (intercept first), their covariance, sigma_int.
struct linear_relation {
    std::vector<std::string> features;  ///< the x_j, in coefficient order
    std::string target = "feh";
    phase_convention convention = phase_convention::cosine;  ///< convention of phi21/phi31 it expects
    std::vector<double> coefficients;                        ///< b0, b_1..b_p (posterior mean for MCMC)
    Eigen::MatrixXd covariance;                              ///< (p+1)^2 covariance of the coefficients
    double sigma_int = 0.0;                                  ///< intrinsic scatter (posterior mean for MCMC)
    double sigma_int_sd = 0.0;                               ///< its standard deviation
    /// intervals[k][l]: parameter k (coefficients, then sigma_int) at level options.levels[l].
    std::vector<std::vector<credible_interval>> intervals;
    fit_method method = fit_method::laplace;
    double log_likelihood = 0.0;  ///< maximum of the log-likelihood (including the 2 pi terms)
    std::size_t n_train = 0;
    int iterations = 0;  ///< Newton iterations used
    std::optional<mcmc_diagnostics> mcmc;
    std::vector<double> samples;  ///< MCMC only: flat draws, [draw][parameter] (not saved in model files)

    std::size_t parameters() const noexcept { return coefficients.size() + 1; }
    /// "intercept", the feature names, "sigma_int".
    std::vector<std::string> parameter_names() const {
        std::vector<std::string> n{"intercept"};
        n.insert(n.end(), features.begin(), features.end());
        n.emplace_back("sigma_int");
        return n;
    }
    /// Posterior standard deviation of parameter k (coefficients, then sigma_int).
    double sd(std::size_t k) const {
        return k < coefficients.size() ? std::sqrt(covariance(Eigen::Index(k), Eigen::Index(k))) : sigma_int_sd;
    }

    /// Predictions for the rows of `X`, whose phases are in `input_convention` (converted to the model's).
    /// sigma^2 = g^T C g (coefficients) + sum_j b_j^2 sigma_x,j^2 (feature errors) + sigma_int^2.
    /// (A template only for compile cost: its matrix-vector product is compiled only where it is called.)
    template <class Dummy = void>
    relation_prediction predict(const feature_table& X, phase_convention input_convention) const {
        const feature_table T = convert_phases(X.subset_columns(features), input_convention, convention);
        T.validate("linear_relation::predict");
        const std::size_t n = T.rows(), p = features.size();
        relation_prediction out{std::vector<double>(n), std::vector<double>(n)};
        std::conditional_t<std::is_void_v<Dummy>, Eigen::VectorXd, Eigen::VectorXd> g(Eigen::Index(p + 1));
        for (std::size_t i = 0; i < n; ++i) {
            double v = coefficients[0], ferr = 0.0;
            g[0] = 1.0;
            for (std::size_t j = 0; j < p; ++j) {
                v += coefficients[j + 1] * T(i, j);
                g[Eigen::Index(j + 1)] = T(i, j);
                ferr += coefficients[j + 1] * coefficients[j + 1] * T.error(i, j) * T.error(i, j);
            }
            out.value[i] = v;
            out.sigma[i] = std::sqrt(g.dot(covariance * g) + ferr + sigma_int * sigma_int);
        }
        return out;
    }
    /// Predictions for rows whose phases are already in the model's convention.
    template <class Dummy = void>
    relation_prediction predict(const feature_table& X) const {
        return predict<Dummy>(X, convention);
    }

    /// A table a person can read: each parameter's estimate, sd, intervals and (MCMC) R-hat and ESS.
    std::string summary() const {
        std::string s = "linear relation " + target + " = b0 + sum b_j x_j (" + std::to_string(n_train) + " stars, " +
                        to_string(method) + ", phases: " + to_string(convention) + ")\n";
        char buf[512];
        std::snprintf(buf, sizeof buf, "%-12s %12s %10s", "parameter", "estimate", "sd");
        s += buf;
        if (!intervals.empty())
            for (const auto& c : intervals.front())
                std::snprintf(buf, sizeof buf, "   %4.0f%% interval      ", 100 * c.level), s += buf;
        if (mcmc) s += "   R-hat     ESS";
        s += "\n";
        const auto names = parameter_names();
        for (std::size_t k = 0; k < names.size(); ++k) {
            const double est = k < coefficients.size() ? coefficients[k] : sigma_int;
            std::snprintf(buf, sizeof buf, "%-12s %12.5f %10.5f", names[k].c_str(), est, sd(k));
            s += buf;
            if (k < intervals.size())
                for (const auto& c : intervals[k])
                    std::snprintf(buf, sizeof buf, "   [%8.4f, %8.4f]", c.lower, c.upper), s += buf;
            if (mcmc && k < mcmc->rhat.size())
                std::snprintf(buf, sizeof buf, "   %5.3f %7.0f", mcmc->rhat[k], mcmc->ess[k]), s += buf;
            s += "\n";
        }
        std::snprintf(buf, sizeof buf, "log-likelihood at the maximum: %.6g", log_likelihood);
        s += buf;
        if (mcmc) {
            std::snprintf(buf, sizeof buf, "; %zu walkers x %zu steps after %zu burn-in, acceptance %.2f",
                          mcmc->walkers, mcmc->steps, mcmc->burn_in, mcmc->acceptance_fraction);
            s += buf;
        }
        return s + "\n";
    }

    /// R^2, RMSE, MAE, bias and robust scatter of the predictions for X against `y`.
    template <class Dummy = void>
    regression_metrics evaluate(const feature_table& X, const std::vector<double>& y) const {
        return evaluate_regression(y, predict<Dummy>(X).value);
    }
};

namespace detail {

/// The negative log-likelihood of the relation and its exact derivatives in theta = (b0..bp[, s]), where
/// sigma_int = |s| (the likelihood is even in s, so s = 0 is a regular point, not a boundary).
/// A class template only for compile cost, with Eigen's types dependent on `Dummy`, so that its expressions
/// are compiled only where a member is used; the code names it `relation_likelihood`.
template <class Dummy = void>
class basic_relation_likelihood {
public:
    template <class E>
    using dependent = std::conditional_t<std::is_void_v<Dummy>, E, E>;
    using matrix = dependent<Eigen::MatrixXd>;
    using vector = dependent<Eigen::VectorXd>;
    using array = dependent<Eigen::ArrayXd>;

    basic_relation_likelihood(const feature_table& X, const std::vector<double>& y, const std::vector<double>& y_err,
                        bool scatter)
        : n_(Eigen::Index(X.rows())), p_(Eigen::Index(X.cols())), scatter_(scatter) {
        A_.resize(n_, p_ + 1);
        E2_.setZero(n_, p_ + 1);
        y_.resize(n_);
        vy_.setZero(n_);
        for (Eigen::Index i = 0; i < n_; ++i) {
            A_(i, 0) = 1.0;
            y_[i] = y[std::size_t(i)];
            if (!y_err.empty()) vy_[i] = y_err[std::size_t(i)] * y_err[std::size_t(i)];
            for (Eigen::Index j = 0; j < p_; ++j) {
                A_(i, j + 1) = X(std::size_t(i), std::size_t(j));
                const double e = X.error(std::size_t(i), std::size_t(j));
                E2_(i, j + 1) = e * e;
            }
        }
    }

    Eigen::Index dim() const noexcept { return p_ + 1 + (scatter_ ? 1 : 0); }
    const matrix& design() const noexcept { return A_; }
    const vector& target() const noexcept { return y_; }
    const vector& target_variance() const noexcept { return vy_; }
    const matrix& feature_variance() const noexcept { return E2_; }

    /// -log L (with the 2 pi terms); +inf where a variance is 0. This is the sampler's inner loop: the
    /// residuals and variances come from two matrix-vector products and the logarithms are vectorised.
    double value(const vector& theta) const {
        const Eigen::Index pb = p_ + 1;
        const double s2 = scatter_ ? theta[pb] * theta[pb] : 0.0;
        if (n_ < 512) {  // a few hundred stars: one fused pass beats the temporaries of the vector form
            double sum_log = 0.0, chi2 = 0.0;
            for (Eigen::Index i = 0; i < n_; ++i) {
                double r = y_[i], v = vy_[i] + s2;
                for (Eigen::Index j = 0; j < pb; ++j) r -= A_(i, j) * theta[j], v += E2_(i, j) * theta[j] * theta[j];
                if (!(v > 0)) return std::numeric_limits<double>::infinity();
                sum_log += std::log(v);
                chi2 += r * r / v;
            }
            return 0.5 * (double(n_) * std::log(6.283185307179586) + sum_log + chi2);
        }
        const array r = y_ - A_ * theta.head(pb);
        const array v = (vy_ + E2_ * theta.head(pb).cwiseAbs2()).array() + s2;
        if (!(v.minCoeff() > 0)) return std::numeric_limits<double>::infinity();
        return 0.5 * (double(n_) * std::log(6.283185307179586) + v.log().sum() + (r.square() / v).sum());
    }

    /// Value, gradient and Hessian. With f_i = (log v + r^2/v)/2, r = y - a^T b, v = vy + sum b_j^2 e_j^2 + s^2,
    /// and the per-row derivatives r' (rows of D) and v' (rows of V):
    /// g = D^T F_r + V^T F_v,  H = D^T F_rr D + D^T F_rv V + V^T F_rv D + V^T F_vv V + diag(F_v v'') (r'' = 0).
    double derivatives(const vector& theta, vector& g, matrix& H) const {
        const Eigen::Index q = dim(), pb = p_ + 1;
        const vector b = theta.head(pb);
        const double s = scatter_ ? theta[pb] : 0.0;
        array inv, rv;
        double f = 0.0;
        {  // r and v are freed before the n x q matrices D and V are made
            const array r = y_ - A_ * b;
            const array v = (vy_ + E2_ * b.cwiseAbs2()).array() + s * s;
            if (!(v.minCoeff() > 0)) return std::numeric_limits<double>::infinity();
            f = 0.5 * (double(n_) * std::log(6.283185307179586) + v.log().sum() + (r.square() / v).sum());
            inv = v.inverse();
            rv = r * inv;
        }
        const auto Fr = rv.matrix(), Frr = inv.matrix();  // views of rv and inv, not copies
        const vector Fv = (0.5 * (inv - rv.square())).matrix(), Frv = (-rv * inv).matrix();
        const vector Fvv = (0.5 * (-inv.square() + 2.0 * rv.square() * inv)).matrix();
        matrix D = matrix::Zero(n_, q), V = matrix::Zero(n_, q);
        D.leftCols(pb) = -A_;
        V.leftCols(pb) = 2.0 * E2_ * b.asDiagonal();
        if (scatter_) V.col(pb).setConstant(2.0 * s);
        g = D.transpose() * Fr + V.transpose() * Fv;
        const matrix DV = D.transpose() * Frv.asDiagonal() * V;
        H = D.transpose() * Frr.asDiagonal() * D + DV + DV.transpose() + V.transpose() * Fvv.asDiagonal() * V;
        const double sum_Fv = Fv.sum();
        for (Eigen::Index j = 1; j < pb; ++j) H(j, j) += 2.0 * E2_.col(j).dot(Fv);
        if (scatter_) H(pb, pb) += 2.0 * sum_Fv;
        return f;
    }

private:
    Eigen::Index n_, p_;
    bool scatter_;
    matrix A_, E2_;
    vector y_, vy_;
};
using relation_likelihood = basic_relation_likelihood<>;

struct newton_result {
    Eigen::VectorXd theta;
    Eigen::MatrixXd hessian;
    double value = 0.0;
    int iterations = 0;
};

/// Minimises the negative log-likelihood by Newton's method with Levenberg damping when the Hessian is
/// not positive definite and a backtracking (Armijo) line search; stops when the Newton decrement
/// g^T H^-1 g / 2 (the expected gain in log-likelihood) falls below 1e-12.
template <class Dummy>
newton_result minimise_relation(const basic_relation_likelihood<Dummy>& L, Eigen::VectorXd theta, int max_iterations) {
    using vector = typename basic_relation_likelihood<Dummy>::vector;
    using matrix = typename basic_relation_likelihood<Dummy>::matrix;
    const Eigen::Index q = L.dim();
    vector g(q);
    matrix H(q, q);
    newton_result out;
    double f = L.derivatives(theta, g, H);
    if (!std::isfinite(f)) throw value_error("fit_linear_relation: the starting point has zero variance");
    for (int it = 1; it <= max_iterations; ++it) {
        out.iterations = it;
        double lambda = 0.0;
        bool moved = false;
        for (int tries = 0; tries < 60 && !moved; ++tries) {
            matrix M = H;
            if (lambda > 0) M.diagonal() += lambda * H.diagonal().cwiseAbs().cwiseMax(1e-12);
            Eigen::LLT<matrix> llt(M);
            if (llt.info() != Eigen::Success) {
                lambda = lambda == 0 ? 1e-6 : lambda * 10;
                continue;
            }
            const vector step = -llt.solve(g);
            const double decrement = -0.5 * g.dot(step);
            if (lambda == 0 && decrement < 1e-12) {
                out.theta = theta;
                out.value = f;
                out.hessian = H;
                return out;
            }
            for (double t = 1.0; t > 1e-10; t *= 0.5) {
                const vector trial = theta + t * step;
                const double ft = L.value(trial);
                if (std::isfinite(ft) && ft <= f + 1e-4 * t * g.dot(step)) {
                    theta = trial;
                    moved = true;
                    break;
                }
            }
            if (!moved) {
                if (lambda == 0 && std::abs(g.dot(step)) < 1e-9 * (1.0 + std::abs(f))) {
                    out.theta = theta;  // converged to rounding: no representable improvement left
                    out.value = f;
                    out.hessian = H;
                    return out;
                }
                lambda = lambda == 0 ? 1e-6 : lambda * 10;
            }
        }
        if (!moved) break;
        f = L.derivatives(theta, g, H);
    }
    throw value_error("fit_linear_relation: Newton's method did not converge in " + std::to_string(max_iterations) +
                      " iterations (collinear features, or a relation with no proper maximum)");
}

/// Equal-tailed interval of sorted draws at `level` (numpy's linear percentile).
inline credible_interval percentile_interval(const std::vector<double>& sorted, double level) {
    auto at = [&](double q) {
        const double pos = q * double(sorted.size() - 1);
        const std::size_t lo = std::size_t(std::floor(pos));
        const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
        return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
    };
    return {level, at(0.5 - 0.5 * level), at(0.5 + 0.5 * level)};
}

}  // namespace detail

/// \brief Fits y = b0 + sum_j b_j x_j with target errors `y_err` (empty = none), the feature errors in `X`
/// and an intrinsic scatter; see the header comment for the likelihood. value_error for too few rows,
/// non-finite input, collinear features, or data fitted exactly with no errors to set the scale.
template <class Dummy = void>  // a template: compiled only where it is used
linear_relation fit_linear_relation(const feature_table& X, const std::vector<double>& y,
                                    const std::vector<double>& y_err = {},
                                    const linear_relation_options& options = {}) {
    using likelihood = detail::basic_relation_likelihood<Dummy>;  // Eigen's types dependent on Dummy
    using vector = typename likelihood::vector;
    using matrix = typename likelihood::matrix;
    const std::string who = "fit_linear_relation";
    X.validate(who);
    detail::check_target(who, X.rows(), y, y_err);
    const std::size_t n = X.rows(), p = X.cols();
    const std::size_t q = p + 1 + (options.intrinsic_scatter ? 1 : 0);
    if (n < q + 1)
        throw value_error(who + ": " + std::to_string(n) + " rows for " + std::to_string(q) +
                          " parameters (needs at least one more row than parameters)");
    for (double l : options.levels)
        if (!(l > 0 && l < 1)) throw value_error(who + ": credible level " + std::to_string(l) + " is not in (0, 1)");
    bool any_error = X.has_errors();
    for (double e : y_err) any_error = any_error || e > 0;
    if (!options.intrinsic_scatter && !any_error)
        throw value_error(who + ": no target or feature errors and no intrinsic scatter: the likelihood has no scale");

    const likelihood L(X, y, y_err, options.intrinsic_scatter);
    // Start: least squares weighted by the target errors alone, and sigma_int from the excess variance.
    // (Its n-row work arrays live in this block only, so they are freed before Newton's iterations.)
    vector theta(static_cast<Eigen::Index>(q));
    double var_r = 0.0;
    {
        const vector sw = (L.target_variance().array() > 0)
                              .select(L.target_variance().array().inverse(),
                                      1.0 / std::max(1e-300, L.target_variance().maxCoeff()))
                              .sqrt()
                              .matrix();
        Eigen::ColPivHouseholderQR<matrix> qr(sw.asDiagonal() * L.design());  // no copy of the weighted design
        if (qr.rank() < Eigen::Index(p + 1))
            throw value_error(who + ": the features (with the intercept) are collinear; drop one of them");
        theta.head(Eigen::Index(p + 1)) = qr.solve(sw.asDiagonal() * L.target());
        const vector r = L.target() - L.design() * theta.head(Eigen::Index(p + 1));
        var_r = r.squaredNorm() / double(n);
    }
    const double ymean = L.target().mean();
    const double var_y = (L.target().array() - ymean).square().mean();
    if (options.intrinsic_scatter) {
        const double known = L.target_variance().mean() +
                             (L.feature_variance() * theta.head(Eigen::Index(p + 1)).cwiseAbs2()).mean();
        const double excess = var_r - known;
        // Never start at s = 0: the likelihood is even in s, so s = 0 is always stationary.
        theta[Eigen::Index(p + 1)] = std::max(
            {std::sqrt(std::max(excess, 0.0)), 0.1 * std::sqrt(var_r + known), 1e-3 * std::sqrt(var_y), 1e-150});
    }

    if (!any_error && var_r <= 1e-24 * std::max(var_y, 1e-300))
        throw value_error(who + ": the relation fits the data exactly and no errors were given; pass target errors");
    detail::newton_result nr = detail::minimise_relation(L, theta, options.max_iterations);
    linear_relation rel;
    rel.features = X.names;
    rel.target = options.target;
    rel.convention = options.convention;
    rel.n_train = n;
    rel.iterations = nr.iterations;
    rel.method = options.method;
    const Eigen::Index pb = Eigen::Index(p + 1);
    if (options.intrinsic_scatter) {
        double& s = nr.theta[pb];
        if (!any_error && std::abs(s) < 1e-9 * std::sqrt(std::max(var_y, 1e-300)))
            throw value_error(who +
                              ": the relation fits the data exactly and no errors were given; pass target errors");
        // The likelihood is even in s, so when its maximum is at sigma_int = 0 Newton stops a rounding-level
        // distance from it; there, refit the coefficients with sigma_int fixed at 0 (an exact boundary).
        vector at0 = nr.theta;
        at0[pb] = 0.0;
        if (any_error && L.value(at0) <= nr.value + 1e-10 * (1.0 + std::abs(nr.value))) {
            const likelihood L0(X, y, y_err, false);
            const auto nr0 = detail::minimise_relation(L0, nr.theta.head(pb), options.max_iterations);
            nr.theta.head(pb) = nr0.theta;
            s = 0.0;
        }
        s = std::abs(s);  // the covariance below is recomputed at |s|, so its sign needs no other care
        vector g;
        nr.value = L.derivatives(nr.theta, g, nr.hessian);
    }
    rel.log_likelihood = -nr.value;
    Eigen::LDLT<matrix> ldlt(nr.hessian);
    if (ldlt.info() != Eigen::Success || !ldlt.isPositive() || ldlt.vectorD().minCoeff() <= 0)
        throw value_error(who + ": the Hessian at the maximum is not positive definite (collinear features?)");
    const matrix C = ldlt.solve(matrix::Identity(Eigen::Index(q), Eigen::Index(q)));

    if (options.method == fit_method::laplace) {
        rel.coefficients.assign(nr.theta.data(), nr.theta.data() + pb);
        rel.covariance = C.topLeftCorner(pb, pb);
        rel.sigma_int = options.intrinsic_scatter ? nr.theta[pb] : 0.0;
        rel.sigma_int_sd = options.intrinsic_scatter ? std::sqrt(C(pb, pb)) : 0.0;
        for (std::size_t k = 0; k <= p + 1; ++k) {
            std::vector<credible_interval> iv;
            const bool is_s = k == p + 1;
            const double m = is_s ? rel.sigma_int : rel.coefficients[k], sd = rel.sd(k);
            for (double l : options.levels) {
                const double z = detail::normal_quantile(0.5 + 0.5 * l);
                iv.push_back({l, is_s ? std::max(0.0, m - z * sd) : m - z * sd, m + z * sd});
            }
            rel.intervals.push_back(std::move(iv));
        }
        return rel;
    }

    // MCMC: flat priors on the coefficients and on sigma_int >= 0, walkers drawn from the Laplace
    // approximation (half its width) so that the burn-in starts near the typical set.
    std::mt19937_64 rng(options.seed);
    ensemble_options so = options.sampler;
    so.walkers = std::max(so.walkers, 2 * q);
    so.walkers += so.walkers % 2;
    const matrix Lc = Eigen::LLT<matrix>(C).matrixL();
    std::vector<vector> init;
    auto log_post = [&](const vector& t) {
        if (options.intrinsic_scatter && t[pb] < 0) return -std::numeric_limits<double>::infinity();
        return -L.value(t);
    };
    while (init.size() < so.walkers) {
        vector z(static_cast<Eigen::Index>(q));
        for (Eigen::Index k = 0; k < Eigen::Index(q); ++k) z[k] = detail::standard_normal(rng);
        vector t = nr.theta + 0.5 * Lc * z;
        if (options.intrinsic_scatter) t[pb] = std::abs(t[pb]);
        if (std::isfinite(log_post(t))) init.push_back(t);
    }
    const ensemble_chain chain = run_ensemble_sampler(log_post, init, so, rng);

    const std::size_t N = chain.size();
    matrix draws(static_cast<Eigen::Index>(N), static_cast<Eigen::Index>(q));
    for (std::size_t t = 0; t < chain.steps; ++t)
        for (std::size_t k = 0; k < chain.walkers; ++k)
            for (std::size_t d = 0; d < q; ++d)
                draws(Eigen::Index(t * chain.walkers + k), Eigen::Index(d)) = chain(t, k, d);
    const vector mean = draws.colwise().mean();
    const matrix centred = draws.rowwise() - mean.transpose();
    const matrix cov = centred.transpose() * centred / double(N - 1);
    rel.coefficients.assign(mean.data(), mean.data() + pb);
    rel.covariance = cov.topLeftCorner(pb, pb);
    rel.sigma_int = options.intrinsic_scatter ? mean[pb] : 0.0;
    rel.sigma_int_sd = options.intrinsic_scatter ? std::sqrt(cov(pb, pb)) : 0.0;
    mcmc_diagnostics diag;
    diag.walkers = chain.walkers;
    diag.burn_in = so.burn_in;
    diag.steps = chain.steps;
    diag.acceptance_fraction = chain.acceptance_fraction;
    for (std::size_t k = 0; k <= p + 1; ++k) {
        std::vector<credible_interval> iv;
        if (k < q) {
            std::vector<double> col(draws.col(Eigen::Index(k)).data(), draws.col(Eigen::Index(k)).data() + N);
            std::sort(col.begin(), col.end());
            for (double l : options.levels) iv.push_back(detail::percentile_interval(col, l));
            diag.rhat.push_back(split_rhat(chain, k));
            diag.autocorr_time.push_back(integrated_autocorr_time(chain, k));
            diag.ess.push_back(double(N) / std::max(1.0, diag.autocorr_time.back()));
        } else {
            for (double l : options.levels) iv.push_back({l, 0.0, 0.0});  // sigma_int fixed at 0
        }
        rel.intervals.push_back(std::move(iv));
    }
    rel.mcmc = diag;
    rel.samples.resize(N * q);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t d = 0; d < q; ++d) rel.samples[i * q + d] = draws(Eigen::Index(i), Eigen::Index(d));
    return rel;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE linear_relation fit_linear_relation<void>(const feature_table& X, const std::vector<double>& y,
                                                                   const std::vector<double>& y_err,
                                                                   const linear_relation_options& options);
#endif

}  // namespace ferrum
