// FITPACK's smoothing spline with automatic knots, as scipy.interpolate.UnivariateSpline(x, y, w, k, s):
// curfit (Dierckx 1982; Dierckx 1993, "Curve and Surface Fitting with Splines", ch. 5, eqs. 5.4-5.10)
// finds the fewest knots with sum (w_i (y_i - f(x_i)))^2 <= s and the smoothest spline on them.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/spline/detail/fitpack_bspline.hpp"
#include "ferrum/spline/detail/fitpack_curfit.hpp"
#include "ferrum/spline/detail/fitpack_input.hpp"
#include "ferrum/spline/detail/fitpack_smoothing.hpp"

namespace ferrum {

/// \brief How FITPACK's fit ended (its `ier`, with the same numbers).
enum class fitpack_status : int {
    converged = 0,       ///< |fp - s| <= 0.001 s
    interpolating = -1,  ///< the spline interpolates (fp = 0)
    polynomial = -2,     ///< the least-squares polynomial (periodic: constant) already has fp <= s
    nest_too_small = 1,  ///< knot storage exhausted; the least-squares spline on those knots, fp > s
    s_too_small = 2,     ///< f(p) = s iteration went against theory; fp does not meet s
    max_iterations = 3,  ///< 20 iterations for p without meeting s; s too small
};

/// \brief SciPy's wording for each status (its warnings for 1, 2 and 3).
inline std::string fitpack_message(fitpack_status st) {
    switch (st) {
        case fitpack_status::converged:
            return "The spline has a residual sum of squares fp such that abs(fp-s)/s <= 0.001.";
        case fitpack_status::interpolating: return "The spline is an interpolating spline (fp = 0).";
        case fitpack_status::polynomial:
            return "The spline is the weighted least-squares polynomial of degree k (a constant if periodic); "
                   "fp gives the upper bound fp0 for the smoothing factor s.";
        case fitpack_status::nest_too_small:
            return "The required storage space exceeds the available storage space: nest too small. "
                   "The approximation returned is the weighted least-squares spline on the knots found; "
                   "fp > s.";
        case fitpack_status::s_too_small:
            return "A theoretically impossible result was found during the iteration process for finding "
                   "a smoothing spline with fp = s: s too small. There is an approximation returned but "
                   "the corresponding weighted sum of squared residuals does not satisfy abs(fp-s)/s < 0.001.";
        case fitpack_status::max_iterations:
            return "The maximal number of iterations maxit (set to 20 by the program) allowed for finding "
                   "a smoothing spline with fp=s has been reached: s too small. There is an approximation "
                   "returned but the corresponding weighted sum of squared residuals does not satisfy "
                   "abs(fp-s)/s < 0.001.";
    }
    return "unknown FITPACK status";
}

/// \brief A spline fitted by FITPACK: knots, B-spline coefficients, degree, residual and status.
/// Evaluates like SciPy's splev with ext=0 (outside the base interval the end pieces extrapolate);
/// a periodic spline first wraps the query into [x0, x0 + period).
class fitpack_spline {
public:
    fitpack_spline(std::vector<double> t, std::vector<double> c, int k, double fp, fitpack_status status,
                   bool periodic = false)
        : t_(std::move(t)), c_(std::move(c)), k_(k), fp_(fp), status_(status), periodic_(periodic) {}

    double operator()(double x) const { return eval(t_, c_, k_, wrapped(x, scalar_query)); }
    std::vector<double> operator()(const std::vector<double>& x) const {
        std::vector<double> out(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) out[i] = eval(t_, c_, k_, wrapped(x[i], i));
        return out;
    }

    /// Values at a 1-D xtensor expression.
    template <class E>
    xt::xtensor<double, 1> operator()(const xt::xexpression<E>& e) const {
        static_assert(std::is_arithmetic_v<typename E::value_type>, "fitpack_spline: query points must be numbers");
        const auto& xs = e.derived_cast();
        if (xs.dimension() != 1)
            throw value_error("fitpack_spline: queries must be 1-D, got " + std::to_string(xs.dimension()) +
                              " dimensions");
        xt::xtensor<double, 1> out(std::array<std::size_t, 1>{xs.size()});
        std::size_t i = 0;
        for (const auto v : xs) {
            out(i) = eval(t_, c_, k_, wrapped(static_cast<double>(v), i));
            ++i;
        }
        return out;
    }

    /// The nu-th derivative (0 <= nu <= k) at x.
    double derivative(double x, int nu = 1) const {
        const detail::spline_pieces d = pieces(nu);
        return eval(d.t, d.c, d.k, wrapped(x, scalar_query));
    }
    std::vector<double> derivative(const std::vector<double>& x, int nu = 1) const {
        const detail::spline_pieces d = pieces(nu);
        std::vector<double> out(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) out[i] = eval(d.t, d.c, d.k, wrapped(x[i], i));
        return out;
    }

    /// SciPy's get_knots(): the distinct knots t[k..n-k-1] (boundaries included).
    std::vector<double> knots() const { return std::vector<double>(t_.begin() + k_, t_.end() - k_); }
    /// SciPy's get_coeffs(): the n-k-1 B-spline coefficients.
    const std::vector<double>& coeffs() const noexcept { return c_; }
    /// The full knot vector t (n = coeffs().size() + k + 1 knots), as in splrep's tck.
    const std::vector<double>& full_knots() const noexcept { return t_; }
    int degree() const noexcept { return k_; }
    /// SciPy's get_residual(): fp = sum (w_i (y_i - f(x_i)))^2 over the points given.
    double residual() const noexcept { return fp_; }
    fitpack_status status() const noexcept { return status_; }
    std::string message() const { return fitpack_message(status_); }
    /// False for the statuses SciPy warns about (1, 2, 3): fp does not meet s.
    bool ok() const noexcept { return static_cast<int>(status_) <= 0; }
    bool periodic() const noexcept { return periodic_; }
    /// The period (x_last - x_0 of the fit) of a periodic spline; 0 otherwise.
    double period() const noexcept {
        return periodic_ ? t_[t_.size() - std::size_t(k_) - 1] - t_[std::size_t(k_)] : 0.0;
    }

private:
    detail::spline_pieces pieces(int nu) const {
        if (nu < 0 || nu > k_)
            throw value_error("fitpack_spline: derivative order " + std::to_string(nu) + " is outside 0.." +
                              std::to_string(k_));
        return detail::differentiate(detail::spline_pieces{t_, c_, k_}, nu);
    }
    static constexpr std::size_t scalar_query = static_cast<std::size_t>(-1);
    /// The query as evaluated: NaN and infinities are refused (naming the index i of a vector query);
    /// a periodic spline wraps it as numpy's x0 + (x - x0) % period does, which is how SciPy users
    /// evaluate splrep(per=1) fits.
    double wrapped(double x, std::size_t i) const {
        if (!std::isfinite(x))
            throw value_error("fitpack_spline: query " +
                              (i == scalar_query ? std::string("x") : "x[" + std::to_string(i) + "]") + " = " +
                              std::to_string(x) + " is not finite");
        if (!periodic_) return x;
        const double x0 = t_[std::size_t(k_)];
        const double per = period();
        double r = std::fmod(x - x0, per);
        if (r < 0.0) r += per;
        return x0 + r;
    }
    static double eval(const std::vector<double>& t, const std::vector<double>& c, int k, double x) noexcept {
        return detail::spline_value(t, c, k, x);
    }

    std::vector<double> t_, c_;
    int k_;
    double fp_;
    fitpack_status status_;
    bool periodic_;
};

namespace detail {

inline void warn_fitpack(const std::string& who, fitpack_status st) {
    if (static_cast<int>(st) > 0 && progress_enabled_by_default())
        std::fprintf(stderr, "ferrum: %s: warning: %s\n", who.c_str(), fitpack_message(st).c_str());
}

inline void check_degree_and_s(const std::string& who, int k, double s) {
    if (k < 1 || k > fitpack_max_degree)
        throw value_error(who + ": degree k = " + std::to_string(k) + " must be 1 <= k <= 5");
    if (!(std::isfinite(s) && s >= 0.0))
        throw value_error(who + ": smoothing factor s = " + std::to_string(s) + " must be finite and >= 0");
}

}  // namespace detail

/// \brief FITPACK curfit as scipy.interpolate.UnivariateSpline(x, y, w, bbox=[x0, xn], k, s) runs it:
/// the spline of degree k (1..5) with the fewest knots such that sum (w_i (y_i - f(x_i)))^2 <= s
/// (w = 1/sigma; an empty w means unit weights; s defaults to the number of points, as SciPy's).
/// Unsorted x are sorted; equal x are merged into one point with weight sqrt(sum w_i^2) at the
/// w^2-weighted mean of y, and their scatter about that mean is taken off s and added to residual().
/// The fit stops where SciPy's does (status() and a stderr warning, as SciPy's warning, when s cannot
/// be met). Throws value_error for too few distinct points (<= k), bad k, s < 0, non-finite data or
/// non-positive weights.
inline fitpack_spline univariate_spline(const std::vector<double>& x, const std::vector<double>& y,
                                        const std::vector<double>& w = {}, int k = 3,
                                        std::optional<double> s = std::nullopt) {
    const std::string who = "univariate_spline";
    const double s_user = s.value_or(static_cast<double>(x.size()));
    detail::check_degree_and_s(who, k, s_user);
    const detail::merged_curve d = detail::merge_curve(x, y, w, who);
    const int m = static_cast<int>(d.x.size());
    if (m <= k)
        throw value_error(who + ": " + std::to_string(m) + " distinct x values are too few for degree " +
                          std::to_string(k) + " (need at least k + 1)");
    const double s_fit = std::max(s_user - d.tie_scatter, 0.0);
    const detail::curve_data data{d.x, d.y, d.w, d.x.front(), d.x.back(), k, s_fit};

    // SciPy's fpcurf0 limits the knots to nest = max(m/2, 2k+2) (m + k + 1 for s = 0); when that is
    // too small it resumes with the maximum (UnivariateSpline._reset_nest), which changes the knots
    // added next, so the same two steps are taken here.
    const int nest_max = m + k + 1;
    const int nest0 = s_fit == 0.0 ? nest_max : std::max(m / 2, 2 * (k + 1));
    detail::knot_state st(nest_max);
    detail::fpcurf(data, 0, nest0, st);
    if (st.ier == detail::ier_nest_too_small && nest0 < nest_max) detail::fpcurf(data, 1, nest_max, st);

    const int n = st.n;
    std::vector<double> t(st.t.begin(), st.t.begin() + n);
    std::vector<double> c(st.c.begin(), st.c.begin() + (n - k - 1));
    for (const double v : c)
        if (!std::isfinite(v))
            throw value_error(who +
                              ": the fit is not determined by the data (non-finite coefficients); "
                              "check for too few distinct x between knots");
    const auto status = static_cast<fitpack_status>(st.ier);
    detail::warn_fitpack(who, status);
    return fitpack_spline(std::move(t), std::move(c), k, st.fp + d.tie_scatter, status);
}

/// \brief univariate_spline for other 1-D ranges of numbers (xt::xtensor<double, 1>, std::vector<float>,
/// ...); w may be an empty std::vector<double> (unit weights).
template <class X, class Y, class W>
fitpack_spline univariate_spline(const X& x, const Y& y, const W& w, int k = 3,
                                 std::optional<double> s = std::nullopt) {
    const std::string who = "univariate_spline";
    return univariate_spline(detail::to_doubles(x, who, "x"), detail::to_doubles(y, who, "y"),
                             detail::to_doubles(w, who, "w"), k, s);
}

}  // namespace ferrum
