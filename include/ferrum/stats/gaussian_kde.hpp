// Gaussian kernel density estimation equal to scipy.stats.gaussian_kde (SciPy 1.10): Scott's (1992) and
// Silverman's (1986) bandwidth factors, sample weights with Kish's effective size, any dimension.
// The 1-D fast path is a fast Gauss transform (Greengard & Strain 1991, eqs. 2.4-2.6) with Cramér's bound.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <xtensor/xtensor.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/parallel.hpp"

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
    constexpr bandwidth(bandwidth_rule rule) noexcept : rule_(rule) {}              // NOLINT: implicit on purpose
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
    const std::size_t threads = work < 2e6 ? 1 : worker_count(0, count);
    const std::size_t chunk = (count + threads - 1) / std::max<std::size_t>(threads, 1);
    if (threads <= 1) {
        body(std::size_t{0}, count);
        return;
    }
    parallel_for((count + chunk - 1) / chunk, {static_cast<unsigned>(threads)},
                 [&](std::size_t t) { body(t * chunk, std::min(count, (t + 1) * chunk)); });
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

/// numpy's pairwise summation (umath pairwise_sum: 8 accumulators in blocks of at most 128 terms,
/// halved recursively) of term(0..n-1). Summing as NumPy does keeps the bandwidth bit-equal to SciPy's.
template <class Term>
double numpy_sum(std::size_t begin, std::size_t n, const Term& term) {
    if (n < 8) {
        double res = 0.0;
        for (std::size_t i = 0; i < n; ++i) res += term(begin + i);
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = term(begin + j);
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += term(begin + i + j);
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += term(begin + i);
        return res;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return numpy_sum(begin, n2, term) + numpy_sum(begin + n2, n - n2, term);
}

/// Solves L y = x for every column x of `x` (d, m) by forward substitution with division by the
/// diagonal, as LAPACK's dtrsm does (Eigen multiplies by the reciprocal, one ulp away). Returns (m, d).
template <class Matrix>  // Eigen::MatrixXd; a template so that it is compiled only where it is used
Eigen::Array<typename Matrix::Scalar, Eigen::Dynamic, Eigen::Dynamic> whiten(const Matrix& lower, const Matrix& x) {
    const Eigen::Index d = x.rows(), m = x.cols();
    // row j is point j, solved in place
    Eigen::Array<typename Matrix::Scalar, Eigen::Dynamic, Eigen::Dynamic> y = x.transpose().array();
    for (Eigen::Index j = 0; j < m; ++j)
        for (Eigen::Index k = 0; k < d; ++k) {
            y(j, k) /= lower(k, k);
            for (Eigen::Index i = k + 1; i < d; ++i) y(j, i) -= y(j, k) * lower(i, k);
        }
    return y;
}

/// Indices 0..n-1 grouped by equal key, keys ascending: order[start[g] .. start[g+1]) have key keys[g].
/// Counting sort when the key range is small (the usual case: boxes of a KDE), else a comparison sort.
struct key_groups {
    std::vector<std::size_t> order, start;
    std::vector<std::int64_t> keys;
};
inline key_groups group_by_key(const std::vector<std::int64_t>& key) {
    key_groups g;
    const std::size_t n = key.size();
    g.order.resize(n);
    if (n == 0) {
        g.start.push_back(0);
        return g;
    }
    const auto [mn, mx] = std::minmax_element(key.begin(), key.end());
    const std::int64_t kmin = *mn;
    if (double(*mx) - double(kmin) <= 4.0 * double(n) + 1024.0) {
        std::vector<std::size_t> count(std::size_t(*mx - kmin) + 2, 0);
        for (auto k : key) ++count[std::size_t(k - kmin) + 1];
        for (std::size_t b = 1; b < count.size(); ++b) count[b] += count[b - 1];
        std::vector<std::size_t> fill(count.begin(), count.end() - 1);
        for (std::size_t i = 0; i < n; ++i) g.order[fill[std::size_t(key[i] - kmin)]++] = i;
    } else {
        std::iota(g.order.begin(), g.order.end(), std::size_t{0});
        std::stable_sort(g.order.begin(), g.order.end(), [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
    }
    for (std::size_t pos = 0; pos < n; ++pos)
        if (pos == 0 || key[g.order[pos]] != key[g.order[pos - 1]]) {
            g.start.push_back(pos);
            g.keys.push_back(key[g.order[pos]]);
        }
    g.start.push_back(n);
    return g;
}

}  // namespace detail

/// \brief Gaussian kernel density estimate of a d-dimensional sample, equal to
/// `scipy.stats.gaussian_kde(dataset, bw_method, weights)` of SciPy 1.10.
///
/// The kernel covariance is factor^2 times the data covariance, which is numpy.cov(dataset,
/// aweights=weights) with ddof=1: normalised weights w, weighted mean m, and
/// C = sum_i w_i (x_i - m)(x_i - m)^T / (1 - sum_i w_i^2). neff = 1 / sum_i w_i^2 (Kish). Without weights
/// w_i = 1/n, so neff = n and C is the usual sample covariance.
///
/// A class template only for compile cost (its Cholesky factorisation is compiled only where an estimate is
/// built); users name it `gaussian_kde`.
template <class Dummy = void>
class basic_gaussian_kde {
    // Eigen's types made dependent on Dummy: the expressions below are then compiled only where a member is
    // used, not in every translation unit that includes this header.
    template <class E>
    using dependent = std::conditional_t<std::is_void_v<Dummy>, E, E>;
    using matrix = dependent<Eigen::MatrixXd>;
    using vector = dependent<Eigen::VectorXd>;
    using row_vector = dependent<Eigen::RowVectorXd>;
    using array = dependent<Eigen::ArrayXd>;
    using array2d = dependent<Eigen::ArrayXXd>;

public:
    /// `dataset` has shape (d, n): one column per sample, as SciPy. `weights` is empty or has n
    /// non-negative entries (normalised internally).
    explicit basic_gaussian_kde(const xt::xtensor<double, 2>& dataset, bandwidth bw = {},
                                const std::vector<double>& weights = {}) {
        d_ = dataset.shape()[0];
        n_ = dataset.shape()[1];
        data_.resize(static_cast<Eigen::Index>(d_), static_cast<Eigen::Index>(n_));
        for (std::size_t k = 0; k < d_; ++k)
            for (std::size_t i = 0; i < n_; ++i) data_(Eigen::Index(k), Eigen::Index(i)) = dataset(k, i);
        init(weights, bw);
    }

    /// One-dimensional convenience: `data` holds the n samples.
    explicit basic_gaussian_kde(const std::vector<double>& data, bandwidth bw = {},
                                const std::vector<double>& weights = {}) {
        d_ = 1;
        n_ = data.size();
        data_ = Eigen::Map<const row_vector>(data.data(), Eigen::Index(n_));
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
        const matrix chol = data_chol_ * factor_;
        // Whitening by the kernel's Cholesky factor turns every kernel into a unit spherical Gaussian.
        white_ = detail::whiten(chol, data_);
        chol_ = chol;
        norm_ = std::pow(2.0 * detail::pi, -0.5 * double(d_));
        for (Eigen::Index k = 0; k < chol.rows(); ++k) norm_ /= chol(k, k);  // in SciPy's order
    }

    /// Density at `points` of shape (d, m); returns m values. Exact O(n m d) sum, threaded.
    std::vector<double> operator()(const xt::xtensor<double, 2>& points) const {
        if (points.shape()[0] != d_)
            throw value_error("gaussian_kde: points have dimension " + std::to_string(points.shape()[0]) +
                              ", the data have dimension " + std::to_string(d_));
        const std::size_t m = points.shape()[1];
        matrix q(static_cast<Eigen::Index>(d_), static_cast<Eigen::Index>(m));
        for (std::size_t k = 0; k < d_; ++k)
            for (std::size_t j = 0; j < m; ++j) q(Eigen::Index(k), Eigen::Index(j)) = points(k, j);
        return evaluate_matrix(q);
    }

    /// Density of a 1-D estimate at `points`.
    std::vector<double> operator()(const std::vector<double>& points) const {
        require_1d("evaluate a std::vector of points");
        return evaluate_matrix(Eigen::Map<const row_vector>(points.data(), Eigen::Index(points.size())));
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
        const std::size_t p = std::size_t(plan.order);
        // Scaled coordinate s = (x - x0) / (sqrt(2) h): kernel = norm * exp(-(t - s)^2); boxes of unit width
        // [b, b + 1) with centre b + 1/2, so |s - centre| <= r = 1/2 as plan_fgt assumes.
        const double h = chol_(0, 0), inv = 1.0 / (std::sqrt(2.0) * h);
        const double x0 = data_.minCoeff(), span = (data_.maxCoeff() - x0) * inv;
        if (span > 1e15)
            throw value_error(
                "gaussian_kde::evaluate_fast: the data span more than 1e15 bandwidths; use the exact evaluation");

        // Source boxes: Hermite moments A_k = sum_i w_i (s_i - c)^k / k! (Greengard & Strain eq. 2.5).
        std::vector<std::int64_t> key(n_);
        for (std::size_t i = 0; i < n_; ++i) key[i] = std::int64_t(std::floor((data_(0, Eigen::Index(i)) - x0) * inv));
        const auto src = detail::group_by_key(key);
        std::vector<double> moments(src.keys.size() * p, 0.0);
        for (std::size_t g = 0; g < src.keys.size(); ++g) {
            const double centre = double(src.keys[g]) + 0.5;
            double* a = &moments[g * p];
            for (std::size_t pos = src.start[g]; pos < src.start[g + 1]; ++pos) {
                const std::size_t i = src.order[pos];
                const double ds = (data_(0, Eigen::Index(i)) - x0) * inv - centre;
                double term = w_(Eigen::Index(i));
                for (std::size_t k = 0; k < p; ++k) {
                    a[k] += term;
                    term *= ds / double(k + 1);
                }
            }
        }

        // Targets grouped by box: all targets of a box share the source boxes within reach (|b - tb| <= reach
        // covers every box with |t - centre| <= cutoff), so the inner loops run over targets and vectorise.
        std::vector<double> out(points.size(), 0.0);
        const double lo_t = -plan.cutoff - 2.0, hi_t = span + plan.cutoff + 2.0;
        std::vector<std::size_t> near;  // targets with any source within the cutoff; the others stay 0
        std::vector<std::int64_t> tkey;
        for (std::size_t j = 0; j < points.size(); ++j) {
            const double t = (points[j] - x0) * inv;
            if (t < lo_t || t > hi_t) continue;
            near.push_back(j);
            tkey.push_back(std::int64_t(std::floor(t)));
        }
        const auto tgt = detail::group_by_key(tkey);
        const std::int64_t reach = std::int64_t(std::ceil(plan.cutoff)) + 1;
        const double e2 = std::exp(-2.0), norm = norm_;
        const auto src_begin = src.keys.begin();
        detail::parallel_ranges(near.size(), double(near.size()) * double(p) * 2.0 * double(reach) * 4.0,
                                [&](std::size_t begin, std::size_t end) {
            constexpr std::size_t chunk = 256;
            double t[chunk], u[chunk], ex[chunk], ratio[chunk], hm1[chunk], hk[chunk], sum[chunk];
            std::size_t pos = begin;
            while (pos < end) {
                // a run of targets in one box, at most `chunk` long
                const std::int64_t tb = tkey[tgt.order[pos]];
                std::size_t q = 0;
                while (pos + q < end && q < chunk && tkey[tgt.order[pos + q]] == tb) ++q;
                for (std::size_t j = 0; j < q; ++j) {
                    t[j] = (points[near[tgt.order[pos + j]]] - x0) * inv;
                    sum[j] = 0.0;
                }
                auto it = std::lower_bound(src_begin, src.keys.end(), tb - reach);
                std::int64_t previous = std::numeric_limits<std::int64_t>::min();
                for (; it != src.keys.end() && *it <= tb + reach; ++it) {
                    const double centre = double(*it) + 0.5;
                    const double* a = &moments[std::size_t(it - src_begin) * p];
                    for (std::size_t j = 0; j < q; ++j) u[j] = t[j] - centre;
                    if (*it == previous + 1) {
                        // next box: e^{-(u-1)^2} = e^{-u^2} e^{2u-1}, saving the exponentials
                        for (std::size_t j = 0; j < q; ++j) {
                            ex[j] *= ratio[j];
                            ratio[j] *= e2;
                        }
                    } else {
                        for (std::size_t j = 0; j < q; ++j) {
                            ex[j] = std::exp(-u[j] * u[j]);
                            ratio[j] = std::exp(2.0 * u[j] - 1.0);
                        }
                    }
                    previous = *it;
                    // Hermite functions h_k(u) = H_k(u) e^{-u^2}: h_{k+1} = 2u h_k - 2k h_{k-1}.
                    for (std::size_t j = 0; j < q; ++j) {
                        hm1[j] = ex[j];
                        hk[j] = 2.0 * u[j] * ex[j];
                        sum[j] += a[0] * ex[j];
                    }
                    for (std::size_t k = 1; k < p; ++k) {
                        const double ak = a[k], twok = 2.0 * double(k);
                        for (std::size_t j = 0; j < q; ++j) {
                            sum[j] += ak * hk[j];
                            const double next = 2.0 * u[j] * hk[j] - twok * hm1[j];
                            hm1[j] = hk[j];
                            hk[j] = next;
                        }
                    }
                }
                for (std::size_t j = 0; j < q; ++j) out[near[tgt.order[pos + j]]] = norm * sum[j];
                pos += q;
            }
        });
        return out;
    }

private:
    static xt::xtensor<double, 2> to_xtensor(const matrix& m) {
        xt::xtensor<double, 2> out({std::size_t(m.rows()), std::size_t(m.cols())});
        for (Eigen::Index r = 0; r < m.rows(); ++r)
            for (Eigen::Index c = 0; c < m.cols(); ++c) out(std::size_t(r), std::size_t(c)) = m(r, c);
        return out;
    }

    void require_1d(const char* what) const {
        if (d_ != 1)
            throw value_error(std::string("gaussian_kde: only a 1-D estimate can ") + what +
                              "; this one has dimension " + std::to_string(d_));
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
            w_ = vector::Constant(Eigen::Index(n_), 1.0 / double(n_));
        } else {
            if (weights.size() != n_)
                throw value_error("gaussian_kde: " + std::to_string(weights.size()) + " weights for " +
                                  std::to_string(n_) + " samples");
            detail::require_finite(weights.data(), n_, "weights");
            w_ = Eigen::Map<const vector>(weights.data(), Eigen::Index(n_));
            if (w_.minCoeff() < 0.0) throw value_error("gaussian_kde: weights must be >= 0");
            const double s = detail::numpy_sum(0, n_, [&](std::size_t i) { return w_(Eigen::Index(i)); });
            if (!(s > 0.0)) throw value_error("gaussian_kde: weights sum to zero");
            w_ /= s;
        }
        // numpy.cov(data, aweights=w, ddof=1) step by step, in NumPy's summation order (pairwise sums; the
        // product X (X w)^T summed in sample order, as the reference BLAS does; then times 1/fact).
        auto wi = [&](std::size_t i) { return w_(Eigen::Index(i)); };
        const double wsum = detail::numpy_sum(0, n_, wi);
        const double w2sum = detail::numpy_sum(0, n_, [&](std::size_t i) { return wi(i) * wi(i); });
        neff_ = 1.0 / w2sum;
        const double fact = wsum - w2sum / wsum;
        matrix centred(data_.rows(), data_.cols());
        for (Eigen::Index k = 0; k < Eigen::Index(d_); ++k) {
            const double mean =
                detail::numpy_sum(0, n_, [&](std::size_t i) { return data_(k, Eigen::Index(i)) * wi(i); }) / wsum;
            centred.row(k) = data_.row(k).array() - mean;
        }
        data_cov_.resize(Eigen::Index(d_), Eigen::Index(d_));
        for (Eigen::Index k = 0; k < Eigen::Index(d_); ++k)
            for (Eigen::Index l = 0; l < Eigen::Index(d_); ++l) {
                double c = 0.0;
                for (Eigen::Index i = 0; i < Eigen::Index(n_); ++i) c += centred(k, i) * (centred(l, i) * w_(i));
                data_cov_(k, l) = c * (1.0 / fact);
            }
        Eigen::LLT<matrix> llt(data_cov_);
        if (llt.info() != Eigen::Success || !(llt.matrixL().toDenseMatrix().diagonal().minCoeff() > 0.0))
            throw value_error(
                "gaussian_kde: the data covariance is singular (all samples equal, or the data lie in a "
                "lower-dimensional subspace); reduce the dimension or add distinct samples");
        data_chol_ = llt.matrixL();
        set_bandwidth(bw);
    }

    // SciPy's order of operations (gaussian_kernel_estimate): for each sample i in turn, every target j
    // adds w_i (exp(-|u_i - v_j|^2 / 2) norm), with the C library's exp. With NumPy's moments this
    // reproduces SciPy on the same machine to ~1e-15, which DenseWeight needs (1 - rho_n amplifies rho's
    // error near the mode). FERRUM_KDE_VECTORIZED_EXP swaps in Eigen's vectorised exp: 4x faster per
    // core, a few ulp per term different (DenseWeight then agrees to ~1e-10 instead of ~1e-15).
    std::vector<double> evaluate_matrix(const matrix& q) const {
        detail::require_finite(q.data(), std::size_t(q.size()), "points");
        const std::size_t m = std::size_t(q.cols());
        // (m, d): column k holds coordinate k of every whitened target, contiguous.
        const array2d qw = detail::whiten(chol_, q);
        std::vector<double> out(m);
        constexpr std::size_t block = 512;
        const std::size_t blocks = (m + block - 1) / block;
        detail::parallel_ranges(blocks, double(m) * double(n_) * double(d_ + 10), [&](std::size_t b0, std::size_t b1) {
            array est(static_cast<Eigen::Index>(block)), arg(static_cast<Eigen::Index>(block));
            for (std::size_t b = b0; b < b1; ++b) {
                const Eigen::Index j0 = Eigen::Index(b * block), len = Eigen::Index(std::min(block, m - b * block));
                auto e = est.head(len);
                auto a = arg.head(len);
                e.setZero();
                for (Eigen::Index i = 0; i < Eigen::Index(n_); ++i) {
                    a = (white_(i, 0) - qw.col(0).segment(j0, len)).square();
                    for (Eigen::Index k = 1; k < Eigen::Index(d_); ++k)
                        a += (white_(i, k) - qw.col(k).segment(j0, len)).square();
                    const double wi = w_(i);
#ifdef FERRUM_KDE_VECTORIZED_EXP
                    e += wi * ((-a / 2.0).exp() * norm_);
#else
                    for (Eigen::Index j = 0; j < len; ++j) e(j) += wi * (std::exp(-a(j) / 2.0) * norm_);
#endif
                }
                for (Eigen::Index j = 0; j < len; ++j) out[std::size_t(j0 + j)] = e(j);
            }
        });
        return out;
    }

    std::size_t d_ = 0, n_ = 0;
    matrix data_;  // (d, n)
    vector w_;     // normalised weights
    double neff_ = 0.0, factor_ = 0.0, norm_ = 0.0;
    matrix data_cov_;   // weighted sample covariance (ddof = 1)
    matrix data_chol_;  // its lower Cholesky factor
    matrix chol_;       // factor * data_chol_
    array2d white_;     // (n, d) whitened samples
};

/// The Gaussian KDE (basic_gaussian_kde<>).
using gaussian_kde = basic_gaussian_kde<>;

}  // namespace ferrum
