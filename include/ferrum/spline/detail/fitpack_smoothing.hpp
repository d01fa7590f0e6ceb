// The pieces FITPACK's curfit and percur share (Dierckx 1993, ch. 5): the kth-derivative jumps at the
// interior knots that make up the smoothing rows (fpdisc, eq. 5.9), knot insertion where the residual
// is largest (fpknot, sec. 5.3), how many knots to add next (sec. 5.3, eq. 5.12) and the search for
// the smoothing parameter p with f(p) = s by rational interpolation (fprati, sec. 5.2.2, eqs. 5.28-5.31).
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "ferrum/spline/detail/fitpack_givens.hpp"

namespace ferrum::detail {

/// FITPACK's return codes (ier), kept with FITPACK's numbers so messages match SciPy's.
enum fitpack_ier : int {
    ier_ok = 0,  ///< |fp - s| <= 0.001 s
    ier_interpolating = -1,
    ier_polynomial = -2,  ///< the least-squares polynomial (constant, if periodic) already has fp <= s
    ier_nest_too_small = 1,
    ier_impossible = 2,  ///< f(p) did not behave as theory says: s too small
    ier_maxit = 3,       ///< 20 iterations for p without |fp - s| <= 0.001 s: s too small
};

/// Jumps of the kth derivative of the B-splines at the interior knots t[k+1..n-k-2] (fpdisc), scaled
/// by (number of intervals / length)^k so that the rows have the size of the data rows. Row r is the
/// jump at knot t[k+1+r]; its k+2 entries act on coefficients r..r+k+1.
inline band_matrix derivative_jumps(const std::vector<double>& t, int n, int k) {
    const int k1 = k + 1, k2 = k + 2;
    const int nk1 = n - k1;
    const double fac = static_cast<double>(nk1 - k) / (t[ix(nk1)] - t[ix(k1 - 1)]);
    band_matrix b(std::max(nk1 - k1, 1), k2);
    double h[12];
    for (int l = k2; l <= nk1; ++l) {  // 1-based knot index as in Dierckx's eq. 5.9
        const int lmk = l - k1;
        for (int j = 1; j <= k1; ++j) {
            h[j - 1] = t[ix(l - 1)] - t[ix(l + j - k2 - 1)];
            h[j + k1 - 1] = t[ix(l - 1)] - t[ix(l + j - 1)];
        }
        int lp = lmk;
        for (int j = 1; j <= k2; ++j) {
            int jk = j;
            double prod = h[j - 1];
            for (int i = 1; i <= k; ++i) {
                ++jk;
                prod = prod * h[jk - 1] * fac;
            }
            b(lmk - 1, j - 1) = (t[ix(lp + k1 - 1)] - t[ix(lp - 1)]) / prod;
            ++lp;
        }
    }
    return b;
}

/// Knot bookkeeping of FITPACK between trials: per knot interval the residual sum fpint and the number
/// of data points strictly inside (nrdata); the slots n-1 and n-2 of fpint and n-1 of nrdata carry
/// fp0, fpold and nplus of the trial with n knots (so a later call can resume, as SciPy's does).
struct knot_state {
    int n = 0;
    std::vector<double> t, c, fpint;
    std::vector<int> nrdata;
    double fp = 0.0;
    int ier = 0;
    explicit knot_state(int capacity)
        : t(static_cast<std::size_t>(capacity), 0.0),
          c(static_cast<std::size_t>(capacity), 0.0),
          fpint(static_cast<std::size_t>(capacity), 0.0),
          nrdata(static_cast<std::size_t>(capacity), 0) {}
};

/// Adds one knot at the data point in the middle of the interval with the largest residual sum that
/// still holds data (fpknot). If no interval holds data, n grows without a new position, as FITPACK does.
inline void add_knot(const double* x, knot_state& st, int& nrint) {
    const int k = (st.n - nrint - 1) / 2;
    double fpmax = 0.0;
    int jbegin = 1, number = 0, maxpt = 0, maxbeg = 0;
    bool found = false;
    for (int j = 1; j <= nrint; ++j) {
        const int jpoint = st.nrdata[ix(j - 1)];
        if (fpmax < st.fpint[ix(j - 1)] && jpoint != 0) {
            found = true;
            fpmax = st.fpint[ix(j - 1)];
            number = j;
            maxpt = jpoint;
            maxbeg = jbegin;
        }
        jbegin += jpoint + 1;
    }
    if (found) {
        const int ihalf = maxpt / 2 + 1;
        const int nrx = maxbeg + ihalf;
        const int next = number + 1;
        for (int j = next; j <= nrint; ++j) {  // shift the later intervals up by one
            const int jj = next + nrint - j;
            st.fpint[ix(jj)] = st.fpint[ix(jj - 1)];
            st.nrdata[ix(jj)] = st.nrdata[ix(jj - 1)];
            st.t[ix(jj + k)] = st.t[ix(jj + k - 1)];
        }
        st.nrdata[ix(number - 1)] = ihalf - 1;
        st.nrdata[ix(next - 1)] = maxpt - ihalf;
        const double am = maxpt;
        st.fpint[ix(number - 1)] = fpmax * st.nrdata[ix(number - 1)] / am;
        st.fpint[ix(next - 1)] = fpmax * st.nrdata[ix(next - 1)] / am;
        st.t[ix(next + k - 1)] = x[nrx - 1];
    }
    ++st.n;
    ++nrint;
}

/// What to do after the least-squares spline on a trial knot set has residual fp (fpms = fp - s):
/// stop (fp meets s, or no knot can be added: sets ier), smooth on these knots (fp < s), or add knots.
enum class trial_verdict {
    finished,
    smooth,
    add_knots
};

inline trial_verdict judge_trial(double fpms, double acc, int n, int nmax, int nest, int& ier) noexcept {
    if (std::fabs(fpms) < acc) return trial_verdict::finished;
    if (fpms < 0.0) return trial_verdict::smooth;
    if (n == nmax) {
        ier = ier_interpolating;
        return trial_verdict::finished;
    }
    if (n == nest) {
        ier = ier_nest_too_small;
        return trial_verdict::finished;
    }
    return trial_verdict::add_knots;
}

/// The spline at data point `it` from its stored B-spline values q (k1 per point) and the k1
/// coefficients from c[first]: the fitted value both the knot placement and f(p) need.
inline double fitted_value(const std::vector<double>& c, const std::vector<double>& q, int it, int first,
                           int k1) noexcept {
    double term = 0.0;
    for (int j = 0; j < k1; ++j) term += c[ix(first + j)] * q[ix(it) * ix(k1) + ix(j)];
    return term;
}

/// How many knots to add after a trial (Dierckx sec. 5.3): extrapolate how many more would bring fp
/// down to s from the last decrease, at least half and at most twice the previous number, at least 1.
inline int next_knot_count(int nplus, double fpold, double fp, double fpms, double acc) noexcept {
    int npl1 = nplus * 2;
    if (fpold - fp > acc) {
        const double val = static_cast<double>(nplus) * fpms / (fpold - fp);
        npl1 = val > INT_MAX ? INT_MAX : static_cast<int>(val);
    }
    return std::min(nplus * 2, std::max({npl1, nplus / 2, 1}));
}

/// Root of the rational function r(p) = (u p + v)/(p + w) through (p1,f1), (p2,f2), (p3,f3)
/// (p3 < 0 meaning p3 = infinity), then keeps f1 > 0 > f3 by replacing one end (fprati).
inline double rational_root(double& p1, double& f1, double p2, double f2, double& p3, double& f3) noexcept {
    double p;
    if (p3 > 0.0) {
        const double h1 = f1 * (f2 - f3);
        const double h2 = f2 * (f3 - f1);
        const double h3 = f3 * (f1 - f2);
        p = -(p1 * p2 * h3 + p2 * p3 * h1 + p3 * p1 * h2) / (p1 * h1 + p2 * h2 + p3 * h3);
    } else {
        p = (p1 * (f1 - f3) * f2 - p2 * (f2 - f3) * f1) / ((f1 - f2) * f3);
    }
    if (f2 < 0.0) {
        p3 = p2;
        f3 = f2;
    } else {
        p1 = p2;
        f1 = f2;
    }
    return p;
}

/// Finds p with f(p) = s within acc (Dierckx sec. 5.2.2). f(0) - s = fp0 - s > 0 (the polynomial) and
/// f(inf) - s = fpinf_ms < 0 (the least-squares spline) bracket the root; `fit(p)` computes the
/// smoothing spline for p and returns its fp. Returns ier_ok, ier_impossible or ier_maxit.
template <class Fit>
int find_smoothing_parameter(double p, double fp0, double fpinf_ms, double s, double acc, int maxit, Fit&& fit) {
    constexpr double con1 = 0.1, con9 = 0.9, con4 = 0.04;
    double p1 = 0.0, f1 = fp0 - s, p3 = -1.0, f3 = fpinf_ms;
    bool ich1 = false, ich3 = false;
    for (int iter = 1; iter <= maxit; ++iter) {
        const double fpms = fit(p) - s;
        if (std::fabs(fpms) < acc) return ier_ok;
        if (iter == maxit) return ier_maxit;
        const double p2 = p, f2 = fpms;
        if (!ich3) {
            if (f2 - f3 > acc) {
                if (f2 < 0.0) ich3 = true;
            } else {  // p is too large: f(p) is still at the least-squares end
                p3 = p2;
                f3 = f2;
                p *= con4;
                if (p <= p1) p = p1 * con9 + p2 * con1;
                continue;
            }
        }
        if (!ich1) {
            if (f1 - f2 > acc) {
                if (f2 > 0.0) ich1 = true;
            } else {  // p is too small: f(p) is still at the polynomial end
                p1 = p2;
                f1 = f2;
                p /= con4;
                if (p3 >= 0.0 && p >= p3) p = p2 * con1 + p3 * con9;
                continue;
            }
        }
        if (f2 >= f1 || f2 <= f3) return ier_impossible;
        p = rational_root(p1, f1, p2, f2, p3, f3);
    }
    return ier_maxit;
}

}  // namespace ferrum::detail
