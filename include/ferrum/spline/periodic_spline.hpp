// FITPACK's periodic smoothing spline, as scipy.interpolate.splrep(x, y, w, per=1, s): percur (Dierckx
// 1993, sec. 6.1, eqs. 6.3 and 6.13) finds the fewest knots with sum (w_i (y_i - f(x_i)))^2 <= s for a
// spline whose value and first k-1 derivatives join up across the period (phase-folded light curves).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/spline/detail/fitpack_input.hpp"
#include "ferrum/spline/detail/fitpack_percur.hpp"
#include "ferrum/spline/univariate_spline.hpp"

namespace ferrum {

/// \brief The periodic smoothing spline of degree k (1..5, default cubic) of phase-folded data, equal
/// to splrep(x, y, w, per=1, s, k). Two input forms give the same spline:
///  - splrep's: the last point lies at x[0] + period (to a few ulps) and only marks the period; its y
///    and w are not used, as in FITPACK (SciPy users pass y[0] and w[0] there);
///  - phases: every x in [x0, x0 + period) (e.g. phases in [0, 1) with period 1); the wrap point
///    x0 + period is added here.
/// Data are sorted and equal x merged as in univariate_spline (weight sqrt(sum w^2), w^2-weighted mean
/// y, scatter taken off s and added to residual()). w empty means unit weights; w = 1/sigma.
/// The result evaluates at any x by wrapping it into [x0, x0 + period). Throws value_error for a
/// non-positive period, data spanning more than one period, fewer than k + 1 distinct phases, bad k,
/// s < 0, non-finite data or non-positive weights.
inline fitpack_spline periodic_spline(const std::vector<double>& x, const std::vector<double>& y,
                                      const std::vector<double>& w, double s, double period, int k = 3) {
    const std::string who = "periodic_spline";
    detail::check_degree_and_s(who, k, s);
    if (!(std::isfinite(period) && period > 0.0))
        throw value_error(who + ": period = " + std::to_string(period) + " must be positive and finite");
    detail::merged_curve d = detail::merge_curve(x, y, w, who);
    const double x0 = d.x.front();
    // The splrep form: the last point is the wrap marker x0 + period. A few ulps of slack accept it
    // however it was rounded (x0 + 1.0 - x0 need not be 1.0), while a real phase even 1e-13 before the
    // end stays a data point; FITPACK then takes the given last x as the end of the period.
    const double span = d.x.back() - x0;
    const double ulps = 8.0 * std::numeric_limits<double>::epsilon() * (std::fabs(x0) + period);
    const bool has_wrap_point = d.x.size() > 1 && std::fabs(span - period) <= ulps;
    if (has_wrap_point) {
        d.x.pop_back();
        d.y.pop_back();
        d.w.pop_back();
    } else if (span > period) {
        throw value_error(who + ": x spans " + std::to_string(span) + " > period " + std::to_string(period) +
                          "; fold the times into phases first (or pass the last point at exactly x[0] + period)");
    }
    const int m1 = static_cast<int>(d.x.size());
    if (m1 <= k)
        throw value_error(who + ": " + std::to_string(m1) + " distinct phases are too few for degree " +
                          std::to_string(k) + " (need at least k + 1)");
    // The wrap point carries the first point's y and w, as splrep's callers pass it (FITPACK ignores them).
    const double x_end = has_wrap_point ? x0 + span : x0 + period;
    d.x.push_back(x_end);
    d.y.push_back(d.y.front());
    d.w.push_back(d.w.front());
    const double s_fit = std::max(s - d.tie_scatter, 0.0);
    const detail::curve_data data{d.x, d.y, d.w, d.x.front(), d.x.back(), k, s_fit};

    // splrep(per=1) gives percur nest = max(m + 2k, 2k + 3): room for interpolation.
    const int m = m1 + 1;
    const int nest = std::max(m + 2 * k, 2 * k + 3);
    detail::knot_state st(nest);
    detail::fpperi(data, nest, st);

    const int n = st.n;
    std::vector<double> t(st.t.begin(), st.t.begin() + n);
    std::vector<double> c(st.c.begin(), st.c.begin() + (n - k - 1));
    for (const double v : c)
        if (!std::isfinite(v))
            throw value_error(who + ": the fit is not determined by the data (non-finite coefficients)");
    const auto status = static_cast<fitpack_status>(st.ier);
    detail::warn_fitpack(who, status);
    return fitpack_spline(std::move(t), std::move(c), k, st.fp + d.tie_scatter, status, true);
}

/// \brief periodic_spline for other 1-D ranges of numbers (xt::xtensor<double, 1>, std::vector<float>,
/// ...); w may be an empty std::vector<double> (unit weights).
template <class X, class Y, class W>
fitpack_spline periodic_spline(const X& x, const Y& y, const W& w, double s, double period, int k = 3) {
    const std::string who = "periodic_spline";
    return periodic_spline(detail::to_doubles(x, who, "x"), detail::to_doubles(y, who, "y"),
                           detail::to_doubles(w, who, "w"), s, period, k);
}

}  // namespace ferrum
