// Resampling a fitted curve (e.g. a smoothing spline of a folded light curve) on N uniform phases, and
// per-curve standardisation to mean 0 and standard deviation 1, as in the pre-processing of Monti et al.
// (2025, A&A 702, A148, Sect. 3: 264 phases for RRab, 265 for RRc), keeping mean, std and peak-to-peak.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief N uniform phases on [0, 1]. With `include_end` (the default) this is np.linspace(0, 1, N): both
/// ends are included, so the first and last samples of a periodic curve are the same point of the cycle;
/// without it, np.linspace(0, 1, N, endpoint=False): step 1/N, no repeated point.
/// \throws value_error if n < 2 (or n < 1 without the end point).
inline std::vector<double> uniform_phase_grid(std::size_t n, bool include_end = true) {
    if (n < (include_end ? 2u : 1u))
        throw value_error("uniform_phase_grid: " + std::to_string(n) + " phases requested, at least " +
                          std::string(include_end ? "2" : "1") + " needed");
    std::vector<double> g(n);
    const double step = 1.0 / double(include_end ? n - 1 : n);
    // i * step (not a running sum) so that each phase has a single rounding; the end is set exactly.
    for (std::size_t i = 0; i < n; ++i) g[i] = double(i) * step;
    if (include_end) g[n - 1] = 1.0;
    return g;
}

namespace detail {

/// Refuses a resampled curve with a non-finite value: a diverging fit must not reach a network as NaN.
inline void check_resampled(const std::vector<double>& values, const std::vector<double>& grid) {
    if (values.size() != grid.size())
        throw value_error("resample: the curve returned " + std::to_string(values.size()) + " values for " +
                          std::to_string(grid.size()) + " phases");
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            throw value_error("resample: the curve is not finite at phase " + std::to_string(grid[i]));
}

}  // namespace detail

/// \brief Values of `curve` at `grid`. `curve` is any callable taking a double and returning a number
/// (a smoothing spline, a Fourier series, a lambda) or taking a std::vector<double> and returning a
/// container of the same size. A curve callable both ways is evaluated point by point; call a vectorised
/// evaluation yourself where it is faster (as preprocessor does with smoothing_spline's sorted walk).
/// \throws value_error if a value is not finite (a diverging fit must not reach a network as NaN).
template <class Curve>
std::vector<double> resample(const Curve& curve, const std::vector<double>& grid) {
    std::vector<double> out;
    if constexpr (std::is_invocable_r_v<double, const Curve&, double>) {
        out.resize(grid.size());
        for (std::size_t i = 0; i < grid.size(); ++i) out[i] = curve(grid[i]);
    } else {
        static_assert(std::is_invocable_v<const Curve&, const std::vector<double>&>,
                      "resample(curve, grid): curve must be callable as curve(double) -> double or as "
                      "curve(const std::vector<double>&) -> a container of doubles");
        const auto v = curve(grid);
        out.assign(std::begin(v), std::end(v));
    }
    detail::check_resampled(out, grid);
    return out;
}

/// \brief resample() on uniform_phase_grid(n, include_end).
template <class Curve>
std::vector<double> resample(const Curve& curve, std::size_t n, bool include_end = true) {
    return resample(curve, uniform_phase_grid(n, include_end));
}

/// \brief A curve scaled to mean 0 and standard deviation 1, with the statistics it was scaled by.
struct standardised_curve {
    std::vector<double> values;  ///< (x - mean) / std
    double mean = 0.0;
    double std = 0.0;           ///< population standard deviation (ddof = 0)
    double peak_to_peak = 0.0;  ///< max - min of the input (np.ptp)
};

/// \brief Standardises `x` to mean 0 and standard deviation 1 (sklearn StandardScaler / scipy.stats.zscore
/// per curve). The standard deviation is the population one (divide by N, np.std's default): the samples
/// are a deterministic grid over one cycle, not a random sample, and then the output has unit RMS exactly.
/// \throws value_error if `x` is empty, has a non-finite value, or is flat (std at rounding level of the
/// values): dividing by it would give NaN or amplified round-off.
inline standardised_curve standardise(std::vector<double> x) {
    if (x.empty()) throw value_error("standardise: empty curve");
    const double n = double(x.size());
    double mean = 0, lo = x[0], hi = x[0], scale = 0;
    for (const double v : x) {
        if (!std::isfinite(v)) throw value_error("standardise: the curve has a non-finite value");
        mean += v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        scale = std::max(scale, std::abs(v));
    }
    mean /= n;
    double ss = 0;  // two-pass: no cancellation for magnitudes near 15 with 0.01 mag variations
    for (const double v : x) ss += (v - mean) * (v - mean);
    const double sd = std::sqrt(ss / n);
    if (!(sd > 64 * std::numeric_limits<double>::epsilon() * scale))
        throw value_error("standardise: the curve is flat (std " + std::to_string(sd) +
                          "), it cannot be scaled to unit variance");
    for (double& v : x) v = (v - mean) / sd;
    return {std::move(x), mean, sd, hi - lo};
}

}  // namespace ferrum
