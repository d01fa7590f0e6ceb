// Gaussian kernel density estimation equal to scipy.stats.gaussian_kde (SciPy 1.10): Scott's (1992) and
// Silverman's (1986) bandwidth factors, sample weights with Kish's effective size, any dimension.
// The 1-D fast path is a fast Gauss transform (Greengard & Strain 1991, eqs. 2.4-2.6) with Cramér's bound.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <xtensor/xtensor.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief The two rules of thumb SciPy offers for the bandwidth factor.
enum class bandwidth_rule {
    scott,     ///< factor = neff^(-1/(d+4))
    silverman  ///< factor = (neff (d+2) / 4)^(-1/(d+4))
};

/// \brief How the kernel bandwidth is chosen: a rule (Scott by default) or a fixed scalar factor, as
/// `bw_method` of scipy.stats.gaussian_kde. The kernel covariance is factor^2 times the data covariance.
class bandwidth {
public:
    constexpr bandwidth() noexcept = default;
    constexpr bandwidth(bandwidth_rule rule) noexcept : rule_(rule) {}  // NOLINT: implicit on purpose
    constexpr bandwidth(double factor) noexcept : factor_(factor), fixed_(true) {}  // NOLINT

    constexpr bool is_fixed() const noexcept { return fixed_; }

    /// The factor for `neff` effective samples in `d` dimensions; value_error for a fixed factor that is
    /// not finite and positive.
    double factor(double neff, std::size_t d) const {
        if (fixed_) {
            if (!(std::isfinite(factor_) && factor_ > 0.0))
                throw value_error("gaussian_kde: a bandwidth factor must be finite and > 0, got " +
                                  std::to_string(factor_));
            return factor_;
        }
        const double dd = static_cast<double>(d);
        if (rule_ == bandwidth_rule::scott) return std::pow(neff, -1.0 / (dd + 4.0));
        return std::pow(neff * (dd + 2.0) / 4.0, -1.0 / (dd + 4.0));
    }

private:
    bandwidth_rule rule_ = bandwidth_rule::scott;
    double factor_ = 0.0;
    bool fixed_ = false;
};

namespace detail {

inline constexpr double pi = 3.141592653589793238462643383279502884;

/// Runs body(begin, end) over [0, count) on up to hardware_concurrency threads; serial when `work`
/// (a rough operation count) is too small to pay for starting threads.
template <class Body>
void parallel_ranges(std::size_t count, double work, Body&& body) {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t threads = work < 2e6 ? 1 : std::min<std::size_t>(hw, count);
    if (threads <= 1) {
        body(std::size_t{0}, count);
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    const std::size_t chunk = (count + threads - 1) / threads;
    for (std::size_t t = 1; t < threads; ++t) {
        const std::size_t b = std::min(count, t * chunk), e = std::min(count, b + chunk);
        pool.emplace_back([&body, b, e] { body(b, e); });
    }
    body(std::size_t{0}, std::min(count, chunk));
    for (auto& th : pool) th.join();
}

inline void require_finite(const double* p, std::size_t n, const char* what) {
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(p[i]))
            throw value_error(std::string("gaussian_kde: ") + what + " has a non-finite value at index " +
                              std::to_string(i));
}

/// Expansion order and cutoff radius (in units of sqrt(2) h) of the 1-D fast Gauss transform with source
/// boxes of half-width r = 1/2, so that both the truncated Hermite series and the ignored far boxes stay
/// below tolerance / 2 (times the total weight).
struct fgt_plan {
    int order;
    double cutoff;
};
inline fgt_plan plan_fgt(double tolerance) noexcept {
    // Cramér: |h_k(u)| <= 1.0865 2^(k/2) sqrt(k!) e^(-u^2/2), so the tail after p terms with |s-c| <= r is
    // at most 1.0865 (sqrt2 r)^p / sqrt(p!) / (1 - sqrt2 r / sqrt(p+1)).
    const double a = std::sqrt(2.0) * 0.5;
    int p = 1;
    double term = a;  // a^p / sqrt(p!)
    while (1.0865 * term / (1.0 - a / std::sqrt(p + 1.0)) > tolerance / 2 && p < 200) {
        ++p;
        term *= a / std::sqrt(static_cast<double>(p));
    }
    return {p, 0.5 + std::sqrt(std::log(2.0 / tolerance))};
}

}  // namespace detail

/// \brief Gaussian kernel density estimate of a d-dimensional sample, equal to
/// `scipy.stats.gaussian_kde(dataset, bw_method, weights)` of SciPy 1.10.
///
/// The kernel covariance is factor^2 times the data covariance, which is numpy.cov(dataset,
/// aweights=weights) with ddof=1: normalised weights w, weighted mean m, and
/// C = sum_i w_i (x_i - m)(x_i - m)^T / (1 - sum_i w_i^2). neff = 1 / sum_i w_i^2 (Kish). Without weights
/// w_i = 1/n, so neff = n and C is the usual sample covariance.
class gaussian_kde {
public:
    /// `dataset` has shape (d, n): one column per sample, as SciPy. `weights` is empty or has n
    /// non-negative entries (normalised internally).
    explicit gaussian_kde(const xt::xtensor<double, 2>& dataset, bandwidth bw = {},
                          const std::vector<double>& weights = {}) {
        d_ = dataset.shape()[0];
        n_ = dataset.shape()[1];
        data_.resize(static_cast<Eigen::Index>(d_), static_cast<Eigen::Index>(n_));
        for (std::size_t k = 0; k < d_; ++k)
            for (std::size_t i = 0; i < n_; ++i) data_(Eigen::Index(k), Eigen::Index(i)) = dataset(k, i);
        init(weights, bw);
    }

    /// One-dimensional convenience: `data` holds the n samples.
    explicit gaussian_kde(const std::vector<double>& data, bandwidth bw = {},
                          const std::vector<double>& weights = {}) {
        d_ = 1;
        n_ = data.size();
        data_ = Eigen::Map<const Eigen::RowVectorXd>(data.data(), Eigen::Index(n_));
        init(weights, bw);
    }

    std::size_t dimension() const noexcept { return d_; }
    std::size_t size() const noexcept { return n_; }
    /// Kish's effective sample size 1 / sum w_i^2 of the normalised weights.
    double neff() const noexcept { return neff_; }
    /// The bandwidth factor (SciPy's `factor`).
    double factor() const noexcept { return factor_; }
    /// Normalised weights (sum 1), 1/n each without weights.
    std::vector<double> weights() const { return {w_.data(), w_.data() + w_.size()}; }

    /// Kernel covariance factor^2 * C, shape (d, d) (SciPy's `covariance`).
    xt::xtensor<double, 2> covariance() const { return to_xtensor(data_cov_ * (factor_ * factor_)); }
    /// Weighted data covariance C (ddof = 1 as above), shape (d, d).
    xt::xtensor<double, 2> data_covariance() const { return to_xtensor(data_cov_); }

    /// Peak height of one kernel, (2 pi)^(-d/2) / sqrt(det covariance): the unit of the fast path's bound.
    double kernel_peak() const noexcept { return norm_; }

    /// Changes the bandwidth rule or factor (SciPy's `set_bandwidth`).
    void set_bandwidth(bandwidth bw) {
        factor_ = bw.factor(neff_, d_);
        const Eigen::MatrixXd chol = data_chol_ * factor_;
        // Whitening by the kernel's Cholesky factor turns every kernel into a unit spherical Gaussian.
        white_ = chol.triangularView<Eigen::Lower>().solve(data_).transpose().array();
        chol_ = chol;
        norm_ = std::pow(2.0 * detail::pi, -0.5 * double(d_)) / chol.diagonal().prod();
    }

    /// Density at `points` of shape (d, m); returns m values. Exact O(n m d) sum, threaded.
    std::vector<double> operator()(const xt::xtensor<double, 2>& points) const {
        if (points.shape()[0] != d_)
            throw value_error("gaussian_kde: points have dimension " + std::to_string(points.shape()[0]) +
                              ", the data have dimension " + std::to_string(d_));
        const std::size_t m = points.shape()[1];
        Eigen::MatrixXd q(static_cast<Eigen::Index>(d_), static_cast<Eigen::Index>(m));
        for (std::size_t k = 0; k < d_; ++k)
            for (std::size_t j = 0; j < m; ++j) q(Eigen::Index(k), Eigen::Index(j)) = points(k, j);
        return evaluate_matrix(q);
    }

    /// Density of a 1-D estimate at `points`.
    std::vector<double> operator()(const std::vector<double>& points) const {
        require_1d("evaluate a std::vector of points");
        return evaluate_matrix(Eigen::Map<const Eigen::RowVectorXd>(points.data(), Eigen::Index(points.size())));
    }
    std::vector<double> evaluate(const xt::xtensor<double, 2>& points) const { return (*this)(points); }
    std::vector<double> evaluate(const std::vector<double>& points) const { return (*this)(points); }

    /// Fast 1-D evaluation (fast Gauss transform), O((n + m) p) instead of O(n m). Guaranteed bound:
    /// |fast(x) - exact(x)| <= tolerance * kernel_peak() for every x (plus rounding, ~1e-15 kernel_peak()).
    /// Relative to the density this is tolerance * kernel_peak() / f(x); at a sample x_j it is at most
    /// tolerance / w_j (= n * tolerance without weights), and typically ~ tolerance.
    std::vector<double> evaluate_fast(const std::vector<double>& points, double tolerance = 1e-12) const {
        require_1d("use the fast path (it is one-dimensional)");
        if (!(tolerance > 0.0 && tolerance < 1.0))
            throw value_error("gaussian_kde::evaluate_fast: tolerance must be in (0, 1), got " +
                              std::to_string(tolerance));
        detail::require_finite(points.data(), points.size(), "points");
        const auto plan = detail::plan_fgt(tolerance);
        const int p = plan.order;
        // Scaled coordinate s = (x - x0) / (sqrt(2) h): kernel = norm * exp(-(t - s)^2). Boxes of unit width.
        const double h = chol_(0, 0), inv = 1.0 / (std::sqrt(2.0) * h);
        const double x0 = data_.minCoeff();
        std::vector<std::size_t> order(n_);
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return data_(0, Eigen::Index(a)) < data_(0, Eigen::Index(b)); });
        std::vector<double> box_index;  // occupied boxes, ascending (double: far outliers stay exact)
        std::vector<double> moments;    // p coefficients per box: sum_i w_i (s_i - c)^k / k!
        for (std::size_t idx : order) {
            const double s = (data_(0, Eigen::Index(idx)) - x0) * inv;
            const double b = std::floor(s);
            if (box_index.empty() || box_index.back() != b) {
                box_index.push_back(b);
                moments.resize(moments.size() + std::size_t(p), 0.0);
            }
            double* a = &moments[moments.size() - std::size_t(p)];
            const double ds = s - (b + 0.5), wi = w_(Eigen::Index(idx));
            double term = wi;
            for (int k = 0; k < p; ++k) {
                a[k] += term;
                term *= ds / (k + 1);
            }
        }
        std::vector<double> out(points.size());
        const double norm = norm_;
        detail::parallel_ranges(points.size(), double(points.size()) * p * 2 * plan.cutoff * 4, [&](std::size_t begin, std::size_t end) {
            std::vector<double> herm(std::size_t(p) + 1);
            for (std::size_t j = begin; j < end; ++j) {
                const double t = (points[j] - x0) * inv;
                auto lo = std::lower_bound(box_index.begin(), box_index.end(), std::floor(t - plan.cutoff) - 1);
                double g = 0.0;
                for (auto it = lo; it != box_index.end() && *it + 0.5 <= t + plan.cutoff; ++it) {
                    const double u = t - (*it + 0.5);
                    if (std::abs(u) > plan.cutoff) continue;
                    const double* a = &moments[std::size_t(it - box_index.begin()) * std::size_t(p)];
                    // Hermite functions h_k(u) = H_k(u) e^{-u^2} by the three-term recurrence.
                    double hm1 = std::exp(-u * u), hk = 2.0 * u * hm1;
                    double sum = a[0] * hm1;
                    for (int k = 1; k < p; ++k) {
                        sum += a[k] * hk;
                        const double next = 2.0 * u * hk - 2.0 * k * hm1;
                        hm1 = hk;
                        hk = next;
                    }
                    g += sum;
                }
                out[j] = norm * g;
            }
        });
        return out;
    }

private:
    static xt::xtensor<double, 2> to_xtensor(const Eigen::MatrixXd& m) {
        xt::xtensor<double, 2> out({std::size_t(m.rows()), std::size_t(m.cols())});
        for (Eigen::Index r = 0; r < m.rows(); ++r)
            for (Eigen::Index c = 0; c < m.cols(); ++c) out(std::size_t(r), std::size_t(c)) = m(r, c);
        return out;
    }

    void require_1d(const char* what) const {
        if (d_ != 1)
            throw value_error(std::string("gaussian_kde: only a 1-D estimate can ") + what + "; this one has dimension " +
                              std::to_string(d_));
    }

    void init(const std::vector<double>& weights, bandwidth bw) {
        if (d_ == 0 || n_ < 2)
            throw value_error("gaussian_kde: need at least 2 samples, got " + std::to_string(n_) +
                              (d_ == 0 ? " in 0 dimensions" : ""));
        if (d_ > n_)
            throw value_error("gaussian_kde: dimension " + std::to_string(d_) + " exceeds the number of samples " +
                              std::to_string(n_) + " (the dataset is (d, n): one column per sample)");
        detail::require_finite(data_.data(), std::size_t(data_.size()), "dataset");
        if (weights.empty()) {
            w_ = Eigen::VectorXd::Constant(Eigen::Index(n_), 1.0 / double(n_));
        } else {
            if (weights.size() != n_)
                throw value_error("gaussian_kde: " + std::to_string(weights.size()) + " weights for " +
                                  std::to_string(n_) + " samples");
            detail::require_finite(weights.data(), n_, "weights");
            w_ = Eigen::Map<const Eigen::VectorXd>(weights.data(), Eigen::Index(n_));
            if (w_.minCoeff() < 0.0) throw value_error("gaussian_kde: weights must be >= 0");
            const double s = w_.sum();
            if (!(s > 0.0)) throw value_error("gaussian_kde: weights sum to zero");
            w_ /= s;
        }
        neff_ = 1.0 / w_.squaredNorm();
        // numpy.cov(aweights=w, ddof=1): divide by sum w - sum w^2 / sum w.
        const double wsum = w_.sum();
        const Eigen::VectorXd mean = data_ * w_ / wsum;
        const Eigen::MatrixXd centred = data_.colwise() - mean;
        data_cov_ = centred * w_.asDiagonal() * centred.transpose() / (wsum - w_.squaredNorm() / wsum);
        Eigen::LLT<Eigen::MatrixXd> llt(data_cov_);
        if (llt.info() != Eigen::Success || !(llt.matrixL().toDenseMatrix().diagonal().minCoeff() > 0.0))
            throw value_error(
                "gaussian_kde: the data covariance is singular (all samples equal, or the data lie in a "
                "lower-dimensional subspace); reduce the dimension or add distinct samples");
        data_chol_ = llt.matrixL();
        set_bandwidth(bw);
    }

    std::vector<double> evaluate_matrix(const Eigen::MatrixXd& q) const {
        detail::require_finite(q.data(), std::size_t(q.size()), "points");
        const std::size_t m = std::size_t(q.cols());
        const Eigen::MatrixXd qw = chol_.triangularView<Eigen::Lower>().solve(q);
        std::vector<double> out(m);
        const Eigen::ArrayXd w = w_.array();
        detail::parallel_ranges(m, double(m) * double(n_) * double(d_ + 10), [&](std::size_t begin, std::size_t end) {
            Eigen::ArrayXd r2(static_cast<Eigen::Index>(n_));
            for (std::size_t j = begin; j < end; ++j) {
                const Eigen::Index jj = Eigen::Index(j);
                // Eigen's vectorised exp; terms are summed in sample order as SciPy does.
                if (d_ == 1) {
                    out[j] = norm_ * (w * (-0.5 * (white_.col(0) - qw(0, jj)).square()).exp()).sum();
                } else {
                    r2 = (white_.col(0) - qw(0, jj)).square();
                    for (Eigen::Index k = 1; k < Eigen::Index(d_); ++k) r2 += (white_.col(k) - qw(k, jj)).square();
                    out[j] = norm_ * (w * (-0.5 * r2).exp()).sum();
                }
            }
        });
        return out;
    }

    std::size_t d_ = 0, n_ = 0;
    Eigen::MatrixXd data_;       // (d, n)
    Eigen::VectorXd w_;          // normalised weights
    double neff_ = 0.0, factor_ = 0.0, norm_ = 0.0;
    Eigen::MatrixXd data_cov_;   // weighted sample covariance (ddof = 1)
    Eigen::MatrixXd data_chol_;  // its lower Cholesky factor
    Eigen::MatrixXd chol_;       // factor * data_chol_
    Eigen::ArrayXXd white_;      // (n, d) whitened samples
};

}  // namespace ferrum
