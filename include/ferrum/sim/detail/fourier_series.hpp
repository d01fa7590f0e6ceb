// Cosine Fourier series of a light curve in the Gaia SOS convention, m = A0 + sum_k A_k cos(k theta + phi_k)
// with theta = 2 pi (t - T0) / P (Clementini et al. 2016, A&A 595, A133, eq. 1): fast evaluation for the
// simulator, and the catalogue quantities of a series (peak-to-peak, intensity-averaged mean, time of
// maximum light). The fit itself is ferrum::fit_fourier (lightcurve/fourier.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ferrum/lightcurve/fourier.hpp"

namespace ferrum::sim::detail {

/// A series in polar form; harmonic k (1-based) is at index k - 1.
struct cosine_series {
    double A0 = 0.0;
    std::vector<double> amplitude;
    std::vector<double> phase;

    int order() const noexcept { return static_cast<int>(amplitude.size()); }
};

/// Evaluates a series fast: A_k cos(k theta + phi_k) = a_k cos(k theta) - b_k sin(k theta) with a_k, b_k
/// computed once, and cos/sin(k theta) by the angle-addition recurrence (one sincos per point).
class series_evaluator {
public:
    explicit series_evaluator(const cosine_series& s) : A0_(s.A0), a_(s.amplitude.size()), b_(s.amplitude.size()) {
        for (std::size_t k = 0; k < a_.size(); ++k) {
            a_[k] = s.amplitude[k] * std::cos(s.phase[k]);
            b_[k] = s.amplitude[k] * std::sin(s.phase[k]);
        }
    }
    /// sum_k A_k cos(k theta + phi_k), without A0.
    double variation(double theta) const noexcept {
        const double c1 = std::cos(theta), s1 = std::sin(theta);
        double ck = c1, sk = s1, m = 0.0;
        for (std::size_t k = 0; k < a_.size(); ++k) {
            m += a_[k] * ck - b_[k] * sk;
            const double c = ck * c1 - sk * s1;
            sk = sk * c1 + ck * s1;
            ck = c;
        }
        return m;
    }
    double operator()(double theta) const noexcept { return A0_ + variation(theta); }

private:
    double A0_;
    std::vector<double> a_, b_;
};

/// The catalogue quantities of a series, from a fine grid in phase refined by a parabola at the extrema.
struct series_summary {
    double peak_to_peak = 0.0;     ///< max - min magnitude
    double intensity_mean = 0.0;   ///< -2.5 log10 <10^(-0.4 m)>, the archive's int_average_g
    double theta_max_light = 0.0;  ///< phase angle in [0, 2 pi) of the brightest point (minimum m)
};

inline series_summary summarize(const cosine_series& s, int grid = 256) {
    // a_k, b_k once, and cos/sin of the grid angle by rotation: the grid costs K multiply-adds per point
    const int K = s.order();
    std::vector<double> a(static_cast<std::size_t>(K)), b(static_cast<std::size_t>(K));
    for (std::size_t k = 0; k < a.size(); ++k) {
        a[k] = s.amplitude[k] * std::cos(s.phase[k]);
        b[k] = s.amplitude[k] * std::sin(s.phase[k]);
    }
    std::vector<double> m(static_cast<std::size_t>(grid));
    const double step = two_pi / grid;
    const double c1 = std::cos(step), s1 = std::sin(step);
    double ct = 1.0, st = 0.0;
    double flux = 0.0;
    int imin = 0, imax = 0;
    for (int i = 0; i < grid; ++i) {
        if (i % 32 == 0) {  // re-anchor the rotation so that round-off cannot accumulate
            ct = std::cos(i * step);
            st = std::sin(i * step);
        }
        double ck = ct, sk = st, v = 0.0;
        for (std::size_t k = 0; k < a.size(); ++k) {
            v += a[k] * ck - b[k] * sk;
            const double c = ck * ct - sk * st;
            sk = sk * ct + ck * st;
            ck = c;
        }
        m[std::size_t(i)] = s.A0 + v;
        flux += std::exp(-0.4 * 2.302585092994046 * v);  // 10^(-0.4 (m - A0)): well scaled
        if (m[std::size_t(i)] < m[std::size_t(imin)]) imin = i;
        if (m[std::size_t(i)] > m[std::size_t(imax)]) imax = i;
        const double c = ct * c1 - st * s1;
        st = st * c1 + ct * s1;
        ct = c;
    }
    // vertex of the parabola through the three grid points around an extremum: (offset, value)
    const auto refine = [&](int i) {
        const double y0 = m[std::size_t((i + grid - 1) % grid)], y1 = m[std::size_t(i)],
                     y2 = m[std::size_t((i + 1) % grid)];
        const double den = y0 - 2 * y1 + y2;
        const double d = den != 0 ? 0.5 * (y0 - y2) / den : 0.0;
        return std::pair<double, double>{d, y1 - 0.25 * (y0 - y2) * d};
    };
    const auto [d_min, m_min] = refine(imin);
    const double m_max = refine(imax).second;
    series_summary out;
    out.peak_to_peak = m_max - m_min;
    out.intensity_mean = s.A0 - 2.5 * std::log10(flux / grid);
    out.theta_max_light = wrap_two_pi((imin + d_min) * step);
    return out;
}

}  // namespace ferrum::sim::detail
