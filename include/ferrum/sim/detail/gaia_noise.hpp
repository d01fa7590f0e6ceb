// Gaia G-band per-transit noise for the simulators: the formal per-transit uncertainty against G (Gaia DR3
// documentation / PyGaia error model, tabulated in ../shared/data/README.md) and the extra scatter real
// RR Lyrae curves show around an 8th-order Fourier fit (Dekany & Grebel 2022 DR2 G curves).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "ferrum/sim/detail/rrlyrae_params.hpp"

namespace ferrum::sim::detail {

struct g_table_point {
    double g;
    double value;
};

/// Formal per-transit G uncertainty (mag) at the nodes of the Gaia table.
inline constexpr std::array<g_table_point, 11> g_transit_error_table{{{12.0, 0.0011},
                                                                      {13.0, 0.00115},
                                                                      {14.0, 0.0012},
                                                                      {15.0, 0.0017},
                                                                      {16.0, 0.0028},
                                                                      {17.0, 0.0046},
                                                                      {18.0, 0.0080},
                                                                      {19.0, 0.0148},
                                                                      {19.5, 0.020},
                                                                      {20.0, 0.028},
                                                                      {20.5, 0.040}}};

/// Piecewise-linear interpolation of y(x) over sorted nodes, extrapolated linearly beyond the ends
/// (callers decide whether extrapolation is meaningful; for log errors it follows the last slope).
template <class Nodes, class X, class Y>
double interpolate(const Nodes& nodes, double x, X xof, Y yof) noexcept {
    std::size_t i = 1;
    while (i + 1 < nodes.size() && x > xof(nodes[i])) ++i;
    const double x0 = xof(nodes[i - 1]), x1 = xof(nodes[i]);
    const double t = (x - x0) / (x1 - x0);
    return yof(nodes[i - 1]) + t * (yof(nodes[i]) - yof(nodes[i - 1]));
}

/// Formal per-transit G error (mag): log-linear interpolation of the table; below G = 12 constant,
/// beyond 20.5 the last slope (errors keep growing for the faint phases of faint stars).
inline double g_transit_error(double g) noexcept {
    g = std::max(g, 12.0);
    return std::exp(interpolate(
        g_transit_error_table, g, [](const g_table_point& p) { return p.g; },
        [](const g_table_point& p) { return std::log(p.value); }));
}

/// The scatter of real G curves around their order-8 Fourier fit at mean magnitude g (the table of
/// rrlyrae_params.hpp, interpolated in G and clamped to its bins, 14.4-19.3): a median and the log
/// widths below and above it (the distribution has a long upper tail, e.g. 7.5 / 13.4 / 47.7 mmag).
struct split_lognormal {
    double median;
    double sigma_below;
    double sigma_above;

    double draw(double z) const noexcept { return median * std::exp(z * (z < 0 ? sigma_below : sigma_above)); }
};
inline split_lognormal g_residual_rms(double g) noexcept {
    const auto& t = order8_residual_rms;
    g = std::clamp(g, t.front().g, t.back().g);
    const auto gof = [](const residual_rms_bin& p) { return p.g; };
    return {std::exp(interpolate(t, g, gof, [](const residual_rms_bin& p) { return std::log(p.median); })),
            interpolate(t, g, gof, [](const residual_rms_bin& p) { return std::log(p.median / p.p16); }),
            interpolate(t, g, gof, [](const residual_rms_bin& p) { return std::log(p.p84 / p.median); })};
}

/// The Gaia G photometric zero point (DR3, Riello et al. 2021): G = -2.5 log10(flux / e- s^-1) + ZP.
inline constexpr double g_zero_point = 25.6874;
/// 2.5 / ln 10: sigma_mag = this / (flux / flux_error) for small errors.
inline constexpr double mag_per_ln_flux = 1.0857362047581294;

inline double g_flux_from_mag(double mag) noexcept { return std::pow(10.0, -0.4 * (mag - g_zero_point)); }

}  // namespace ferrum::sim::detail
