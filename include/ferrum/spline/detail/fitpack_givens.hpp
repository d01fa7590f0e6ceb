// Banded least squares for the FITPACK splines: observation rows are rotated one by one into an upper
// triangular band by Givens rotations without forming normal equations (Dierckx 1993, sec. 4.1.2,
// eqs. 4.15-4.17; FITPACK fpgivs, fprota), then solved by back substitution (fpback) and, for the
// periodic spline's bordered band, by fpbacp (sec. 6.1, eq. 6.13).
// Hand-written because Eigen has no banded QR; the order of the rotations is FITPACK's, so the
// results (and the knot decisions that depend on them) match SciPy to rounding.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "ferrum/spline/detail/fitpack_index.hpp"

namespace ferrum::detail {

/// Row-major rows x width storage, zero-initialised: row i holds the band entries a(i, i..i+width-1)
/// of an upper triangular band matrix (or the dense border of the periodic one).
class band_matrix {
public:
    band_matrix() = default;
    band_matrix(int rows, int width)
        : width_(width), data_(static_cast<std::size_t>(rows) * static_cast<std::size_t>(width), 0.0) {}

    double& operator()(int i, int j) noexcept { return data_[index(i, j)]; }
    double operator()(int i, int j) const noexcept { return data_[index(i, j)]; }
    int width() const noexcept { return width_; }
    int rows() const noexcept { return width_ == 0 ? 0 : static_cast<int>(data_.size()) / width_; }

private:
    std::size_t index(int i, int j) const noexcept {
        return static_cast<std::size_t>(i) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(j);
    }
    int width_ = 0;
    std::vector<double> data_;
};

struct givens_rotation {
    double cos, sin;
};

/// The rotation that annihilates `piv` against the diagonal element `ww`, which becomes
/// sqrt(ww^2 + piv^2); computed as FITPACK fpgivs does (scaled by the larger of the two).
inline givens_rotation make_givens(double piv, double& ww) noexcept {
    const double store = std::fabs(piv);
    const double dd = store >= ww ? store * std::sqrt(1.0 + (ww / piv) * (ww / piv))
                                  : ww * std::sqrt(1.0 + (piv / ww) * (piv / ww));
    const givens_rotation g{ww / dd, piv / dd};
    ww = dd;
    return g;
}

/// Applies the rotation to the pair (a, b) of the new row and the triangle (FITPACK fprota).
inline void rotate(const givens_rotation& g, double& a, double& b) noexcept {
    const double temp = g.cos * a - g.sin * b;
    b = g.cos * b + g.sin * a;
    a = temp;
}

/// Solves A c = z for the n x n upper triangular band matrix A whose first `bw` columns of storage
/// hold the band (fpback).
inline std::vector<double> back_substitute(const band_matrix& a, const std::vector<double>& z, int n, int bw) {
    std::vector<double> c(z.begin(), z.begin() + n);
    c[ix(n - 1)] = z[ix(n - 1)] / a(n - 1, 0);
    for (int i = n - 2; i >= 0; --i) {
        double store = z[ix(i)];
        const int i1 = std::min(bw - 1, n - 1 - i);
        for (int l = 1; l <= i1; ++l) store -= c[ix(i + l)] * a(i, l);
        c[ix(i)] = store / a(i, 0);
    }
    return c;
}

/// Solves the bordered system of the periodic spline (fpbacp): the n x n upper triangular matrix is
///     | a  b |   a: (n-k) x (n-k) band of width k+1, b: n x k dense last columns,
///     | 0  b |   of which rows n-k..n-1 form a k x k upper triangle stored in b(i, j) at j = i-(n-k).
inline std::vector<double> back_substitute_periodic(const band_matrix& a, const band_matrix& b,
                                                    const std::vector<double>& z, int n, int k) {
    std::vector<double> c(static_cast<std::size_t>(n), 0.0);
    const int n2 = n - k;
    // The last k unknowns from the k x k triangle in the border.
    int l = n;
    for (int i = 1; i <= k; ++i) {
        double store = z[ix(l - 1)];
        const int j = k + 2 - i;
        if (i != 1) {
            int l0 = l;
            for (int l1 = j; l1 <= k; ++l1) {
                ++l0;
                store -= c[ix(l0 - 1)] * b(l - 1, l1 - 1);
            }
        }
        c[ix(l - 1)] = store / b(l - 1, j - 2);
        --l;
        if (l == 0) return c;
    }
    // Remove the border's contribution, then back-substitute through the band.
    for (int i = 1; i <= n2; ++i) {
        double store = z[ix(i - 1)];
        int ll = n2;
        for (int j = 1; j <= k; ++j) {
            ++ll;
            store -= c[ix(ll - 1)] * b(i - 1, j - 1);
        }
        c[ix(i - 1)] = store;
    }
    int i = n2;
    c[ix(i - 1)] /= a(i - 1, 0);
    for (int j = 2; j <= n2; ++j) {
        --i;
        double store = c[ix(i - 1)];
        const int i1 = j <= k ? j - 1 : k;
        int ll = i;
        for (int l0 = 1; l0 <= i1; ++l0) {
            ++ll;
            store -= c[ix(ll - 1)] * a(i - 1, l0);
        }
        c[ix(i - 1)] = store / a(i - 1, 0);
    }
    return c;
}

}  // namespace ferrum::detail
