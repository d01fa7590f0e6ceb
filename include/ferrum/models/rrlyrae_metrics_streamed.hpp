// evaluate_rrlyrae() over stars that are read again instead of held (a file of any size): the same JSON, bit
// for bit, from a few passes. Pass 1 takes the sums of MSE, MAE, bias and the weighted means, the coverage
// counts and sum z^2 (each a sum in the stars' order, as the in-memory functions add them); pass 2 the sums of
// R^2 about those means; the median sigma is selected exactly by streamed_kth_smallest (stats/streamed_selection.hpp).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/models/rrlyrae_metrics.hpp"
#include "ferrum/stats/streamed_selection.hpp"

namespace ferrum::models {

namespace detail {

/// The groups of evaluate_rrlyrae: all, per type, by number of epochs, by mean G, by Blazhko modulation.
struct rrl_metric_groups {
    static constexpr std::size_t all = 0, rrab = 1, rrc = 2, epochs = 3, mean_g = 7, blazhko_yes = 11, blazhko_no = 12,
                                 count = 13;
    static const std::vector<std::pair<double, double>>& epoch_bins() {
        static const std::vector<std::pair<double, double>> b{{0, 50}, {50, 70}, {70, 100}, {100, 1e9}};
        return b;
    }
    static const std::vector<std::pair<double, double>>& mean_g_bins() {
        static const std::vector<std::pair<double, double>> b{{0, 16}, {16, 18}, {18, 19.5}, {19.5, 99}};
        return b;
    }
    /// Calls visit(group) for each group of `x`.
    template <class Visit>
    static void of(const rrl_scored_star& x, Visit&& visit) {
        visit(all);
        if (x.type == rr_type::rrab) visit(rrab);
        if (x.type == rr_type::rrc) visit(rrc);
        for (std::size_t i = 0; i < epoch_bins().size(); ++i)
            if (double(x.n_epochs) >= epoch_bins()[i].first && double(x.n_epochs) < epoch_bins()[i].second)
                visit(epochs + i);
        for (std::size_t i = 0; i < mean_g_bins().size(); ++i)
            if (x.mean_g >= mean_g_bins()[i].first && x.mean_g < mean_g_bins()[i].second) visit(mean_g + i);
        if (x.blazhko == 1) visit(blazhko_yes);
        if (x.blazhko == 0) visit(blazhko_no);
    }
};

/// The weighted sums of r2_score, mean_squared_error, mae and bias (stats/metrics.hpp), in their order.
struct rrl_regression_sums {
    double sw = 0, mean = 0, squared = 0, absolute = 0, residual = 0, num = 0, den = 0;
    void add(double w, double y, double p) {
        sw += w, mean += w * y;
        squared += w * (y - p) * (y - p);
        absolute += w * std::abs(y - p);
        residual += w * (p - y);
    }
    void add_r2(double w, double y, double p) {
        const double m = mean / sw;
        num += w * (y - p) * (y - p);
        den += w * (y - m) * (y - m);
    }
    double r2() const { return den == 0.0 ? (num == 0.0 ? 1.0 : 0.0) : 1.0 - num / den; }
};

}  // namespace detail

/// \brief evaluate_rrlyrae() of the stars that `for_each(visit)` passes to visit(const rrl_scored_star&), the
/// same sequence each call: the same JSON, in bounded memory, whatever the number of stars.
template <class ForEach>
nlohmann::json evaluate_rrlyrae_streamed(ForEach&& for_each, std::size_t n_unpredicted = 0) {
    using groups = detail::rrl_metric_groups;
    struct group {
        std::size_t n = 0;
        bool all_sigma = true, all_pred_sigma = true;
        detail::rrl_regression_sums plain, weighted;
        std::size_t in1 = 0, in2 = 0;
        double z2 = 0;
        std::size_t bad_weight = std::numeric_limits<std::size_t>::max();  ///< index of a weight 1/sigma^2 = inf
        double bad_weight_value = 0;
    };
    std::array<group, groups::count> g{};
    std::size_t n_stars = 0;
    bool any_mean_g = false, any_blazhko = false;
    for_each([&](const rrl_scored_star& x) {
        ++n_stars;
        any_mean_g = any_mean_g || std::isfinite(x.mean_g);
        any_blazhko = any_blazhko || x.blazhko >= 0;
        const double r = x.feh - x.truth;
        groups::of(x, [&](std::size_t k) {
            group& a = g[k];
            ++a.n;
            a.all_sigma = a.all_sigma && x.label_sigma > 0;
            a.all_pred_sigma = a.all_pred_sigma && x.sigma > 0 && std::isfinite(x.sigma);
            a.plain.add(1.0, x.truth, x.feh);
            const double w = 1.0 / (x.label_sigma * x.label_sigma);
            if (!(std::isfinite(w) && w >= 0.0) && a.bad_weight == std::numeric_limits<std::size_t>::max())
                a.bad_weight = a.n - 1, a.bad_weight_value = w;
            a.weighted.add(w, x.truth, x.feh);
            a.in1 += std::abs(r) <= 1.0 * x.sigma;
            a.in2 += std::abs(r) <= 2.0 * x.sigma;
            a.z2 += (r / x.sigma) * (r / x.sigma);
        });
    });
    for_each([&](const rrl_scored_star& x) {
        groups::of(x, [&](std::size_t k) {
            g[k].plain.add_r2(1.0, x.truth, x.feh);
            g[k].weighted.add_r2(1.0 / (x.label_sigma * x.label_sigma), x.truth, x.feh);
        });
    });
    constexpr std::uint64_t skip = std::numeric_limits<std::uint64_t>::max();
    std::vector<std::uint64_t> rank(groups::count, skip), count(groups::count, 0);
    for (std::size_t k = 0; k < groups::count; ++k)
        if (g[k].n >= 2 && g[k].all_pred_sigma) rank[k] = g[k].n / 2, count[k] = g[k].n;
    const auto median_sigma = streamed_kth_smallest(rank, count, [&](auto&& visit) {
        for_each([&](const rrl_scored_star& x) { groups::of(x, [&](std::size_t k) { visit(k, x.sigma); }); });
    });

    const auto score = [&](std::size_t k) -> nlohmann::json {
        const group& a = g[k];
        if (a.n < 2) return {{"n", a.n}};
        rrl_metrics m;
        m.n = a.n;
        m.r2 = a.plain.r2();
        m.rmse = std::sqrt(a.plain.squared / a.plain.sw);
        m.mae = a.plain.absolute / a.plain.sw;
        m.bias = a.plain.residual / a.plain.sw;
        if (a.all_sigma) {
            if (a.bad_weight != std::numeric_limits<std::size_t>::max())  // as checked_weights (stats/metrics.hpp)
                throw value_error("r2_score: weight at index " + std::to_string(a.bad_weight) +
                                  " is negative or not finite (" + std::to_string(a.bad_weight_value) + ")");
            m.wr2 = a.weighted.r2();
            m.wrmse = std::sqrt(a.weighted.squared / a.weighted.sw);
            m.wmae = a.weighted.absolute / a.weighted.sw;
        } else {
            m.wr2 = m.r2;
            m.wrmse = m.rmse;
            m.wmae = m.mae;
        }
        auto j = m.to_json();
        if (a.all_pred_sigma) {
            j["coverage_1sigma"] = double(a.in1) / double(a.n);
            j["coverage_2sigma"] = double(a.in2) / double(a.n);
            j["median_sigma"] = median_sigma[k];
            j["z_rms"] = std::sqrt(a.z2 / double(a.n));
        }
        return j;
    };
    nlohmann::json j;
    j["n_scored"] = n_stars;
    j["n_unpredicted"] = n_unpredicted;
    j["all"] = score(groups::all);
    if (g[groups::rrab].n > 0) j["per_type"][to_string(rr_type::rrab)] = score(groups::rrab);
    if (g[groups::rrc].n > 0) j["per_type"][to_string(rr_type::rrc)] = score(groups::rrc);
    for (std::size_t i = 0; i < groups::epoch_bins().size(); ++i) {
        const double lo = groups::epoch_bins()[i].first, hi = groups::epoch_bins()[i].second;
        auto m = score(groups::epochs + i);
        m["n_epochs"] = {lo, hi >= 1e9 ? nlohmann::json(nullptr) : nlohmann::json(hi)};
        j["by_n_epochs"].push_back(m);
    }
    if (any_mean_g)
        for (std::size_t i = 0; i < groups::mean_g_bins().size(); ++i) {
            auto m = score(groups::mean_g + i);
            m["mean_g"] = {groups::mean_g_bins()[i].first, groups::mean_g_bins()[i].second};
            j["by_mean_g"].push_back(m);
        }
    if (any_blazhko) {
        j["by_blazhko"]["yes"] = score(groups::blazhko_yes);
        j["by_blazhko"]["no"] = score(groups::blazhko_no);
    }
    return j;
}

}  // namespace ferrum::models
