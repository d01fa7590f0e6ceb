// Symmetric positive definite pentadiagonal systems for the GCV smoothing spline: LDL^T factorisation,
// solve, and the three central bands of the inverse by the recursion of Hutchinson & de Hoog (1985,
// Numer. Math. 47, 99), which is what makes the GCV trace O(n) instead of O(n^3).
// Hand-written on plain arrays because Eigen has no banded solvers, and a dense Eigen LDL^T would be
// O(n^3) in the lam search that runs ~60-100 times per light curve.
#pragma once

#include <cstddef>
#include <vector>

namespace ferrum::detail {

template <class Real>
struct pentadiagonal_ldlt;

/// pentadiagonal_ldlt::factorize for L systems M_l = alpha_l A + beta_l B at once (same bands, same rhs,
/// factors into *f[l], solutions into x[l], ok[l] false where M_l is not numerically positive definite),
/// one row of every system per step: each system's recurrence is a serial chain (a division per row),
/// and L independent chains in one loop keep the processor busy while each waits. Every system gets
/// exactly the arithmetic it would get alone.
template <std::size_t L, class Real>
void factorize_lanes(pentadiagonal_ldlt<Real>* const* f, const Real* alpha, const Real* beta, const Real* a0,
                     const Real* a1, const Real* b0, const Real* b1, const Real* b2, std::size_t n, const Real* rhs,
                     Real* const* x, bool* ok) {
    Real d1[L], d2[L], p1[L], q1[L], q2[L], z1[L], z2[L];  // rows j-1, j-2 of each system, in registers
    for (std::size_t l = 0; l < L; ++l) {
        f[l]->inv_d.resize(n);
        f[l]->u1.resize(n);
        f[l]->u2.resize(n);
        d1[l] = d2[l] = p1[l] = q1[l] = q2[l] = z1[l] = z2[l] = Real(0);
        ok[l] = true;
    }
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t l = 0; l < L; ++l) {
            const Real m0 = alpha[l] * a0[j] + beta[l] * b0[j];
            const Real dj = m0 - p1[l] * p1[l] * d1[l] - q2[l] * q2[l] * d2[l];
            if (!(dj > 0)) ok[l] = false;  // its later rows are garbage, never read
            const Real inv = Real(1) / dj;
            const Real u1j = j + 1 < n ? ((alpha[l] * a1[j] + beta[l] * b1[j]) - p1[l] * q1[l] * d1[l]) * inv : Real(0);
            const Real u2j = j + 2 < n ? (beta[l] * b2[j]) * inv : Real(0);
            Real z = rhs[j];
            if (j >= 1) z = z - p1[l] * z1[l];
            if (j >= 2) z -= q2[l] * z2[l];
            x[l][j] = z * inv;
            f[l]->inv_d[j] = inv;
            f[l]->u1[j] = u1j;
            f[l]->u2[j] = u2j;
            d2[l] = d1[l];
            d1[l] = dj;
            p1[l] = u1j;
            q2[l] = q1[l];
            q1[l] = u2j;
            z2[l] = z1[l];
            z1[l] = z;
        }
}

/// pentadiagonal_ldlt::back_substitute_and_trace for L factorised systems at once (see factorize_lanes).
template <std::size_t L, class Real>
void back_substitute_and_trace_lanes(const pentadiagonal_ldlt<Real>* const* f, Real* const* x, const Real* s0,
                                     const Real* s1, const Real* s2, std::size_t n, Real* trace) {
    // Sigma(j+1, j+1), Sigma(j+1, j+2), Sigma(j+2, j+2) of each system, carried from the row above.
    Real p11[L], p12[L], p22[L];
    for (std::size_t l = 0; l < L; ++l) p11[l] = p12[l] = p22[l] = trace[l] = Real(0);
    for (std::size_t j = n; j-- > 0;)
        for (std::size_t l = 0; l < L; ++l) {
            const Real a = f[l]->u1[j], b = f[l]->u2[j];
            Real* xl = x[l];
            if (j + 1 < n) {
                Real s = xl[j] - a * xl[j + 1];
                if (j + 2 < n) s -= b * xl[j + 2];
                xl[j] = s;
            }
            const Real s02 = -a * p12[l] - b * p22[l];  // Sigma(j, j+2)
            const Real s01 = -a * p11[l] - b * p12[l];  // Sigma(j, j+1)
            const Real s00 = f[l]->inv_d[j] - a * s01 - b * s02;
            trace[l] += s00 * s0[j];
            if (j + 1 < n) trace[l] += Real(2) * s01 * s1[j];
            if (j + 2 < n) trace[l] += Real(2) * s02 * s2[j];
            p22[l] = p11[l];
            p12[l] = s01;
            p11[l] = s00;
        }
}

/// The factor M = U^T diag(d) U of a symmetric pentadiagonal M, U unit upper triangular with the two
/// superdiagonals u1 (U(j, j+1)) and u2 (U(j, j+2)); 1/d is kept (d itself is never needed again).
/// Buffers are kept between calls so that a lam search allocates nothing after the first curve of a given size.
template <class Real>
struct pentadiagonal_ldlt {
    std::vector<Real> inv_d, u1, u2;

    /// Factorises M = alpha A + beta B for symmetric A (diagonal a0, superdiagonal a1) tridiagonal and B
    /// (diagonal b0, superdiagonals b1, b2) pentadiagonal, each band of length >= n (the last one or two
    /// entries of the superdiagonals are ignored), forming M's entries as the rows are reached, and runs
    /// the forward half of the solve of M x = rhs in the same sweep: x = D^-1 U^-T rhs (finish it with
    /// back_substitute_and_trace). The two recurrences are independent chains in one loop, so the
    /// processor overlaps them: the factorisation's chain (a division per row) sets the pace either way.
    /// Returns false when a pivot is not positive, i.e. M is not numerically positive definite.
    bool factorize(Real alpha, const Real* a0, const Real* a1, Real beta, const Real* b0, const Real* b1,
                   const Real* b2, std::size_t n, const Real* rhs, Real* x) {
        pentadiagonal_ldlt* self = this;
        bool ok = true;
        factorize_lanes<1>(&self, &alpha, &beta, a0, a1, b0, b1, b2, n, rhs, &x, &ok);
        return ok;
    }

    /// Finishes the solve that factorize began (x <- U^-1 x in place) and returns trace(M^-1 S) for a
    /// symmetric pentadiagonal S (bands s0, s1, s2): only the central three bands of M^-1 meet S, and those
    /// follow from U Sigma = D^-1 U^-T read on and above the diagonal (Hutchinson & de Hoog), backwards
    /// from the last row, without forming Sigma. Both run backwards, as two independent chains of one loop.
    Real back_substitute_and_trace(Real* x, const Real* s0, const Real* s1, const Real* s2,
                                   std::size_t n) const noexcept {
        const pentadiagonal_ldlt* self = this;
        Real trace = 0;
        back_substitute_and_trace_lanes<1>(&self, &x, s0, s1, s2, n, &trace);
        return trace;
    }
};

}  // namespace ferrum::detail
