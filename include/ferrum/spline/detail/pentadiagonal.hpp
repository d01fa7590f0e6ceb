// Symmetric positive definite pentadiagonal systems for the GCV smoothing spline: LDL^T factorisation,
// solve, and the three central bands of the inverse by the recursion of Hutchinson & de Hoog (1985,
// Numer. Math. 47, 99), which is what makes the GCV trace O(n) instead of O(n^3).
// Hand-written on plain arrays because Eigen has no banded solvers, and a dense Eigen LDL^T would be
// O(n^3) in the lam search that runs ~50 times per light curve.
#pragma once

#include <cstddef>
#include <vector>

namespace ferrum::detail {

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
        inv_d.resize(n);
        u1.resize(n);
        u2.resize(n);
        // The row-j update needs only rows j-1 and j-2, kept in registers.
        Real d1 = 0, d2 = 0;  // d[j-1], d[j-2]
        Real p1 = 0;          // u1[j-1]
        Real q1 = 0, q2 = 0;  // u2[j-1], u2[j-2]
        Real z1 = 0, z2 = 0;  // (U^-T rhs)[j-1], [j-2]
        for (std::size_t j = 0; j < n; ++j) {
            const Real m0 = alpha * a0[j] + beta * b0[j];
            const Real dj = m0 - p1 * p1 * d1 - q2 * q2 * d2;
            if (!(dj > 0)) return false;
            const Real inv = Real(1) / dj;
            const Real u1j = j + 1 < n ? ((alpha * a1[j] + beta * b1[j]) - p1 * q1 * d1) * inv : Real(0);
            const Real u2j = j + 2 < n ? (beta * b2[j]) * inv : Real(0);
            Real z = rhs[j];
            if (j >= 1) z = z - p1 * z1;
            if (j >= 2) z -= q2 * z2;
            x[j] = z * inv;
            inv_d[j] = inv;
            u1[j] = u1j;
            u2[j] = u2j;
            d2 = d1;
            d1 = dj;
            p1 = u1j;
            q2 = q1;
            q1 = u2j;
            z2 = z1;
            z1 = z;
        }
        return true;
    }

    /// Finishes the solve that factorize began (x <- U^-1 x in place) and returns trace(M^-1 S) for a
    /// symmetric pentadiagonal S (bands s0, s1, s2): only the central three bands of M^-1 meet S, and those
    /// follow from U Sigma = D^-1 U^-T read on and above the diagonal (Hutchinson & de Hoog), backwards
    /// from the last row, without forming Sigma. Both run backwards, as two independent chains of one loop.
    Real back_substitute_and_trace(Real* x, const Real* s0, const Real* s1, const Real* s2,
                                   std::size_t n) const noexcept {
        // Sigma(j+1, j+1), Sigma(j+1, j+2), Sigma(j+2, j+2) carried from the previous (higher) row.
        Real p11 = 0, p12 = 0, p22 = 0;
        Real trace = 0;
        for (std::size_t j = n; j-- > 0;) {
            const Real a = u1[j], b = u2[j];
            if (j + 1 < n) {
                Real s = x[j] - a * x[j + 1];
                if (j + 2 < n) s -= b * x[j + 2];
                x[j] = s;
            }
            const Real s02 = -a * p12 - b * p22;  // Sigma(j, j+2)
            const Real s01 = -a * p11 - b * p12;  // Sigma(j, j+1)
            const Real s00 = inv_d[j] - a * s01 - b * s02;
            trace += s00 * s0[j];
            if (j + 1 < n) trace += Real(2) * s01 * s1[j];
            if (j + 2 < n) trace += Real(2) * s02 * s2[j];
            p22 = p11;
            p12 = s01;
            p11 = s00;
        }
        return trace;
    }
};

}  // namespace ferrum::detail
