// FITPACK percur/fpperi (Dierckx 1993, sec. 6.1): the periodic smoothing spline of degree k with the
// fewest knots such that sum (w_i (y_i - s(x_i)))^2 <= s over one period [x_0, x_{m-1}]. Periodicity is
// imposed through the knots t(k+1-j) = t(n-k-j) - per, t(n-k+j) = t(k+1+j) + per and the coefficients
// c(n7+j) = c(j) (eq. 6.3), which turns the banded system into a band plus a k-column border (eq. 6.13).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "ferrum/spline/detail/fitpack_bspline.hpp"
#include "ferrum/spline/detail/fitpack_curfit.hpp"
#include "ferrum/spline/detail/fitpack_givens.hpp"
#include "ferrum/spline/detail/fitpack_smoothing.hpp"

namespace ferrum::detail {

/// fpperi with iopt = 0 (as splrep(per=1) calls it) for data x[0] < ... < x[m-1], where x[m-1] - x[0]
/// is the period and the last point only marks it (its y and w are not used). `nest` bounds the knots.
inline void fpperi(const curve_data& d, int nest, knot_state& st) {
    constexpr double tol = 1e-3;
    constexpr int maxit = 20;
    const int m = static_cast<int>(d.x.size());
    const int m1 = m - 1;
    const int k = d.k, k1 = k + 1, k2 = k + 2;
    const double s = d.s;
    const double* x = d.x.data();
    const double* y = d.y.data();
    const double* w = d.w.data();
    int kk = k, kk1 = k1;
    const int nmin = 2 * k1;
    const double per = x[m - 1] - x[0];
    const double acc = tol * s;
    const int nmax = m + 2 * k;
    double fp0 = 0.0, fpold = 0.0;
    int nplus = 0;
    int& n = st.n;
    int& ier = st.ier;
    ier = ier_ok;

    // Interpolation with odd k and s = 0 drops one band column; k = 1 is then the broken line itself.
    const auto place_interpolation = [&]() -> bool {
        for (int i = 2; i <= m1; ++i) st.t[ix(i + k - 1)] = (k % 2 == 0) ? (x[i - 1] + x[i - 2]) * 0.5 : x[i - 1];
        if (k % 2 == 0 || s > 0.0) return false;
        kk = k - 1;
        kk1 = k;
        if (kk > 0) return false;
        st.t[0] = st.t[ix(m - 1)] - per;
        st.t[1] = x[0];
        st.t[ix(m)] = x[m - 1];
        st.t[ix(m + 1)] = st.t[2] + per;
        for (int i = 0; i < m1; ++i) st.c[ix(i)] = y[i];
        st.c[ix(m - 1)] = st.c[0];
        st.fp = 0.0;
        st.fpint[ix(n - 1)] = 0.0;
        st.fpint[ix(n - 2)] = 0.0;
        st.nrdata[ix(n - 1)] = 0;
        ier = ier_interpolating;
        return true;
    };

    if (s > 0.0 || nmax == nmin) {
        // The least-squares periodic polynomial is a constant: fit it first.
        double d1 = 0.0, c1 = 0.0;
        for (int it = 0; it < m1; ++it) {
            double yi = y[it] * w[it];
            const givens_rotation g = make_givens(w[it], d1);
            rotate(g, yi, c1);
            fp0 += yi * yi;
        }
        c1 /= d1;
        if (fp0 - s < acc || nmax == nmin) {
            ier = ier_polynomial;
            for (int i = 1; i <= k1; ++i) {
                st.t[ix(i - 1)] = x[0] - (k1 - i) * per;
                st.c[ix(i - 1)] = c1;
                st.t[ix(i + k1 - 1)] = x[m - 1] + (i - 1) * per;
            }
            n = nmin;
            st.fp = fp0;
            st.fpint[ix(n - 1)] = fp0;
            st.fpint[ix(n - 2)] = 0.0;
            st.nrdata[ix(n - 1)] = 0;
            return;
        }
        fpold = fp0;
        if (nmin >= nest) {
            ier = ier_nest_too_small;
            return;
        }
        nplus = 1;
        n = nmin + 1;
        const int mm = (m + 1) / 2;
        st.t[ix(k2 - 1)] = x[mm - 1];
        st.nrdata[0] = mm - 2;
        st.nrdata[1] = m1 - mm;
    } else {
        n = nmax;
        if (n > nest) {
            ier = ier_nest_too_small;
            return;
        }
        if (place_interpolation()) return;
    }

    // Part 1: least-squares periodic splines on growing knot sets until fp <= s.
    std::vector<double> q(ix(m) * ix(k1));
    std::vector<double> z;
    band_matrix a1, a2;
    double fpms = 0.0;
    int n7 = 0, n10 = 0;
    for (int iter = 1; iter <= m; ++iter) {
        int nrint = n - nmin + 1;
        const int nk1 = n - k1;
        const int nk2 = nk1 + 1;
        st.t[ix(k1 - 1)] = x[0];
        st.t[ix(nk2 - 1)] = x[m - 1];
        for (int j = 1; j <= k; ++j) {
            st.t[ix(nk2 + j - 1)] = st.t[ix(k1 + j - 1)] + per;
            st.t[ix(k1 - j - 1)] = st.t[ix(nk2 - j - 1)] - per;
        }
        // Rows whose B-splines wrap round (touch the last k coefficients, equal to the first k)
        // are split into a band part h1 and a border part h2 (Dierckx eq. 6.13).
        z.assign(static_cast<std::size_t>(nk1), 0.0);
        a1 = band_matrix(nk1, k1);
        n7 = nk1 - k;
        n10 = n7 - kk;
        a2 = band_matrix(std::max(n7, 1), std::max(kk, 1));
        bool jper = false;
        double fp = 0.0;
        int l = k1;
        double h1[7], h2[6];
        for (int it = 1; it <= m1; ++it) {
            const double xi = x[it - 1], wi = w[it - 1];
            double yi = y[it - 1] * wi;
            while (xi >= st.t[ix(l)]) ++l;
            basis_values h = bspline_basis(st.t.data(), k, xi, l - 1);
            for (int i = 0; i < k1; ++i) {
                q[ix(it - 1) * ix(k1) + ix(i)] = h[ix(i)];
                h[ix(i)] *= wi;
            }
            const int l5 = l - k1;
            if (l5 < n10) {
                int j = l5;
                for (int i = 1; i <= kk1; ++i) {
                    ++j;
                    const double piv = h[ix(i - 1)];
                    if (piv == 0.0) continue;
                    const givens_rotation g = make_givens(piv, a1(j - 1, 0));
                    rotate(g, yi, z[ix(j - 1)]);
                    if (i == kk1) break;
                    int i2 = 1;
                    for (int i1 = i + 1; i1 <= kk1; ++i1) {
                        ++i2;
                        rotate(g, h[ix(i1 - 1)], a1(j - 1, i2 - 1));
                    }
                }
                fp += yi * yi;
                continue;
            }
            if (!jper) {  // the border starts as the last kk columns of the band rows so far
                int jk = n10 + 1;
                for (int i = 1; i <= kk; ++i) {
                    int ik = jk;
                    for (int j = 1; j <= kk1; ++j) {
                        if (ik <= 0) break;
                        a2(ik - 1, i - 1) = a1(ik - 1, j - 1);
                        --ik;
                    }
                    ++jk;
                }
                jper = true;
            }
            std::fill(h1, h1 + 7, 0.0);
            std::fill(h2, h2 + 6, 0.0);
            int j = l5 - n10;
            for (int i = 1; i <= kk1; ++i) {
                ++j;
                int l0 = j;
                while (true) {
                    const int l1 = l0 - kk;
                    if (l1 <= 0) {
                        h2[l0 - 1] += h[ix(i - 1)];
                        break;
                    }
                    if (l1 <= n10) {
                        h1[l1 - 1] = h[ix(i - 1)];
                        break;
                    }
                    l0 = l1 - n10;
                }
            }
            if (n10 > 0) {
                for (int jj = 1; jj <= n10; ++jj) {
                    const double piv = h1[0];
                    if (piv == 0.0) {
                        for (int i = 1; i <= kk; ++i) h1[i - 1] = h1[i];
                        h1[kk1 - 1] = 0.0;
                        continue;
                    }
                    const givens_rotation g = make_givens(piv, a1(jj - 1, 0));
                    rotate(g, yi, z[ix(jj - 1)]);
                    for (int i = 1; i <= kk; ++i) rotate(g, h2[i - 1], a2(jj - 1, i - 1));
                    if (jj == n10) break;
                    const int i2 = std::min(n10 - jj, kk);
                    int i1 = 1;
                    for (int i = 1; i <= i2; ++i) {
                        i1 = i + 1;
                        rotate(g, h1[i1 - 1], a1(jj - 1, i1 - 1));
                        h1[i - 1] = h1[i1 - 1];
                    }
                    h1[i1 - 1] = 0.0;
                }
            }
            for (int jj = 1; jj <= kk; ++jj) {
                const int ij = n10 + jj;
                if (ij <= 0) continue;
                const double piv = h2[jj - 1];
                if (piv == 0.0) continue;
                const givens_rotation g = make_givens(piv, a2(ij - 1, jj - 1));
                rotate(g, yi, z[ix(ij - 1)]);
                if (jj == kk) break;
                for (int i = jj + 1; i <= kk; ++i) rotate(g, h2[i - 1], a2(ij - 1, i - 1));
            }
            fp += yi * yi;
        }
        st.fpint[ix(n - 1)] = fp0;
        st.fpint[ix(n - 2)] = fpold;
        st.nrdata[ix(n - 1)] = nplus;
        {
            const std::vector<double> c = back_substitute_periodic(a1, a2, z, n7, kk);
            std::copy(c.begin(), c.end(), st.c.begin());
            for (int i = 0; i < k; ++i) st.c[ix(n7 + i)] = st.c[ix(i)];
        }
        st.fp = fp;
        fpms = fp - s;
        const trial_verdict verdict = judge_trial(fpms, acc, n, nmax, nest, ier);
        if (verdict == trial_verdict::finished) return;
        if (verdict == trial_verdict::smooth) break;
        nplus = next_knot_count(nplus, fpold, fp, fpms, acc);
        fpold = fp;
        // Residual sum per knot interval; the wrapped first and last intervals share one slot.
        double fpart = 0.0;
        int i = 1;
        l = k1;
        bool fresh = false;
        for (int it = 1; it <= m1; ++it) {
            if (x[it - 1] >= st.t[ix(l - 1)]) {
                fresh = true;
                ++l;
            }
            const double r = w[it - 1] * (fitted_value(st.c, q, it - 1, l - k2, k1) - y[it - 1]);
            const double term = r * r;
            fpart += term;
            if (!fresh) continue;
            if (l <= k2) {
                st.fpint[ix(nrint - 1)] = term;
                fresh = false;
                continue;
            }
            const double store = term * 0.5;
            st.fpint[ix(i - 1)] = fpart - store;
            ++i;
            fpart = store;
            fresh = false;
        }
        st.fpint[ix(nrint - 1)] += fpart;
        for (int added = 1; added <= nplus; ++added) {
            add_knot(x, st, nrint);
            if (n == nmax) {
                if (place_interpolation()) return;
                iter = 0;
                break;
            }
            if (n == nest) break;
        }
    }

    // Part 2: the periodic smoothing spline for the knots found, with f(p) = s.
    const band_matrix b = derivative_jumps(st.t, n, k);
    const int n11 = n10 - 1;
    const int n8 = n7 - 1;
    double p = 0.0;
    {
        int l = n7;
        bool skip = false;
        for (int i = 1; i <= k; ++i) {
            p += a2(l - 1, k - i);
            --l;
            if (l == 0) {
                skip = true;
                break;
            }
        }
        if (!skip)
            for (int i = 1; i <= n10; ++i) p += a1(i - 1, 0);
    }
    p = n7 / p;
    const auto fit = [&](double pp) {
        const double pinv = 1.0 / pp;
        std::vector<double> c(z.begin(), z.begin() + n7);
        band_matrix g1(n7, k2), g2(n7, k1);
        for (int i = 1; i <= n7; ++i) {
            g1(i - 1, k1 - 1) = a1(i - 1, k1 - 1);
            for (int j = 1; j <= k; ++j) {
                g1(i - 1, j - 1) = a1(i - 1, j - 1);
                g2(i - 1, j) = a2(i - 1, j - 1);
            }
        }
        {
            int l = n10;
            for (int j = 1; j <= k1; ++j) {
                if (l <= 0) break;
                g2(l - 1, 0) = a1(l - 1, j - 1);
                --l;
            }
        }
        double h1[8], h2[7];
        for (int it = 1; it <= n8; ++it) {
            double yi = 0.0;
            std::fill(h1, h1 + 8, 0.0);
            std::fill(h2, h2 + 7, 0.0);
            int l;
            if (it <= n11) {
                l = it;
                int l0 = it;
                for (int j = 1; j <= k2; ++j) {
                    if (l0 == n10) {
                        l0 = 1;
                        for (int l1 = j; l1 <= k2; ++l1) {
                            h2[l0 - 1] = b(it - 1, l1 - 1) * pinv;
                            ++l0;
                        }
                        break;
                    }
                    h1[j - 1] = b(it - 1, j - 1) * pinv;
                    ++l0;
                }
            } else {
                l = 1;
                int i = it - n10;
                for (int j = 1; j <= k2; ++j) {
                    ++i;
                    int l0 = i;
                    while (true) {
                        const int l1 = l0 - k1;
                        if (l1 <= 0) {
                            h2[l0 - 1] += b(it - 1, j - 1) * pinv;
                            break;
                        }
                        if (l1 <= n11) {
                            h1[l1 - 1] = b(it - 1, j - 1) * pinv;
                            break;
                        }
                        l0 = l1 - n11;
                    }
                }
            }
            if (n11 > 0) {
                for (int j = l; j <= n11; ++j) {
                    const givens_rotation g = make_givens(h1[0], g1(j - 1, 0));
                    rotate(g, yi, c[ix(j - 1)]);
                    for (int i = 1; i <= k1; ++i) rotate(g, h2[i - 1], g2(j - 1, i - 1));
                    if (j == n11) break;
                    const int i2 = std::min(n11 - j, k1);
                    int i1 = 1;
                    for (int i = 1; i <= i2; ++i) {
                        i1 = i + 1;
                        rotate(g, h1[i1 - 1], g1(j - 1, i1 - 1));
                        h1[i - 1] = h1[i1 - 1];
                    }
                    h1[i1 - 1] = 0.0;
                }
            }
            for (int j = 1; j <= k1; ++j) {
                const int ij = n11 + j;
                if (ij <= 0) continue;
                const givens_rotation g = make_givens(h2[j - 1], g2(ij - 1, j - 1));
                rotate(g, yi, c[ix(ij - 1)]);
                if (j == k1) break;
                for (int i = j + 1; i <= k1; ++i) rotate(g, h2[i - 1], g2(ij - 1, i - 1));
            }
        }
        const std::vector<double> cc = back_substitute_periodic(g1, g2, c, n7, k1);
        std::copy(cc.begin(), cc.end(), st.c.begin());
        for (int i = 0; i < k; ++i) st.c[ix(n7 + i)] = st.c[ix(i)];
        double fp = 0.0;
        int l = k1;
        for (int it = 1; it <= m1; ++it) {
            if (x[it - 1] >= st.t[ix(l - 1)]) ++l;
            const double r = w[it - 1] * (fitted_value(st.c, q, it - 1, l - k2, k1) - y[it - 1]);
            fp += r * r;
        }
        st.fp = fp;
        return fp;
    };
    ier = find_smoothing_parameter(p, fp0, fpms, s, acc, maxit, fit);
}

}  // namespace ferrum::detail
