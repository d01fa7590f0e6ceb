// The penalised cubic smoothing spline of scipy.interpolate.make_smoothing_spline (SciPy 1.10), which
// minimises sum_i w_i (y_i - f(x_i))^2 + lam * integral f''(x)^2 dx over natural cubic splines with knots
// at the data, and chooses lam by generalised cross-validation (Craven & Wahba 1979; Woltring 1986):
//     GCV(lam) = (1/n) sum_i (y_i - f(x_i))^2 / (1 - tr A(lam) / n)^2,   A = hat matrix, y_hat = A y.
// Solved in Reinsch's form (Reinsch 1967; Green & Silverman 1994, "Nonparametric Regression and GLMs", ch. 2):
//     (R + lam Q^T W^-1 Q) gamma = Q^T y,   y - f(x) = lam W^-1 Q gamma,   gamma = f'' at the inner knots,
// with Q the (n, n-2) second-divided-difference matrix and R the (n-2)^2 tridiagonal Gram matrix of the
// hat functions, and  I - A = lam W^-1 Q (R + lam Q^T W^-1 Q)^-1 Q^T, so 1 - tr A / n is a trace of a
// banded inverse (Hutchinson & de Hoog 1985, see detail/pentadiagonal.hpp): O(n) per lam.
//
// Why this form and not SciPy's: SciPy solves (X + lam W^-1 E) c = y in the natural B-spline basis and
// forms 1 - tr A / n by subtraction. Both are exact in exact arithmetic and give the same spline and the
// same GCV function, but SciPy's matrices grow like lam / h^3 and its criterion loses digits as lam grows.
// Against 50-digit arithmetic on the 10 reference curves without close pairs, the relative error of the
// criterion is 3e-12 (SciPy) vs 3e-13 (here) at lam = 1e-8 and 1e-1 vs 8e-7 at lam = 1e3. Abscissae much
// closer than the mean spacing cost both about (spacing / gap)^2 in precision (see merge_tolerance).
//
// The lam search (SciPy 1.10 uses minimize_scalar(bounds=(0, n), method='Bounded'), which for lam of
// order 1e-5 is at its absolute tolerance and can stop in a far worse local minimum) works in
// u = log10(lam): a grid of step 0.25 decades over
//     lam_unit * [1e-10, 1e5 (n-1)^4],   lam_unit = mean(w) * ((x_max - x_min) / (n - 1))^3,
// i.e. equivalent kernel bandwidths from 1/300 of the mean spacing to ~18 times the range (the line);
// then Brent's (1973) minimiser on the two grid cells around each of the (up to three) lowest local minima
// of the grid within 1% of the lowest, to 1e-7 decades (GCV of real curves can have two minima 0.2% apart
// within half a decade); and
// lam = 0, where GCV has a finite limit (computed exactly), so that the global minimum over [0, lam_max]
// is found. That limit is GCV's known degenerate end: with close abscissae it can be spuriously small
// (GCV's A_ii ~ tr A / n fails), e.g. 1.9e-6 on the reference curve rrl_c_64 against 4.9e-4 at the
// smooth local minimum SciPy reports, which its absolute xtol keeps it on. Minimising GCV then means
// interpolating; smoothing_spline_options::gamma > 1 (modified GCV) removes that end altogether, and its
// grid is scanned from the top down and stops at the first point past the pole tr A = n / gamma: tr A only
// grows as lam falls, so every lower point is +inf too (about a third of the grid on Gaia-like curves).

#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/spline/detail/pentadiagonal.hpp"

namespace ferrum {

/// \brief How close abscissae are merged, and where and how finely the GCV criterion is searched (in
/// decades of lam; see the header comment).
struct smoothing_spline_options {
    /// Abscissae closer than merge_tolerance * IQR(x) to the first of a group are merged into one point
    /// (weighted means of x and y, summed weight), as R's smooth.spline does with its tol (default 1e-6
    /// IQR(x) there). Exact ties are always merged (0 merges only those). Why merge at all: two points
    /// delta apart put entries ~1/delta^2 into the penalised system, whose Cholesky pivots then lose
    /// (mean spacing / delta)^2 in relative precision; below ~1e-8 of the spread the system is numerically
    /// singular at many lam (SciPy's too: its results there are rounding noise). Between that and ~1e-6
    /// some large lam may still be singular: the lam search skips them and a fit at one throws value_error.
    /// 1e-8 leaves every pair SciPy can resolve unmerged, so GCV stays SciPy's (merging changes n).
    double merge_tolerance = 1e-8;
    double decades_below = 10.0;  ///< lowest grid lam = lam_unit * 10^-decades_below (lam = 0 is tried too)
    double decades_above = 5.0;   ///< highest lam = lam_unit * (n-1)^4 * 10^decades_above
    double grid_step = 0.25;      ///< coarse grid step, decades
    double tolerance = 1e-7;      ///< Brent's absolute tolerance on log10(lam)
    /// 1 (the default) minimises SciPy's GCV. gamma > 1 minimises the modified GCV of Kim & Gu (2004,
    /// JRSS B 66, 337; gamma = 1.4 there): RSS/n / (1 - gamma tr A / n)^2, searched only where
    /// tr A < n / gamma. Plain GCV often has its global minimum at the interpolating end on sparse curves
    /// (about 1 in 5 of the 12-97 point Gaia DR2 curves of Dekany & Grebel 2022); gamma > 1 keeps the fit
    /// away from it. smoothing_spline::criterion() still reports the plain GCV.
    double gamma = 1.0;

    /// SciPy's criterion, plain GCV (gamma 1): make_smoothing_spline's default, SciPy's results.
    static smoothing_spline_options plain_gcv() noexcept { return {}; }
    /// The modified GCV of Kim & Gu (2004), gamma 1.4 there: the default of preprocess_curve and of the RR
    /// Lyrae models' inputs, which fit sparse, noisy curves (docs/splines.md, "Which criterion where").
    static smoothing_spline_options modified_gcv(double gamma = 1.4) noexcept {
        smoothing_spline_options o;
        o.gamma = gamma;
        return o;
    }
};

namespace detail {

template <class C, class = void>
struct is_real_range : std::false_type {};
template <class C>
struct is_real_range<
    C, std::void_t<decltype(std::begin(std::declval<const C&>())), decltype(std::end(std::declval<const C&>()))>>
    : std::is_arithmetic<std::decay_t<decltype(*std::begin(std::declval<const C&>()))>> {};

/// A std::vector<double> seen without a copy, any other 1-D range of numbers (xtensor arrays and
/// expressions, std::array, std::vector<float>) copied once.
class doubles_view {
public:
    template <class C>
    explicit doubles_view(const C& c) {
        static_assert(is_real_range<C>::value,
                      "ferrum smoothing spline: x, y, w and query points must be 1-D ranges of numbers "
                      "(std::vector<double>, xt::xtensor<double, 1>, std::array, ...)");
        if constexpr (std::is_same_v<C, std::vector<double>>) ref_ = &c;
        else owned_.assign(std::begin(c), std::end(c));
    }
    const std::vector<double>& get() const noexcept { return ref_ ? *ref_ : owned_; }

private:
    const std::vector<double>* ref_ = nullptr;
    std::vector<double> owned_;
};

}  // namespace detail

template <class Real>
class basic_smoothing_spline_fitter;

/// \brief A fitted natural cubic smoothing spline. Evaluating at m sorted points costs O(n + m); points
/// outside [x_min, x_max] are extrapolated with the end cubic pieces, as SciPy's BSpline does.
class smoothing_spline {
public:
    static constexpr int degree = 3;

    /// Value at one point. \throws value_error if `x` is not finite.
    double operator()(double x) const {
        check_fitted();
        if (!std::isfinite(x))
            throw value_error("smoothing_spline: query point " + std::to_string(x) + " is not finite");
        const auto it = std::upper_bound(x_.begin() + 1, x_.end() - 1, x);
        return piece_value(static_cast<std::size_t>(it - x_.begin()) - 1, x);
    }

    /// Values at many points (any order; one forward walk when they are sorted ascending).
    /// \throws value_error naming the index of a query point that is not finite.
    std::vector<double> operator()(const std::vector<double>& xq) const {
        std::vector<double> out(xq.size());
        evaluate(xq.data(), xq.size(), out.data());
        return out;
    }

    /// Values at the points of a 1-D xtensor expression (returned as xt::xtensor<double, 1>) or of another
    /// 1-D range of numbers (returned as std::vector<double>).
    template <class C, class = std::enable_if_t<!std::is_arithmetic_v<C> && !std::is_same_v<C, std::vector<double>>>>
    auto operator()(const C& xq) const {
        const detail::doubles_view v(xq);
        if constexpr (xt::is_xexpression<C>::value) {
            xt::xtensor<double, 1> out = xt::empty<double>({v.get().size()});
            evaluate(v.get().data(), v.get().size(), out.data());
            return out;
        } else {
            return (*this)(v.get());
        }
    }

    /// The smoothing parameter used (chosen by GCV or given).
    double lam() const noexcept { return lam_; }
    /// GCV(lam) at the lam used, as gcv_criterion computes it (also for a given lam).
    double criterion() const noexcept { return criterion_; }
    /// Effective degrees of freedom tr A(lam): n (distinct points) when interpolating, 2 for the line.
    double degrees_of_freedom() const noexcept { return dof_; }
    /// The distinct, sorted abscissae: the breakpoints of the spline.
    const std::vector<double>& breakpoints() const noexcept { return x_; }
    /// f at the breakpoints (the smoothed data).
    std::vector<double> fitted_values() const {
        std::vector<double> f(x_.size());
        for (std::size_t i = 0; i + 1 < x_.size(); ++i) f[i] = pp_[4 * i];
        f.back() = piece_value(x_.size() - 2, x_.back());
        return f;
    }

    /// B-spline knots in SciPy's layout: x_0 three extra times, the breakpoints, x_{n-1} three extra times
    /// (n + 6 knots), so that BSpline(knots(), coefficients(), 3) reproduces this spline.
    std::vector<double> knots() const {
        std::vector<double> t;
        t.reserve(x_.size() + 6);
        t.insert(t.end(), 3, x_.front());
        t.insert(t.end(), x_.begin(), x_.end());
        t.insert(t.end(), 3, x_.back());
        return t;
    }

    /// The n + 2 B-spline coefficients on knots(). Each is the blossom (polar form) of the cubic piece on
    /// an interval of the B-spline's support, evaluated at the three inner knots of that B-spline
    /// (Ramshaw 1989; the de Boor-Fix dual functional): exact, no linear system.
    std::vector<double> coefficients() const {
        const std::vector<double> t = knots();
        const std::size_t n = x_.size();
        std::vector<double> c(n + 2);
        for (std::size_t j = 0; j < n + 2; ++j) {
            const std::size_t p = std::min(j == 0 ? std::size_t(0) : j - 1, n - 2);
            const double* a = &pp_[4 * p];
            const double u1 = t[j + 1] - x_[p], u2 = t[j + 2] - x_[p], u3 = t[j + 3] - x_[p];
            c[j] = a[0] + a[1] * (u1 + u2 + u3) / 3.0 + a[2] * (u1 * u2 + u1 * u3 + u2 * u3) / 3.0 +
                   a[3] * u1 * u2 * u3;
        }
        return c;
    }

private:
    template <class Real>
    friend class basic_smoothing_spline_fitter;

    double piece_value(std::size_t i, double x) const noexcept {
        const double* a = &pp_[4 * i];
        const double dx = x - x_[i];
        return a[0] + dx * (a[1] + dx * (a[2] + dx * a[3]));
    }

    void check_fitted() const {
        if (x_.size() < 2) throw value_error("smoothing_spline: evaluated before it was fitted");
    }

    void evaluate(const double* xq, std::size_t m, double* out) const {
        check_fitted();
        const std::size_t last = x_.size() - 2;  // index of the last piece
        std::size_t i = 0;
        double prev = -std::numeric_limits<double>::infinity();
        for (std::size_t k = 0; k < m; ++k) {
            const double q = xq[k];
            if (!std::isfinite(q))
                throw value_error("smoothing_spline: query point [" + std::to_string(k) + "] = " + std::to_string(q) +
                                  " is not finite");
            if (q < prev) {  // unsorted: restart the walk from a binary search
                i = static_cast<std::size_t>(std::upper_bound(x_.begin() + 1, x_.end() - 1, q) - x_.begin()) - 1;
            } else {
                while (i < last && q >= x_[i + 1]) ++i;
            }
            prev = q;
            out[k] = piece_value(i, q);
        }
    }

    std::vector<double> x_;   // breakpoints
    std::vector<double> pp_;  // per piece i: f, f', f''/2, f'''/6 at x_[i]
    double lam_ = 0.0;
    double criterion_ = 0.0;
    double dof_ = 0.0;
};

/// \brief Fits smoothing splines and evaluates the GCV criterion, keeping its work arrays between calls so
/// that fitting many light curves allocates nothing in the lam search. Not thread-safe: use one per
/// thread. `Real` is the arithmetic of the solve (double; long double for a higher-precision check).
template <class Real = double>
class basic_smoothing_spline_fitter {
    static_assert(std::is_floating_point_v<Real>,
                  "basic_smoothing_spline_fitter<Real>: Real must be float, double or long double");

public:
    /// The fewest distinct abscissae accepted, as in SciPy (its natural-spline basis needs 5).
    static constexpr std::size_t min_points = 5;

    explicit basic_smoothing_spline_fitter(smoothing_spline_options options = {}) : options_(options) {
        if (!(options.grid_step > 0) || !(options.tolerance > 0) || !std::isfinite(options.decades_below) ||
            !std::isfinite(options.decades_above) || !(options.gamma >= 1) || !std::isfinite(options.gamma) ||
            !(options.merge_tolerance >= 0) || !std::isfinite(options.merge_tolerance))
            throw value_error(
                "smoothing_spline_options: grid_step and tolerance must be positive, the ranges finite, "
                "gamma >= 1 and merge_tolerance >= 0");
    }

    const smoothing_spline_options& options() const noexcept { return options_; }

    /// Spline with lam chosen by GCV. `w` may be empty (all weights 1).
    template <class X, class Y, class W>
    smoothing_spline fit(const X& x, const Y& y, const W& w) {
        prepare(x, y, w);
        return build(search());
    }
    template <class X, class Y>
    smoothing_spline fit(const X& x, const Y& y) {
        return fit(x, y, std::vector<double>{});
    }

    /// Spline for a given lam >= 0 (lam = 0 interpolates). `w` may be empty (all weights 1).
    template <class X, class Y, class W>
    smoothing_spline fit(const X& x, const Y& y, const W& w, double lam) {
        check_lam(lam);
        prepare(x, y, w);
        return build(lam);
    }

    /// GCV(lam) of the data, the quantity SciPy's _gcv computes: (1/n) sum (y - f)^2 (unweighted) over
    /// (1 - tr A / n)^2. At lam = 0 it is the limit lam -> 0+ (both parts vanish; their ratio does not).
    template <class X, class Y, class W>
    Real criterion(const X& x, const Y& y, const W& w, double lam) {
        check_lam(lam);
        prepare(x, y, w);
        return evaluate_or_throw(lam);
    }

    /// Effective degrees of freedom tr A(lam) of the fit (n for lam = 0, -> 2 as lam -> infinity).
    template <class X, class Y, class W>
    Real degrees_of_freedom(const X& x, const Y& y, const W& w, double lam) {
        check_lam(lam);
        prepare(x, y, w);
        evaluate_or_throw(lam);
        return dof();
    }

    /// The grid interval [lam_min, lam_max] of the GCV search for these data; lam = 0 is tried as well.
    template <class X, class Y, class W>
    std::pair<double, double> search_range(const X& x, const Y& y, const W& w) {
        prepare(x, y, w);
        const auto [lo, hi] = log_range();
        return {std::pow(10.0, lo), std::pow(10.0, hi)};
    }

    /// The lam GCV chooses for the data (the lam of fit(x, y, w)).
    template <class X, class Y, class W>
    double gcv_lam(const X& x, const Y& y, const W& w) {
        prepare(x, y, w);
        return search();
    }

private:
    static void check_lam(double lam) {
        if (!(lam >= 0) || !std::isfinite(lam))
            throw value_error("make_smoothing_spline: lam must be finite and >= 0, got " + std::to_string(lam));
    }

    template <class X, class Y, class W>
    void prepare(const X& x, const Y& y, const W& w) {
        prepare_doubles(detail::doubles_view(x).get(), detail::doubles_view(y).get(), detail::doubles_view(w).get());
    }

    // Validates, sorts and merges ties into xs_, ys_, vs_ (= 1/w), then builds the lam-independent bands.
    void prepare_doubles(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w) {
        const std::size_t n_in = x.size();
        if (y.size() != n_in || (!w.empty() && w.size() != n_in))
            throw value_error("make_smoothing_spline: x, y and w must have the same size (got " + std::to_string(n_in) +
                              ", " + std::to_string(y.size()) + ", " + std::to_string(w.size()) + ")");
        bool sorted = true;
        for (std::size_t i = 0; i < n_in; ++i) {
            if (!std::isfinite(x[i])) throw value_error(bad("x", i, x[i], "is not finite"));
            if (!std::isfinite(y[i])) throw value_error(bad("y", i, y[i], "is not finite"));
            if (!w.empty() && !(w[i] > 0 && std::isfinite(w[i])))
                throw value_error(bad("w", i, w[i], "must be finite and > 0"));
            if (i > 0 && !(x[i] > x[i - 1])) sorted = false;
        }
        if (!sorted) {
            order_.resize(n_in);
            std::iota(order_.begin(), order_.end(), std::size_t(0));
            std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
        }
        const auto at = [&](std::size_t k) { return sorted ? k : order_[k]; };  // k-th smallest x
        const double tol = n_in == 0 ? 0.0 : options_.merge_tolerance * (x[at(3 * n_in / 4)] - x[at(n_in / 4)]);
        xs_.clear();
        ys_.clear();
        ws_.clear();
        // Points within tol of the first of a group become one point at the weighted mean abscissa with the
        // summed weight and the weighted mean ordinate. For exact ties this leaves the minimiser unchanged:
        // sum_k w_k (y_k - f)^2 = W (ybar - f)^2 + sum_k w_k (y_k - ybar)^2, the last term free of f.
        for (std::size_t k = 0; k < n_in;) {
            const std::size_t i0 = at(k);
            std::size_t k1 = k + 1;
            while (k1 < n_in && x[at(k1)] - x[i0] <= tol) ++k1;
            if (k1 == k + 1) {
                xs_.push_back(static_cast<Real>(x[i0]));
                ys_.push_back(static_cast<Real>(y[i0]));
                ws_.push_back(w.empty() ? Real(1) : Real(w[i0]));
            } else {
                Real sw = 0, swx = 0, swy = 0;
                for (std::size_t j = k; j < k1; ++j) {
                    const std::size_t i = at(j);
                    const Real wi = w.empty() ? Real(1) : Real(w[i]);
                    sw += wi;
                    swx += wi * (Real(x[i]) - Real(x[i0]));
                    swy += wi * Real(y[i]);
                }
                xs_.push_back(std::clamp(Real(x[i0]) + swx / sw, Real(x[i0]), Real(x[at(k1 - 1)])));
                ys_.push_back(swy / sw);
                ws_.push_back(sw);
            }
            k = k1;
        }
        const std::size_t n = xs_.size();
        if (n < min_points)
            throw value_error("make_smoothing_spline: " + std::to_string(n) + " distinct x values, at least " +
                              std::to_string(min_points) + " are needed");
        build_bands();
    }

    static std::string bad(const char* name, std::size_t i, double v, const char* what) {
        return std::string("make_smoothing_spline: ") + name + "[" + std::to_string(i) + "] = " + std::to_string(v) +
               " " + what;
    }

    // Q^T y, R and S = Q^T W^-1 Q for the merged data. Column j of Q (inner knot j+1) has q0 = 1/h_j,
    // q1 = -1/h_j - 1/h_{j+1}, q2 = 1/h_{j+1} in rows j, j+1, j+2 (Green & Silverman ch. 2).
    void build_bands() {
        const std::size_t n = xs_.size(), m = n - 2;
        ih_.resize(n - 1);
        for (std::size_t i = 0; i + 1 < n; ++i) ih_[i] = Real(1) / (xs_[i + 1] - xs_[i]);
        vs_.resize(n);
        for (std::size_t i = 0; i < n; ++i) vs_[i] = Real(1) / ws_[i];
        for (auto* b : {&qty_, &r0_, &r1_, &s0_, &s1_, &s2_, &gam_}) b->resize(m);
        for (std::size_t j = 0; j < m; ++j) {
            const Real ha = xs_[j + 1] - xs_[j], hb = xs_[j + 2] - xs_[j + 1];
            const Real q0 = ih_[j], q2 = ih_[j + 1], q1 = -(q0 + q2);
            // difference of slopes: no cancellation against the mean level of y
            qty_[j] = (ys_[j + 2] - ys_[j + 1]) * q2 - (ys_[j + 1] - ys_[j]) * q0;
            r0_[j] = (ha + hb) / 3;
            r1_[j] = j + 1 < m ? hb / 6 : Real(0);
            s0_[j] = q0 * q0 * vs_[j] + q1 * q1 * vs_[j + 1] + q2 * q2 * vs_[j + 2];
            if (j + 1 < m) {
                const Real p0 = ih_[j + 1], p2 = ih_[j + 2], p1 = -(p0 + p2);  // column j+1
                s1_[j] = q1 * p0 * vs_[j + 1] + q2 * p1 * vs_[j + 2];
            } else {
                s1_[j] = 0;
            }
            s2_[j] = j + 2 < m ? q2 * ih_[j + 2] * vs_[j + 2] : Real(0);
        }
    }

    // Solves the Reinsch system for lam and returns GCV(lam); leaves gam_ = gamma scaled by 1/alpha_ and
    // beta_ such that y - f(x) = beta_ W^-1 Q gam_. For lam > 1 the system is divided by lam, so that
    // huge lam approaches the least-squares line instead of overflowing; GCV does not depend on the scale.
    Real evaluate(double lam_d) {
        if (!factor_and_trace(lam_d)) return std::numeric_limits<Real>::infinity();
        return criterion_of_factor();
    }

    // The half of evaluate() that the degrees of freedom need, with the solve riding along (it costs little
    // beside the factorisation's division chain): factorises alpha R + beta S, solves it for gam_ and sets
    // trace_ = tr((alpha R + beta S)^-1 S). False (singular_) when the system is numerically singular.
    bool factor_and_trace(double lam_d) {
        const Real lam = Real(lam_d);
        const bool large = lam > 1;
        alpha_ = large ? Real(1) / lam : Real(1);
        beta_ = large ? Real(1) : lam;
        const std::size_t m = xs_.size() - 2;
        singular_ = !ldlt_.factorize(alpha_, r0_.data(), r1_.data(), beta_, s0_.data(), s1_.data(), s2_.data(), m,
                                     qty_.data(), gam_.data());
        if (singular_) return false;
        // 1 - tr A / n = beta tr((alpha R + beta S)^-1 S) / n; beta cancels against the numerator's beta^2.
        trace_ = ldlt_.back_substitute_and_trace(gam_.data(), s0_.data(), s1_.data(), s2_.data(), m);
        return true;
    }

    // The other half: rss_ = ||W^-1 Q gam||^2, and GCV.
    Real criterion_of_factor() {
        rss_ = residual_sum_of_squares(gam_.data());
        return Real(xs_.size()) * rss_ / (trace_ * trace_);
    }

    // ||W^-1 Q g||^2, with the rows of Q that meet all three columns (2 <= i < n - 2) unbranched.
    Real residual_sum_of_squares(const Real* g) const noexcept {
        const std::size_t n = xs_.size();
        Real rss = 0;
        for (std::size_t i = 0; i < n; ++i) {
            Real qg;
            if (i >= 2 && i + 2 < n) {
                qg = ih_[i] * g[i];
                qg -= (ih_[i - 1] + ih_[i]) * g[i - 1];
                qg += ih_[i - 1] * g[i - 2];
            } else {
                qg = q_gamma(i, g);
            }
            const Real e = vs_[i] * qg;
            rss += e * e;
        }
        return rss;
    }

    // (Q gam_)_i: row i of Q meets columns i-2, i-1 and i.
    Real q_gamma(std::size_t i) const noexcept { return q_gamma(i, gam_.data()); }
    Real q_gamma(std::size_t i, const Real* g) const noexcept {
        const std::size_t m = gam_.size();
        Real qg = 0;
        if (i < m) qg += ih_[i] * g[i];
        if (i >= 1 && i - 1 < m) qg -= (ih_[i - 1] + ih_[i]) * g[i - 1];
        if (i >= 2) qg += ih_[i - 1] * g[i - 2];
        return qg;
    }

    // evaluate() for a lam the caller asked for: a numerically singular system is an error there.
    Real evaluate_or_throw(double lam) {
        const Real v = evaluate(lam);
        if (singular_)
            throw value_error(
                "make_smoothing_spline: the smoothing system is numerically singular at lam = " + std::to_string(lam) +
                ": abscissae too close together for this lam in double precision "
                "(merge them with smoothing_spline_options::merge_tolerance, e.g. 1e-6)");
        return v;
    }

    // tr A of the last evaluate(): n - tr(I - A), tr(I - A) = beta trace_.
    Real dof() const noexcept { return Real(xs_.size()) - beta_ * trace_; }

    // What the lam search minimises: GCV, or for gamma > 1 the modified GCV (+inf past its pole, where
    // past_pole_ is set and the residuals are not summed: the value needs only the trace there).
    Real objective(double lam) {
        if (!factor_and_trace(lam)) {
            past_pole_ = false;
            return std::numeric_limits<Real>::infinity();
        }
        return objective_of(beta_, trace_, gam_.data(), past_pole_);
    }

    // objective() at two lam at once (the grid's neighbours): the two systems' recurrences interleave
    // (detail::factorize_lanes), each with the arithmetic objective() gives it. Afterwards gam_ and ldlt_
    // hold the first lam's solve but alpha_, beta_, trace_ are stale: only the search calls it, and build()
    // and the public queries evaluate their own lam first.
    std::pair<Real, Real> objective_pair(double lam_a, double lam_b, bool& pole_a, bool& pole_b) {
        const std::size_t m = xs_.size() - 2;
        Real alpha[2], beta[2], trace[2];
        const double lams[2] = {lam_a, lam_b};
        for (int l = 0; l < 2; ++l) {
            const Real lam = Real(lams[l]);
            const bool large = lam > 1;
            alpha[l] = large ? Real(1) / lam : Real(1);
            beta[l] = large ? Real(1) : lam;
        }
        gam2_.resize(m);
        detail::pentadiagonal_ldlt<Real>* f[2] = {&ldlt_, &ldlt2_};
        Real* x[2] = {gam_.data(), gam2_.data()};
        bool ok[2];
        detail::factorize_lanes<2>(f, alpha, beta, r0_.data(), r1_.data(), s0_.data(), s1_.data(), s2_.data(), m,
                                   qty_.data(), x, ok);
        const detail::pentadiagonal_ldlt<Real>* fc[2] = {&ldlt_, &ldlt2_};
        detail::back_substitute_and_trace_lanes<2>(fc, x, s0_.data(), s1_.data(), s2_.data(), m, trace);
        pole_a = pole_b = false;
        const Real inf = std::numeric_limits<Real>::infinity();
        return {ok[0] ? objective_of(beta[0], trace[0], x[0], pole_a) : inf,
                ok[1] ? objective_of(beta[1], trace[1], x[1], pole_b) : inf};
    }

    // The objective of a solved system: its beta, trace tr((alpha R + beta S)^-1 S) and solution g.
    Real objective_of(Real beta, Real trace, const Real* g, bool& past_pole) const {
        past_pole = false;
        const Real n = Real(xs_.size());
        if (options_.gamma == 1.0) return n * residual_sum_of_squares(g) / (trace * trace);
        const Real denom = 1 - Real(options_.gamma) * (n - beta * trace) / n;
        if (!(denom > 0)) {
            past_pole = true;
            return std::numeric_limits<Real>::infinity();
        }
        return beta * beta * residual_sum_of_squares(g) / n / (denom * denom);
    }

    // [log10 lam_min, log10 lam_max] of the search for the prepared data (see the header comment).
    std::pair<double, double> log_range() const {
        const std::size_t n = xs_.size();
        Real wsum = 0;
        for (const Real w : ws_) wsum += w;
        const double hbar = double(xs_.back() - xs_.front()) / double(n - 1);
        const double u_unit = std::log10(double(wsum) / double(n)) + 3.0 * std::log10(hbar);
        return {u_unit - options_.decades_below, u_unit + 4.0 * std::log10(double(n - 1)) + options_.decades_above};
    }

    // Grid in log10(lam), then Brent's localmin on the cells either side of the best grid point.
    double search() {
        const std::size_t n = xs_.size();
        const auto [lo, hi] = log_range();
        const std::size_t steps = static_cast<std::size_t>(std::ceil((hi - lo) / options_.grid_step));
        const double step = (hi - lo) / double(steps);
        auto f = [&](double u) { return objective(std::pow(10.0, u)); };
        // From the top down: tr A grows monotonically as lam falls (tr A = sum_k 1 / (1 + lam d_k), d_k >= 0,
        // Green & Silverman sect. 3.2), so once a grid point is past the pole tr A = n / gamma of the modified
        // GCV, every lower one is too (+inf): they are not evaluated. This is most of the decades below the
        // interpolating end; plain GCV (gamma = 1) has no pole and evaluates them all.
        grid_.assign(steps + 1, std::numeric_limits<Real>::infinity());
        Real fbest = std::numeric_limits<Real>::infinity();
        // Two grid points per sweep (objective_pair); a pair's lower point is past the pole if the upper one is.
        for (std::size_t k = steps + 1; k-- > 0;) {
            bool pole_hi = false, pole_lo = false;
            if (k == 0) {
                grid_[k] = f(lo);
                pole_hi = past_pole_;
            } else {
                const auto v = objective_pair(std::pow(10.0, lo + step * double(k)),
                                              std::pow(10.0, lo + step * double(k - 1)), pole_hi, pole_lo);
                grid_[k] = v.first;
                if (!pole_hi) grid_[k - 1] = v.second;
            }
            fbest = std::min(fbest, grid_[k]);
            if (pole_hi) break;
            if (k == 0) break;
            --k;
            fbest = std::min(fbest, grid_[k]);
            if (pole_lo) break;
        }
        if (!(fbest < std::numeric_limits<Real>::infinity()))
            throw value_error("make_smoothing_spline: no lam in the search range gives a usable criterion for these " +
                              std::to_string(n) + " points (gamma = " + std::to_string(options_.gamma) +
                              " needs tr A < n / gamma; or abscissae too close together)");
        // Refine the lowest few local minima of the grid, not only the lowest point: a basin 1% deep
        // can sit between two grid points that are both above a flat stretch elsewhere (seen on real curves).
        local_.clear();
        for (std::size_t k = 0; k <= steps; ++k)
            if ((k == 0 || grid_[k] <= grid_[k - 1]) && (k == steps || grid_[k] <= grid_[k + 1]) &&
                grid_[k] < std::numeric_limits<Real>::infinity())
                local_.push_back(k);
        std::size_t refine = std::min<std::size_t>(local_.size(), 3);
        std::partial_sort(local_.begin(), local_.begin() + std::ptrdiff_t(refine), local_.end(),
                          [&](std::size_t i, std::size_t j) { return grid_[i] < grid_[j]; });
        // a basin whose grid value is 1% above the best cannot win: Brent gains ~0.01% within a cell
        while (refine > 1 && grid_[local_[refine - 1]] > fbest * Real(1.01)) --refine;
        double u_best = lo + step * double(local_[0]);
        Real f_best = grid_[local_[0]];
        for (std::size_t r = 0; r < refine; ++r) {
            const std::size_t k = local_[r];
            const double a = lo + step * double(k == 0 ? 0 : k - 1);
            const double b = lo + step * double(k == steps ? steps : k + 1);
            const auto [u, fu] = brent_localmin(f, a, b, lo + step * double(k), grid_[k], options_.tolerance);
            if (fu < f_best) {
                f_best = fu;
                u_best = u;
            }
        }
        // GCV's infimum may be its interpolating limit; the modified GCV is +inf there (tr A = n > n / gamma)
        if (options_.gamma == 1.0 && objective(0.0) < f_best) return 0.0;
        return std::pow(10.0, u_best);
    }

    // Brent (1973), "Algorithms for Minimization without Derivatives", ch. 5 (procedure localmin):
    // golden section with parabolic steps, started at x0 in [a, b] with f(x0) = f0 known.
    template <class F>
    static std::pair<double, Real> brent_localmin(F&& f, double a, double b, double x0, Real f0, double tol) {
        const double golden = 0.5 * (3.0 - std::sqrt(5.0));
        double x = x0, w = x0, v = x0, d = 0.0, e = 0.0;
        Real fx = f0, fw = f0, fv = f0;
        for (int iter = 0; iter < 200; ++iter) {
            const double mid = 0.5 * (a + b);
            const double tol1 = tol, tol2 = 2.0 * tol1;
            if (std::abs(x - mid) <= tol2 - 0.5 * (b - a)) break;
            double p = 0.0, q = 0.0, r = 0.0;
            if (std::abs(e) > tol1) {
                r = (x - w) * double(fx - fv);
                q = (x - v) * double(fx - fw);
                p = (x - v) * q - (x - w) * r;
                q = 2.0 * (q - r);
                if (q > 0.0) p = -p;
                else q = -q;
                r = e;
                e = d;
            }
            if (std::abs(p) < std::abs(0.5 * q * r) && p > q * (a - x) && p < q * (b - x)) {
                d = p / q;
                const double u = x + d;
                if (u - a < tol2 || b - u < tol2) d = x < mid ? tol1 : -tol1;
            } else {
                e = (x < mid ? b : a) - x;
                d = golden * e;
            }
            const double u = x + (std::abs(d) >= tol1 ? d : (d > 0 ? tol1 : -tol1));
            const Real fu = f(u);
            if (fu <= fx) {
                (u < x ? b : a) = x;
                v = w;
                fv = fw;
                w = x;
                fw = fx;
                x = u;
                fx = fu;
            } else {
                (u < x ? a : b) = u;
                if (fu <= fw || w == x) {
                    v = w;
                    fv = fw;
                    w = u;
                    fw = fu;
                } else if (fu <= fv || v == x || v == w) {
                    v = u;
                    fv = fu;
                }
            }
        }
        return {x, fx};
    }

    // The spline for lam on the prepared data, in piecewise-polynomial form.
    smoothing_spline build(double lam) {
        smoothing_spline s;
        s.lam_ = lam;
        s.criterion_ = double(evaluate_or_throw(lam));
        s.dof_ = double(dof());
        const std::size_t n = xs_.size();
        // f(x_i) = y_i - beta W^-1 (Q gam)_i; f''(x_i) = alpha gam_{i-1} inside, 0 at the ends (natural).
        fv_.resize(n);
        f2_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            fv_[i] = ys_[i] - beta_ * vs_[i] * q_gamma(i);
            f2_[i] = (i == 0 || i == n - 1) ? Real(0) : alpha_ * gam_[i - 1];
        }
        s.x_.assign(xs_.begin(), xs_.end());
        s.pp_.resize(4 * (n - 1));
        for (std::size_t i = 0; i + 1 < n; ++i) {
            const Real h = xs_[i + 1] - xs_[i];
            s.pp_[4 * i + 0] = double(fv_[i]);
            s.pp_[4 * i + 1] = double((fv_[i + 1] - fv_[i]) * ih_[i] - h * (2 * f2_[i] + f2_[i + 1]) / 6);
            s.pp_[4 * i + 2] = double(f2_[i] / 2);
            s.pp_[4 * i + 3] = double((f2_[i + 1] - f2_[i]) * ih_[i] / 6);
        }
        return s;
    }

    smoothing_spline_options options_;
    std::vector<std::size_t> order_, local_;
    std::vector<Real> grid_;
    std::vector<Real> xs_, ys_, ws_, vs_, ih_;
    std::vector<Real> qty_, r0_, r1_, s0_, s1_, s2_, gam_, fv_, f2_;
    detail::pentadiagonal_ldlt<Real> ldlt_, ldlt2_;  // the second for objective_pair
    std::vector<Real> gam2_;
    Real alpha_ = 1, beta_ = 0, rss_ = 0, trace_ = 1;
    bool singular_ = false;
    bool past_pole_ = false;  // the last objective() was past the modified GCV's pole
};

using smoothing_spline_fitter = basic_smoothing_spline_fitter<double>;

/// \brief scipy.interpolate.make_smoothing_spline(x, y): lam chosen by plain GCV, SciPy's criterion (a better
/// search than SciPy's, see the header comment). Unsorted x is sorted; tied x are merged. On sparse, noisy
/// curves plain GCV often nearly interpolates: preprocess_curve uses the modified GCV instead (pass
/// smoothing_spline_options::modified_gcv() to the overload with options). \throws value_error on bad input.
template <class X, class Y>
smoothing_spline make_smoothing_spline(const X& x, const Y& y) {
    return smoothing_spline_fitter().fit(x, y);
}
/// \brief make_smoothing_spline(x, y, w): weights w > 0 (not squared; w = 1/sigma^2 for errors sigma).
template <class X, class Y, class W>
smoothing_spline make_smoothing_spline(const X& x, const Y& y, const W& w) {
    return smoothing_spline_fitter().fit(x, y, w);
}
/// \brief make_smoothing_spline(x, y, w) with the criterion and search of `options` (e.g.
/// smoothing_spline_options::modified_gcv() or plain_gcv()); `w` may be empty (all ones).
template <class X, class Y, class W>
smoothing_spline make_smoothing_spline(const X& x, const Y& y, const W& w, const smoothing_spline_options& options) {
    return smoothing_spline_fitter(options).fit(x, y, w);
}
/// \brief make_smoothing_spline(x, y, w, lam) for a given lam >= 0; `w` may be empty (all ones).
template <class X, class Y, class W>
smoothing_spline make_smoothing_spline(const X& x, const Y& y, const W& w, double lam) {
    return smoothing_spline_fitter().fit(x, y, w, lam);
}

/// \brief The GCV criterion of SciPy's _gcv at lam (unweighted mean squared residual over
/// (1 - tr A / n)^2); `w` may be empty (all ones).
template <class X, class Y, class W>
double gcv_criterion(const X& x, const Y& y, const W& w, double lam) {
    return smoothing_spline_fitter().criterion(x, y, w, lam);
}

}  // namespace ferrum
