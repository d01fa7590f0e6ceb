// Fourier decomposition of a folded light curve in the Gaia SOS cosine convention,
// m(Phi) = A0 + sum_{k=1..K} A_k cos(2 pi k Phi + phi_k) (Clementini et al. 2016, 2023), fitted by weighted
// linear least squares (one Eigen Householder QR serves all orders), with R_k1 = A_k/A_1, phi_k1 = phi_k -
// k phi_1 and their errors propagated from the LSQ covariance; K chosen by the BIC (Schwarz 1978).
#pragma once

#include <Eigen/Core>
#include <Eigen/QR>  // HouseholderQR

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/lightcurve/phase_fold.hpp"

namespace ferrum {

constexpr double two_pi = 6.283185307179586476925286766559;

/// \brief `x` wrapped into [0, 2 pi); a value that rounds up to 2 pi is returned as 0 (same angle).
inline double wrap_two_pi(double x) noexcept {
    double r = std::fmod(x, two_pi);
    if (r < 0) r += two_pi;
    return r < two_pi ? r : 0.0;
}

/// \brief One harmonic's phase from the cosine to the sine convention: cos(x + phi) = sin(x + phi + pi/2), so
/// phi_k^s = phi_k^c + pi/2 (mod 2 pi), whatever k.
inline double phase_cos_to_sin(double phi_k_cos) noexcept { return wrap_two_pi(phi_k_cos + two_pi / 4); }
/// \brief The inverse of phase_cos_to_sin(): phi_k^c = phi_k^s - pi/2 (mod 2 pi).
inline double phase_sin_to_cos(double phi_k_sin) noexcept { return wrap_two_pi(phi_k_sin - two_pi / 4); }

/// \brief phi_k1 = phi_k - k phi_1 converted from the cosine to the sine convention
/// (m = A0 + sum A_k sin(2 pi k Phi + phi_k^s)). Since cos(x) = sin(x + pi/2), phi_k^s = phi_k^c + pi/2 and
/// phi_k1^s = phi_k1^c - (k - 1) pi/2 (mod 2 pi): phi21^s = phi21^c - pi/2 and phi31^s = phi31^c - pi.
inline double phase_difference_cos_to_sin(int k, double phi_k1_cos) noexcept {
    return wrap_two_pi(phi_k1_cos - (k - 1) * (two_pi / 4));
}
/// \brief The inverse of phase_difference_cos_to_sin(): phi_k1^c = phi_k1^s + (k - 1) pi/2 (mod 2 pi).
inline double phase_difference_sin_to_cos(int k, double phi_k1_sin) noexcept {
    return wrap_two_pi(phi_k1_sin + (k - 1) * (two_pi / 4));
}
/// \brief phi31 from the cosine to the sine convention: phi31^s = phi31^c - pi (mod 2 pi).
inline double phi31_cos_to_sin(double phi31_cos) noexcept { return phase_difference_cos_to_sin(3, phi31_cos); }
/// \brief phi31 from the sine to the cosine convention: phi31^c = phi31^s + pi (mod 2 pi).
inline double phi31_sin_to_cos(double phi31_sin) noexcept { return phase_difference_sin_to_cos(3, phi31_sin); }

/// \brief How the least-squares covariance is scaled by the reduced chi-square chi2/(n - p).
enum class covariance_scaling {
    /// Errors given: scale by max(1, chi2_nu), i.e. trust the errors unless the residuals show they are
    /// under-estimated (never shrink them). No errors: scale by chi2_nu (unit weights carry no scale).
    inflate_only,
    /// Always scale by chi2_nu (what scipy.optimize.curve_fit does with absolute_sigma=False).
    always,
    /// Never scale: the errors are taken as exact (curve_fit's absolute_sigma=True). With no errors this
    /// means unit errors in magnitudes.
    never,
};

/// \brief Options of fit_fourier().
struct fourier_options {
    /// A fixed order K; 0 chooses K in [min_order, max_order] by the smallest BIC.
    int order = 0;
    /// Smallest order tried; 3 guarantees that R21, R31, phi21 and phi31 exist.
    int min_order = 3;
    /// Largest order tried; also limited to (n - 2)/2 so that at least one degree of freedom is left.
    int max_order = 8;
    /// Weight the epochs by 1/mag_err^2 when the curve has errors.
    bool use_errors = true;
    covariance_scaling scaling = covariance_scaling::inflate_only;
};

/// \brief A value with its 1-sigma uncertainty.
struct measurement {
    double value = 0.0;
    double sigma = 0.0;
};

/// \brief The fitted series m(Phi) = A0 + sum_k A_k cos(2 pi k Phi + phi_k), A_k >= 0, phi_k in [0, 2 pi).
struct fourier_decomposition {
    std::int64_t source_id = 0;
    std::string name;               ///< the star's name when it is not an integer id
    int order = 0;                  ///< K
    std::size_t n = 0;              ///< epochs fitted
    bool weighted = false;          ///< whether 1/mag_err^2 weights were used
    double A0 = 0.0;                ///< mean magnitude of the series
    std::vector<double> amplitude;  ///< A_1..A_K (index k-1)
    std::vector<double> phase;      ///< phi_1..phi_K in [0, 2 pi)
    /// Covariance of (A0, A_1, phi_1, ..., A_K, phi_K), already scaled (see covariance_scaling). A phase
    /// whose amplitude is exactly 0 is undefined: its variance is +inf.
    Eigen::MatrixXd covariance;
    double chi2 = 0.0;              ///< sum w_i r_i^2 (w = 1 without errors)
    double reduced_chi2 = 0.0;      ///< chi2 / (n - 2K - 1)
    double covariance_scale = 1.0;  ///< factor applied to (X^T W X)^-1
    double bic = 0.0;               ///< n ln(chi2/n) + (2K + 1) ln n, the criterion that chose K
    double rms = 0.0;               ///< unweighted residual RMS (mag)

    double sigma_A0() const { return std::sqrt(covariance(0, 0)); }
    double sigma_amplitude(int k) const { return std::sqrt(covariance(2 * check(k) - 1, 2 * k - 1)); }
    double sigma_phase(int k) const { return std::sqrt(covariance(2 * check(k), 2 * k)); }

    /// The model magnitude at `phi` (any real phase; the series is 1-periodic).
    double operator()(double phi) const noexcept {
        double m = A0;
        for (int k = 1; k <= order; ++k)
            m += amplitude[std::size_t(k - 1)] * std::cos(two_pi * k * phi + phase[std::size_t(k - 1)]);
        return m;
    }

    /// R_k1 = A_k / A_1 with its propagated uncertainty.
    measurement amplitude_ratio(int k) const {
        check(k);
        const double a1 = amplitude[0], ak = amplitude[std::size_t(k - 1)];
        if (!(a1 > 0)) throw value_error(who() + ": A1 is 0, amplitude ratios are undefined");
        const int i1 = 1, ik = 2 * k - 1;
        const double g1 = -ak / (a1 * a1), gk = 1.0 / a1;  // gradient wrt (A_1, A_k)
        return {ak / a1, std::sqrt(quad(i1, ik, g1, gk))};
    }
    /// phi_k1 = phi_k - k phi_1 (mod 2 pi, in [0, 2 pi)) with its propagated uncertainty.
    measurement phase_difference(int k) const {
        check(k);
        const int i1 = 2, ik = 2 * k;
        return {wrap_two_pi(phase[std::size_t(k - 1)] - k * phase[0]), std::sqrt(quad(i1, ik, -double(k), 1.0))};
    }
    measurement R21() const { return amplitude_ratio(2); }
    measurement R31() const { return amplitude_ratio(3); }
    measurement phi21() const { return phase_difference(2); }
    measurement phi31() const { return phase_difference(3); }

private:
    std::string who() const { return detail::curve_name(source_id, name); }
    int check(int k) const {
        if (k < 1 || k > order)
            throw value_error(who() + ": harmonic " + std::to_string(k) + " requested from a Fourier fit of order " +
                              std::to_string(order) + " (raise fourier_options::min_order)");
        return k;
    }
    // g^T C g for a gradient with two non-zero entries (at the first harmonic and at harmonic k).
    double quad(int i, int j, double gi, double gj) const {
        if (i == j) return (gi + gj) * (gi + gj) * covariance(i, i);
        return gi * gi * covariance(i, i) + 2 * gi * gj * covariance(i, j) + gj * gj * covariance(j, j);
    }
};

namespace detail {

/// The weighted design of the highest order tried, [1, cos 2piPhi, sin 2piPhi, ..., cos 2piKPhi, sin 2piKPhi]
/// (rows scaled by sqrt(w)), reduced once by Householder QR without pivoting. The models of lower order use
/// the leading 2K+1 columns, so the same factorisation serves all of them (Lawson & Hanson 1974, ch. 5):
/// chi2(K) = sum_{i >= 2K+1} (Q^T y)_i^2 and beta(K) = R_K^-1 (Q^T y)_{0..2K}, R_K the leading block of R.
/// A class template (Scalar: double, the only one) so that only a translation unit that fits a series
/// compiles Eigen's QR.
template <class Scalar = double>
class fourier_design {
    static_assert(std::is_same_v<Scalar, double>, "fourier_design computes in double");
    // Eigen's types spelt with Scalar (the same types as MatrixXd and VectorXd): dependent, so that the QR and
    // the expressions below are compiled only where a fit is.
    using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
    using vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

public:
    fourier_design(const std::vector<double>& phi, const std::vector<double>& mag, const vector& sqrt_w,
                   int max_order)
        : n_(static_cast<Eigen::Index>(phi.size())), X_(n_, 2 * max_order + 1), y_(n_) {
        for (Eigen::Index i = 0; i < n_; ++i) {
            const double s = sqrt_w[i];
            X_(i, 0) = s;
            // cos/sin of k*theta by the angle-addition recurrence: one sincos per epoch instead of K.
            const double c1 = std::cos(two_pi * phi[std::size_t(i)]), s1 = std::sin(two_pi * phi[std::size_t(i)]);
            double ck = c1, sk = s1;
            for (int k = 1; k <= max_order; ++k) {
                X_(i, 2 * k - 1) = s * ck;
                X_(i, 2 * k) = s * sk;
                const double c = ck * c1 - sk * s1;
                sk = sk * c1 + ck * s1;
                ck = c;
            }
            y_[i] = s * mag[std::size_t(i)];
        }
        qr_.compute(X_);
        qty_ = y_;
        qty_.applyOnTheLeft(qr_.householderQ().adjoint());
        // Tail sums of (Q^T y)^2, accumulated from the end: no cancellation, exact zero for exact data.
        tail_.resize(n_ + 1);
        tail_[n_] = 0.0;
        for (Eigen::Index i = n_; i-- > 0;) tail_[i] = tail_[i + 1] + qty_[i] * qty_[i];
        // Leading columns are independent while |R_jj| stays above a relative tolerance; a column that
        // depends on the ones before it (phases too clustered for that harmonic) ends the usable orders.
        const auto d = qr_.matrixQR().diagonal().cwiseAbs();
        const double tol = 1e-9 * d.maxCoeff();
        rank_ = 0;
        while (rank_ < d.size() && d[rank_] > tol) ++rank_;
    }

    /// Whether order K's leading columns are linearly independent.
    bool full_rank(int K) const noexcept { return 2 * K + 1 <= rank_; }
    /// Weighted residual sum of squares of order K.
    double chi2(int K) const noexcept { return tail_[2 * K + 1]; }

    /// The order-K fit in polar form: A0, A_k, phi_k, the unscaled covariance of (A0, A_1, phi_1, ...), rms.
    void solve(int K, fourier_decomposition& out) const {
        const Eigen::Index p = 2 * K + 1;
        const auto R = qr_.matrixQR().topLeftCorner(p, p).template triangularView<Eigen::Upper>();
        const vector beta = R.solve(qty_.head(p));
        // (X^T W X)^-1 = R^-1 R^-T, without forming the normal equations.
        const matrix Rinv = R.solve(matrix::Identity(p, p));
        const matrix cov_lin = Rinv * Rinv.transpose();

        // a_k cos + b_k sin = A_k cos(theta + phi_k) with A_k = hypot(a, b) and phi_k = atan2(-b, a).
        out.order = K;
        out.n = static_cast<std::size_t>(n_);
        out.A0 = beta[0];
        out.amplitude.assign(std::size_t(K), 0.0);
        out.phase.assign(std::size_t(K), 0.0);
        matrix J = matrix::Zero(p, p);
        J(0, 0) = 1.0;
        for (int k = 1; k <= K; ++k) {
            const double a = beta[2 * k - 1], b = beta[2 * k];
            const double A = std::hypot(a, b);
            out.amplitude[std::size_t(k - 1)] = A;
            out.phase[std::size_t(k - 1)] = wrap_two_pi(std::atan2(-b, a));
            if (A > 0) {
                J(2 * k - 1, 2 * k - 1) = a / A;
                J(2 * k - 1, 2 * k) = b / A;
                J(2 * k, 2 * k - 1) = b / (A * A);
                J(2 * k, 2 * k) = -a / (A * A);
            }
        }
        out.covariance = J * cov_lin * J.transpose();
        out.chi2 = chi2(K);
        const vector wres = y_ - X_.leftCols(p) * beta;
        double ss = 0;
        for (Eigen::Index i = 0; i < n_; ++i) ss += (wres[i] / X_(i, 0)) * (wres[i] / X_(i, 0));
        out.rms = std::sqrt(ss / double(n_));
    }

private:
    Eigen::Index n_;
    matrix X_;
    vector y_, qty_, tail_;
    Eigen::HouseholderQR<matrix> qr_;
    Eigen::Index rank_ = 0;
};

}  // namespace detail

/// \brief Fits the cosine Fourier series to folded epochs (`phase` in cycles, any real value; `mag`;
/// `mag_err` empty or one positive error per epoch) and returns amplitudes, phases and their covariance.
/// K is `opt.order` when non-zero, else the K in [min_order, min(max_order, (n-2)/2)] with the smallest
/// BIC = n ln(chi2/n) + (2K+1) ln n: the Gaussian likelihood with the error scale profiled out, so that
/// under-estimated errors do not push K up. Orders whose design is rank-deficient are not considered.
/// \throws value_error when no admissible order fits (too few epochs, or phases too clustered).
template <class Dummy = void>  // a template: compiled only where it is used
fourier_decomposition fit_fourier(const std::vector<double>& phase, const std::vector<double>& mag,
                                  const std::vector<double>& mag_err, const fourier_options& opt = {},
                                  std::int64_t source_id = 0, const std::string& name = {}) {
    const std::string who = detail::curve_name(source_id, name);
    detail::check_light_curve_columns(who, phase, "phase", mag, mag_err);
    if (opt.order < 0 || opt.min_order < 1 || opt.max_order < opt.min_order)
        throw value_error(who + ": invalid Fourier orders (order " + std::to_string(opt.order) + ", min " +
                          std::to_string(opt.min_order) + ", max " + std::to_string(opt.max_order) + ")");
    const std::size_t n = phase.size();
    const bool weighted = opt.use_errors && !mag_err.empty();
    Eigen::VectorXd sqrt_w = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(n));
    if (weighted)
        for (std::size_t i = 0; i < n; ++i) sqrt_w[static_cast<Eigen::Index>(i)] = 1.0 / mag_err[i];

    // n > 2K + 1: at least one degree of freedom, or chi2_nu (and the covariance scale) is undefined.
    const int k_limit = n >= 2 ? static_cast<int>((n - 2) / 2) : 0;
    const int k_lo = opt.order > 0 ? opt.order : opt.min_order;
    const int k_hi = opt.order > 0 ? opt.order : std::min(opt.max_order, k_limit);
    if (k_lo > k_limit)
        throw value_error(who + ": " + std::to_string(n) + " epochs are too few for a Fourier series of order " +
                          std::to_string(k_lo) + " (needs at least " + std::to_string(2 * k_lo + 2) + ")");
    const detail::fourier_design design(phase, mag, sqrt_w, k_hi);

    // chi2 is floored at rounding level so that noise-free data select the smallest exact order instead
    // of whichever order happens to leave the smallest round-off.
    double scale = 0, wsum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        scale = std::max(scale, std::abs(mag[i]));
        wsum += sqrt_w[static_cast<Eigen::Index>(i)] * sqrt_w[static_cast<Eigen::Index>(i)];
    }
    const double chi2_floor = wsum * std::pow(1e-12 * std::max(scale, 1e-300), 2);
    const double nn = double(n);
    int best_k = 0;
    double best_bic = 0;
    for (int K = k_lo; K <= k_hi && design.full_rank(K); ++K) {
        const double bic = nn * std::log(std::max(design.chi2(K), chi2_floor) / nn) + (2 * K + 1) * std::log(nn);
        if (best_k == 0 || bic < best_bic) {
            best_k = K;
            best_bic = bic;
        }
    }
    if (best_k == 0)
        throw value_error(who + ": the phases of the " + std::to_string(n) +
                          " epochs are too clustered for a Fourier series of order " + std::to_string(k_lo));

    fourier_decomposition best;
    design.solve(best_k, best);
    best.bic = best_bic;
    best.source_id = source_id;
    best.name = name;
    best.weighted = weighted;
    const double dof = nn - double(2 * best.order + 1);
    best.reduced_chi2 = best.chi2 / dof;
    switch (opt.scaling) {
        case covariance_scaling::inflate_only:
            best.covariance_scale = weighted ? std::max(1.0, best.reduced_chi2) : best.reduced_chi2;
            break;
        case covariance_scaling::always: best.covariance_scale = best.reduced_chi2; break;
        case covariance_scaling::never: best.covariance_scale = 1.0; break;
    }
    best.covariance *= best.covariance_scale;
    for (int k = 1; k <= best.order; ++k)  // after scaling: 0 * inf would be NaN for a noise-free fit
        if (!(best.amplitude[std::size_t(k - 1)] > 0))
            best.covariance(2 * k, 2 * k) = std::numeric_limits<double>::infinity();
    return best;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE fourier_decomposition fit_fourier<void>(const std::vector<double>& phase,
                                                                 const std::vector<double>& mag,
                                                                 const std::vector<double>& mag_err,
                                                                 const fourier_options& opt, std::int64_t source_id,
                                                                 const std::string& name);
#endif

/// \brief fit_fourier() on a folded curve.
template <class Dummy = void>  // a template: compiled only where it is used
fourier_decomposition fit_fourier(const folded_curve& fc, const fourier_options& opt = {}) {
    return fit_fourier(fc.phase, fc.mag, fc.mag_err, opt, fc.source_id, fc.name);
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE fourier_decomposition fit_fourier<void>(const folded_curve& fc, const fourier_options& opt);
#endif

}  // namespace ferrum
