// Input checks and tie merging shared by the FITPACK splines. FITPACK needs strictly increasing x;
// points with equal x are merged so that the fitting objective is unchanged up to a constant:
//   sum_i w_i^2 (y_i - f)^2 = W (ybar - f)^2 + sum_i w_i^2 (y_i - ybar)^2,
//   W = sum_i w_i^2, ybar = sum_i w_i^2 y_i / W,
// i.e. one point (x, ybar) with weight sqrt(W), plus the constant within-tie scatter that no spline can
// remove (it is subtracted from s and added back to the reported residual).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xexpression.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum::detail {

/// Copies a 1-D range of numbers (std::vector<float>, xt::xtensor<double, 1>, ...) into doubles.
template <class C>
std::vector<double> to_doubles(const C& c, const std::string& who, const char* name) {
    using value = std::decay_t<decltype(*std::begin(c))>;
    static_assert(std::is_arithmetic_v<value>,
                  "ferrum FITPACK splines: x, y and w must be 1-D ranges of numbers "
                  "(std::vector<double>, xt::xtensor<double, 1>, ...)");
    if constexpr (xt::is_xexpression<C>::value) {
        if (c.dimension() != 1)
            throw value_error(who + ": " + name + " must be 1-D, got " + std::to_string(c.dimension()) + " dimensions");
    }
    return std::vector<double>(std::begin(c), std::end(c));
}

struct merged_curve {
    std::vector<double> x, y, w;
    double tie_scatter = 0.0;  ///< sum over ties of w_i^2 (y_i - ybar)^2
};

/// Checks sizes and values (naming the offending index), sorts by x and merges equal x.
/// An empty w means unit weights.
inline merged_curve merge_curve(const std::vector<double>& x, const std::vector<double>& y,
                                const std::vector<double>& w, const std::string& who) {
    const std::size_t m = x.size();
    if (y.size() != m)
        throw value_error(who + ": x and y must have the same length (" + std::to_string(m) + " vs " +
                          std::to_string(y.size()) + ")");
    if (!w.empty() && w.size() != m)
        throw value_error(who + ": w must be empty or have the length of x (" + std::to_string(m) + " vs " +
                          std::to_string(w.size()) + ")");
    for (std::size_t i = 0; i < m; ++i) {
        if (!std::isfinite(x[i]))
            throw value_error(who + ": x[" + std::to_string(i) + "] is not finite (" + std::to_string(x[i]) + ")");
        if (!std::isfinite(y[i]))
            throw value_error(who + ": y[" + std::to_string(i) + "] is not finite (" + std::to_string(y[i]) + ")");
        if (!w.empty() && !(std::isfinite(w[i]) && w[i] > 0.0))
            throw value_error(who + ": w[" + std::to_string(i) + "] = " + std::to_string(w[i]) +
                              " must be positive and finite");
    }
    std::vector<std::size_t> order(m);
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (!std::is_sorted(x.begin(), x.end()))
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });

    merged_curve out;
    out.x.reserve(m);
    out.y.reserve(m);
    out.w.reserve(m);
    for (std::size_t i = 0; i < m;) {
        std::size_t j = i + 1;
        while (j < m && x[order[j]] == x[order[i]]) ++j;
        const auto weight = [&](std::size_t r) { return w.empty() ? 1.0 : w[order[r]]; };
        if (j == i + 1) {
            out.x.push_back(x[order[i]]);
            out.y.push_back(y[order[i]]);
            out.w.push_back(weight(i));
        } else {
            double sw2 = 0.0, swy = 0.0;
            for (std::size_t r = i; r < j; ++r) {
                sw2 += weight(r) * weight(r);
                swy += weight(r) * weight(r) * y[order[r]];
            }
            const double ybar = swy / sw2;
            for (std::size_t r = i; r < j; ++r)
                out.tie_scatter += weight(r) * weight(r) * (y[order[r]] - ybar) * (y[order[r]] - ybar);
            out.x.push_back(x[order[i]]);
            out.y.push_back(ybar);
            out.w.push_back(std::sqrt(sw2));
        }
        i = j;
    }
    return out;
}

}  // namespace ferrum::detail
