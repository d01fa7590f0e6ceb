// B-spline evaluation for the FITPACK splines: the k+1 non-zero B-splines at a point by the stable
// recurrence of de Boor and Cox (de Boor 1972; Dierckx 1993, "Curve and Surface Fitting with Splines",
// eqs. 1.22-1.23, FITPACK fpbspl), the spline value (splev) and its derivatives (splder, eq. 1.25).
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "ferrum/spline/detail/fitpack_index.hpp"

namespace ferrum::detail {

/// Degrees FITPACK supports (1..5); arrays of the basis are sized for the largest.
inline constexpr int fitpack_max_degree = 5;
using basis_values = std::array<double, fitpack_max_degree + 1>;

/// The k+1 B-splines of degree k that are non-zero on t[l] <= x < t[l+1] (0-based l, k <= l):
/// h[i] = B_{l-k+i}(x). A zero-length sub-interval contributes weight 0 (coincident knots), as in
/// SciPy's fpbspl, instead of dividing by zero.
inline basis_values bspline_basis(const double* t, int k, double x, int l) noexcept {
    basis_values h{};
    basis_values hh{};
    h[0] = 1.0;
    for (int j = 1; j <= k; ++j) {
        for (int i = 0; i < j; ++i) hh[ix(i)] = h[ix(i)];
        h[0] = 0.0;
        for (int i = 1; i <= j; ++i) {
            const double tli = t[l + i];
            const double tlj = t[l + i - j];
            if (tli != tlj) {
                const double f = hh[ix(i - 1)] / (tli - tlj);
                h[ix(i - 1)] += f * (tli - x);
                h[ix(i)] = f * (x - tlj);
            } else {
                h[ix(i)] = 0.0;
            }
        }
    }
    return h;
}

/// 0-based l with t[l] <= x < t[l+1], clamped to the base interval [t[k], t[n-k-1]] so that points
/// outside it use the end polynomial pieces (FITPACK splev with e=0: extrapolation).
inline int knot_interval(const std::vector<double>& t, int k, double x) noexcept {
    const int n = static_cast<int>(t.size());
    int lo = k, hi = n - k - 2;
    if (x < t[ix(lo + 1)]) return lo;
    if (x >= t[ix(hi)]) return hi;
    // Bisection keeping t[lo] <= x < t[hi]; with coincident knots it ends at the last t[l] <= x, as
    // FITPACK's linear search does.
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (x >= t[ix(mid)]) lo = mid;
        else hi = mid;
    }
    return lo;
}

/// Value at x of the spline of degree k with knots t and coefficients c (c.size() >= n-k-1).
inline double spline_value(const std::vector<double>& t, const std::vector<double>& c, int k, double x) noexcept {
    const int l = knot_interval(t, k, x);
    const basis_values h = bspline_basis(t.data(), k, x, l);
    double sp = 0.0;
    for (int j = 0; j <= k; ++j) sp += c[ix(l - k + j)] * h[ix(j)];
    return sp;
}

/// The knots and coefficients of the nu-th derivative (degree k-nu): repeated differencing
/// c'_i = k (c_{i+1} - c_i) / (t_{i+k+1} - t_{i+1}) on the knots t[1..n-2] (Dierckx eq. 1.25, SciPy
/// splder). A zero knot span (only possible at coincident knots) contributes 0.
struct spline_pieces {
    std::vector<double> t;
    std::vector<double> c;
    int k;
};

inline spline_pieces differentiate(spline_pieces s, int nu) {
    for (int d = 0; d < nu; ++d) {
        const int n = static_cast<int>(s.t.size());
        const int k = s.k;
        const int nc = n - k - 1;
        std::vector<double> c(static_cast<std::size_t>(nc - 1));
        for (int i = 0; i + 1 < nc; ++i) {
            const double dt = s.t[ix(i + k + 1)] - s.t[ix(i + 1)];
            c[ix(i)] = dt != 0.0 ? k * (s.c[ix(i + 1)] - s.c[ix(i)]) / dt : 0.0;
        }
        s.t = std::vector<double>(s.t.begin() + 1, s.t.end() - 1);
        s.c = std::move(c);
        s.k = k - 1;
    }
    return s;
}

}  // namespace ferrum::detail
