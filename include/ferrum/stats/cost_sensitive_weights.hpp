// Per-sample costs of UA-CSNet (Yang et al., eq. 11): samples in sparsely populated cells of a 2-D
// histogram (default (BP-RP)_0 x [Fe/H], 10 x 15 bins over the data range) get c = (f / max f)^(-gamma).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief Histogram shape and exponent of the cost-sensitive weights.
struct cost_sensitive_options {
    std::size_t bins_x = 10;  ///< M: bins of the first variable (the colour (BP-RP)_0)
    std::size_t bins_y = 15;  ///< N: bins of the second variable ([Fe/H])
    double gamma = 0.5;
};

namespace detail {

/// Bin of v among `bins` equal bins over [lo, hi], as numpy.histogram: edges from linspace, bins open on the
/// right except the last, which includes hi.
inline std::size_t histogram_bin(double v, double lo, double hi, std::size_t bins) {
    const double step = (hi - lo) / double(bins);
    // numpy.linspace edges: lo + i * step, the last edge exactly hi.
    std::size_t b = std::size_t(std::clamp((v - lo) / step, 0.0, double(bins - 1)));
    auto edge = [&](std::size_t i) { return i == bins ? hi : lo + double(i) * step; };
    while (b > 0 && v < edge(b)) --b;
    while (b + 1 < bins && v >= edge(b + 1)) ++b;
    return b;
}

inline std::pair<double, double> finite_range(const std::vector<double>& v, const char* name) {
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
            throw value_error(std::string("cost_sensitive_weights: ") + name + " has a non-finite value at index " +
                              std::to_string(i));
    const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    if (!(*mx > *mn))
        throw value_error(std::string("cost_sensitive_weights: ") + name +
                          " has an empty range (all values equal); the histogram needs a spread");
    return {*mn, *mx};
}

}  // namespace detail

/// \brief UA-CSNet costs c_i = (f(cell_i) / max f)^(-gamma), where f counts the samples of each cell of an
/// M x N histogram of (x, y) over the data ranges. The most populated cell gets 1, rarer cells more.
inline std::vector<double> cost_sensitive_weights(const std::vector<double>& x, const std::vector<double>& y,
                                                  const cost_sensitive_options& opt = {}) {
    if (x.empty()) throw value_error("cost_sensitive_weights: no samples");
    if (x.size() != y.size())
        throw value_error("cost_sensitive_weights: x has " + std::to_string(x.size()) + " samples, y has " +
                          std::to_string(y.size()));
    if (opt.bins_x == 0 || opt.bins_y == 0) throw value_error("cost_sensitive_weights: bin counts must be >= 1");
    if (!(std::isfinite(opt.gamma) && opt.gamma >= 0.0))
        throw value_error("cost_sensitive_weights: gamma must be finite and >= 0, got " + std::to_string(opt.gamma));
    const auto [x0, x1] = detail::finite_range(x, "x");
    const auto [y0, y1] = detail::finite_range(y, "y");
    std::vector<std::size_t> cell(x.size()), count(opt.bins_x * opt.bins_y, 0);
    for (std::size_t i = 0; i < x.size(); ++i) {
        cell[i] = detail::histogram_bin(x[i], x0, x1, opt.bins_x) * opt.bins_y +
                  detail::histogram_bin(y[i], y0, y1, opt.bins_y);
        ++count[cell[i]];
    }
    const double fmax = double(*std::max_element(count.begin(), count.end()));
    std::vector<double> c(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) c[i] = std::pow(double(count[cell[i]]) / fmax, -opt.gamma);
    return c;
}

}  // namespace ferrum
