// FITPACK curfit/fpcurf (Dierckx 1982, SIAM J. Numer. Anal. 19:1286; Dierckx 1993 ch. 5): the
// smoothing spline of degree k with the fewest knots such that sum (w_i (y_i - s(x_i)))^2 <= s,
// by adding knots where the residual is largest (part 1) and then solving f(p) = s for the weight p
// of the least-squares rows against the kth-derivative-jump rows (part 2, eqs. 5.4-5.10).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "ferrum/spline/detail/fitpack_bspline.hpp"
#include "ferrum/spline/detail/fitpack_givens.hpp"
#include "ferrum/spline/detail/fitpack_smoothing.hpp"

namespace ferrum::detail {

/// Strictly increasing x with positive weights; [xb, xe] contains every x.
struct curve_data {
    const std::vector<double>& x;
    const std::vector<double>& y;
    const std::vector<double>& w;
    double xb, xe;
    int k;
    double s;
};

/// Interior knots for interpolation: at the data points (odd k) or midway between them (even k).
inline void place_interpolation_knots(const curve_data& d, knot_state& st) {
    const int m = static_cast<int>(d.x.size());
    const int k = d.k;
    const int k3 = k / 2;
    for (int l = 0; l < m - k - 1; ++l) {
        st.t[ix(k + 1 + l)] = (k % 2 == 0) ? (d.x[ix(k3 + 1 + l)] + d.x[ix(k3 + l)]) * 0.5 : d.x[ix(k3 + 1 + l)];
    }
}

/// fpcurf with FITPACK's iopt (0: start afresh, 1: resume from the knots in `st`) and storage limit
/// `nest` (at most `nest` knots). Sets st.n, st.t, st.c, st.fp, st.ier; st.ier on entry matters for
/// iopt = 1, as it does in SciPy's resumed call.
inline void fpcurf(const curve_data& d, int iopt, int nest, knot_state& st) {
    constexpr double tol = 1e-3;
    constexpr int maxit = 20;
    const int m = static_cast<int>(d.x.size());
    const int k = d.k, k1 = k + 1, k2 = k + 2;
    const double s = d.s;
    const double* x = d.x.data();
    const double* y = d.y.data();
    const double* w = d.w.data();
    const int nmin = 2 * k1;
    const double acc = tol * s;
    const int nmax = m + k1;
    double fp0 = 0.0, fpold = 0.0;
    int nplus = 0;
    int& n = st.n;
    int& ier = st.ier;

    bool resume = false;
    if (s > 0.0) {
        if (iopt != 0 && n != nmin) {
            fp0 = st.fpint[ix(n - 1)];
            fpold = st.fpint[ix(n - 2)];
            nplus = st.nrdata[ix(n - 1)];
            resume = fp0 > s;
        }
        if (!resume) {
            n = nmin;
            fpold = 0.0;
            nplus = 0;
            st.nrdata[0] = m - 2;
        }
    } else {
        n = nmax;
        if (nmax > nest) {
            ier = ier_nest_too_small;
            return;
        }
        place_interpolation_knots(d, st);
    }

    // Part 1: least-squares splines on growing knot sets until fp <= s.
    std::vector<double> q(ix(m) * ix(k1));  // B-spline values per data point
    std::vector<double> z;
    band_matrix a;
    double fpms = 0.0;
    int nk1 = 0;
    for (int iter = 1; iter <= m; ++iter) {
        if (n == nmin) ier = ier_polynomial;
        int nrint = n - nmin + 1;
        nk1 = n - k1;
        for (int j = 0; j < k1; ++j) {
            st.t[ix(j)] = d.xb;
            st.t[ix(n - 1 - j)] = d.xe;
        }
        // Rotate the weighted observation rows one by one into the triangle a (bandwidth k+1).
        double fp = 0.0;
        z.assign(static_cast<std::size_t>(nk1), 0.0);
        a = band_matrix(nk1, k1);
        int l = k;
        for (int it = 0; it < m; ++it) {
            const double xi = x[it], wi = w[it];
            double yi = y[it] * wi;
            while (!(xi < st.t[ix(l + 1)] || l == nk1 - 1)) ++l;
            basis_values h = bspline_basis(st.t.data(), k, xi, l);
            for (int i = 0; i < k1; ++i) {
                q[ix(it) * ix(k1) + ix(i)] = h[ix(i)];
                h[ix(i)] *= wi;
            }
            for (int i = 0; i < k1; ++i) {
                const int r = l - k + i;
                const double piv = h[ix(i)];
                if (piv == 0.0) continue;
                const givens_rotation g = make_givens(piv, a(r, 0));
                rotate(g, yi, z[ix(r)]);
                if (i == k) break;
                for (int i1 = i + 1; i1 < k1; ++i1) rotate(g, h[ix(i1)], a(r, i1 - i));
            }
            fp += yi * yi;
        }
        if (ier == ier_polynomial) fp0 = fp;
        st.fpint[ix(n - 1)] = fp0;
        st.fpint[ix(n - 2)] = fpold;
        st.nrdata[ix(n - 1)] = nplus;
        const std::vector<double> c = back_substitute(a, z, nk1, k1);
        std::copy(c.begin(), c.end(), st.c.begin());
        st.fp = fp;
        fpms = fp - s;
        const trial_verdict verdict = judge_trial(fpms, acc, n, nmax, nest, ier);
        if (verdict == trial_verdict::finished) return;
        if (verdict == trial_verdict::smooth) break;
        if (ier == ier_ok) {
            nplus = next_knot_count(nplus, fpold, fp, fpms, acc);
        } else {
            nplus = 1;
            ier = ier_ok;
        }
        fpold = fp;
        // Residual sum per knot interval; a point on a knot counts half to each side.
        double fpart = 0.0;
        int i = 1;
        int ll = k2;
        bool fresh = false;
        for (int it = 0; it < m; ++it) {
            if (x[it] >= st.t[ix(ll - 1)] && ll <= nk1) {
                fresh = true;
                ++ll;
            }
            const double r = w[it] * (fitted_value(st.c, q, it, ll - k2, k1) - y[it]);
            const double term = r * r;
            fpart += term;
            if (!fresh) continue;
            const double store = term * 0.5;
            st.fpint[ix(i - 1)] = fpart - store;
            ++i;
            fpart = store;
            fresh = false;
        }
        st.fpint[ix(nrint - 1)] = fpart;
        for (int added = 1; added <= nplus; ++added) {
            add_knot(x, st, nrint);
            if (n == nmax) {  // as many knots as interpolation needs: place them there and restart
                place_interpolation_knots(d, st);
                iter = 0;
                break;
            }
            if (n == nest) break;
        }
    }
    if (ier == ier_polynomial) return;

    // Part 2: the smoothing spline for the knots found, with f(p) = s.
    const band_matrix b = derivative_jumps(st.t, n, k);
    double p = 0.0;
    for (int i = 0; i < nk1; ++i) p += a(i, 0);
    p = nk1 / p;
    const int n8 = n - nmin;
    const auto fit = [&](double pp) {
        const double pinv = 1.0 / pp;
        std::vector<double> cz(z);
        band_matrix g(nk1, k2);
        for (int i = 0; i < nk1; ++i)
            for (int j = 0; j < k1; ++j) g(i, j) = a(i, j);
        double h[7];
        for (int it = 1; it <= n8; ++it) {
            for (int i = 0; i < k2; ++i) h[ix(i)] = b(it - 1, i) * pinv;
            double yi = 0.0;
            for (int j = it; j <= nk1; ++j) {
                const givens_rotation gr = make_givens(h[0], g(j - 1, 0));
                rotate(gr, yi, cz[ix(j - 1)]);
                if (j == nk1) break;
                const int i2 = j > n8 ? nk1 - j : k1;
                for (int i = 1; i <= i2; ++i) {
                    rotate(gr, h[ix(i)], g(j - 1, i));
                    h[ix(i - 1)] = h[ix(i)];
                }
                h[ix(i2)] = 0.0;
            }
        }
        const std::vector<double> c = back_substitute(g, cz, nk1, k2);
        std::copy(c.begin(), c.end(), st.c.begin());
        double fp = 0.0;
        int ll = k2;
        for (int it = 0; it < m; ++it) {
            if (x[it] >= st.t[ix(ll - 1)] && ll <= nk1) ++ll;
            const double r = w[it] * (fitted_value(st.c, q, it, ll - k2, k1) - y[it]);
            fp += r * r;
        }
        st.fp = fp;
        return fp;
    };
    ier = find_smoothing_parameter(p, fp0, fpms, s, acc, maxit, fit);
}

}  // namespace ferrum::detail
