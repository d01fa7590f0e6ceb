// Residual statistics in bins of any variable (the residual-vs-N_epochs and residual-vs-[Fe/H] panels of
// the [Fe/H] papers): per bin count, mean, median, population std and robust scatter (1.4826 MAD), with
// bins given as edges or as N quantile bins (numpy.quantile, linear interpolation).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/stats/metrics.hpp"

namespace ferrum {

/// \brief Statistics of the values whose x lies in [lo, hi) ([lo, hi] for the last bin).
/// std is the population standard deviation (numpy.std, ddof = 0). An empty bin has count 0 and its
/// statistics are NaN (as scipy.stats.binned_statistic); test has_data() before using them.
struct bin_statistics {
    double lo, hi;
    std::size_t count;
    double mean, median, std, robust_scatter;
    bool has_data() const noexcept { return count > 0; }
};

/// \brief numpy.quantile(x, linspace(0, 1, n_bins + 1)) (linear interpolation), with repeated edges
/// (ties in x, e.g. integer epoch counts) merged, so fewer than n_bins bins may come back.
inline std::vector<double> quantile_edges(std::vector<double> x, std::size_t n_bins) {
    detail::require_finite_values("quantile_edges", x);
    if (n_bins == 0) throw value_error("quantile_edges: n_bins must be >= 1");
    std::sort(x.begin(), x.end());
    std::vector<double> edges;
    const double last = double(x.size() - 1);
    for (std::size_t k = 0; k <= n_bins; ++k) {
        const double pos = last * double(k) / double(n_bins);
        const std::size_t i = std::min(std::size_t(pos), x.size() - 1);
        const double frac = pos - double(i);
        const double e = i + 1 < x.size() ? x[i] + frac * (x[i + 1] - x[i]) : x[i];
        if (edges.empty() || e > edges.back()) edges.push_back(e);
    }
    if (edges.size() < 2)
        throw value_error("quantile_edges: all x are equal (" + std::to_string(x.front()) + "); no bins can be formed");
    return edges;
}

/// \brief Statistics of `values` in bins of `x` with the given strictly increasing `edges` (at least 2).
/// Samples with x outside [edges.front(), edges.back()] are left out.
inline std::vector<bin_statistics> binned_statistics(const std::vector<double>& x, const std::vector<double>& values,
                                                     const std::vector<double>& edges) {
    if (x.empty()) throw value_error("binned_statistics: no samples");
    if (x.size() != values.size())
        throw value_error("binned_statistics: " + std::to_string(x.size()) + " x but " + std::to_string(values.size()) +
                          " values");
    detail::require_finite_values("binned_statistics (x)", x);
    detail::require_finite_values("binned_statistics (values)", values);
    detail::require_finite_values("binned_statistics (edges)", edges);
    if (edges.size() < 2) throw value_error("binned_statistics: need at least 2 edges");
    for (std::size_t k = 1; k < edges.size(); ++k)
        if (!(edges[k] > edges[k - 1]))
            throw value_error("binned_statistics: edges must increase strictly (edge " + std::to_string(k) + ")");

    const std::size_t nb = edges.size() - 1;
    std::vector<std::vector<double>> members(nb);
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (x[i] < edges.front() || x[i] > edges.back()) continue;
        const auto it = std::upper_bound(edges.begin(), edges.end(), x[i]);
        const std::size_t b = std::min(nb - 1, std::size_t(it - edges.begin()) - 1);
        members[b].push_back(values[i]);
    }
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<bin_statistics> out;
    out.reserve(nb);
    for (std::size_t b = 0; b < nb; ++b) {
        auto& v = members[b];
        bin_statistics s{edges[b], edges[b + 1], v.size(), nan, nan, nan, nan};
        if (!v.empty()) {
            double mean = 0.0;
            for (double a : v) mean += a;
            mean /= double(v.size());
            double var = 0.0;
            for (double a : v) var += (a - mean) * (a - mean);
            s.mean = mean;
            s.std = std::sqrt(var / double(v.size()));
            s.median = detail::median_inplace(v);
            s.robust_scatter = detail::robust_scatter_inplace(v);
        }
        out.push_back(s);
    }
    return out;
}

/// \brief Statistics of `values` in `n_bins` quantile bins of `x` (about equal counts; see quantile_edges).
inline std::vector<bin_statistics> quantile_binned_statistics(const std::vector<double>& x,
                                                              const std::vector<double>& values, std::size_t n_bins) {
    return binned_statistics(x, values, quantile_edges(x, n_bins));
}

}  // namespace ferrum
