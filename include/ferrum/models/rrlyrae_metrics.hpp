// How well RR Lyrae [Fe/H] predictions match their labels: R^2, RMSE, MAE and their 1/sigma^2-weighted forms
// (Monti et al. 2025, Sect. 5), overall, per type, by number of epochs, mean G and Blazhko modulation.
// One code path for stars in memory and stars read again from a file of any size: accumulators that take the
// stars in two passes (pass 1 the sums of MSE, MAE, bias and the weighted means, the coverage counts and sum z^2;
// pass 2 the R^2 sums about those means, as r2_score adds them), and an exact streamed median of sigma
// (stats/streamed_selection.hpp). Every sum is added in the stars' order, as stats/metrics.hpp adds it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/models/rrlyrae_calibration.hpp"
#include "ferrum/stats/streamed_selection.hpp"

namespace ferrum::models {

/// \brief Metrics of one set of predictions (weights: 1/sigma_label^2 when label errors are given).
struct rrl_metrics {
    std::size_t n = 0;
    double r2 = 0, rmse = 0, mae = 0, wr2 = 0, wrmse = 0, wmae = 0, bias = 0;
    nlohmann::json to_json() const {
        return {{"n", n},     {"r2", r2},       {"rmse", rmse}, {"mae", mae},
                {"wr2", wr2}, {"wrmse", wrmse}, {"wmae", wmae}, {"bias", bias}};
    }
};

/// \brief One predicted star with its label, for evaluate_rrlyrae() and the plots.
struct rrl_scored_star {
    std::string id;
    rr_type type = rr_type::unknown;
    double truth = 0.0, label_sigma = 0.0;  ///< label and its error (0: unknown, unweighted)
    double feh = 0.0;                       ///< prediction
    std::size_t n_epochs = 0;
    double mean_g = std::numeric_limits<double>::quiet_NaN();  ///< when known (simulated labels carry it)
    int blazhko = -1;                                          ///< 1/0 when known, -1 unknown
    double sigma = std::numeric_limits<double>::quiet_NaN();   ///< the prediction's sigma, when it has one
};

namespace detail {

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

/// The sums of one group of stars (all, a type, an epoch bin, ...), and its metrics with the errors that
/// stats/metrics.hpp gives on the same values (non-finite values, bad weights).
struct rrl_group_sums {
    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
    std::size_t n = 0;
    bool all_sigma = true, all_pred_sigma = true;
    rrl_regression_sums plain, weighted;
    std::size_t in1 = 0, in2 = 0;
    double z2 = 0;
    std::size_t non_finite = none;  ///< index of the first star whose label or prediction is not finite
    std::size_t bad_weight = none;  ///< index of the first weight 1/sigma^2 that is infinite
    double bad_weight_value = 0;

    void first_pass(const rrl_scored_star& x) {
        ++n;
        if (non_finite == none && !(std::isfinite(x.truth) && std::isfinite(x.feh))) non_finite = n - 1;
        all_sigma = all_sigma && x.label_sigma > 0;
        all_pred_sigma = all_pred_sigma && x.sigma > 0 && std::isfinite(x.sigma);
        plain.add(1.0, x.truth, x.feh);
        const double w = 1.0 / (x.label_sigma * x.label_sigma);
        if (!(std::isfinite(w) && w >= 0.0) && bad_weight == none) bad_weight = n - 1, bad_weight_value = w;
        weighted.add(w, x.truth, x.feh);
        const double r = x.feh - x.truth;
        in1 += std::abs(r) <= 1.0 * x.sigma;
        in2 += std::abs(r) <= 2.0 * x.sigma;
        z2 += (r / x.sigma) * (r / x.sigma);
    }
    void second_pass(const rrl_scored_star& x) {
        plain.add_r2(1.0, x.truth, x.feh);
        weighted.add_r2(1.0 / (x.label_sigma * x.label_sigma), x.truth, x.feh);
    }
    /// The metrics of n >= 2 stars; weighted by 1/label_sigma^2 when `weighted` (every label_sigma > 0).
    rrl_metrics metrics(bool use_weights) const {
        if (non_finite != none) throw value_error("r2_score: non-finite value at index " + std::to_string(non_finite));
        rrl_metrics m;
        m.n = n;
        m.r2 = plain.r2();
        m.rmse = std::sqrt(plain.squared / plain.sw);
        m.mae = plain.absolute / plain.sw;
        m.bias = plain.residual / plain.sw;
        if (!use_weights) {
            m.wr2 = m.r2, m.wrmse = m.rmse, m.wmae = m.mae;
            return m;
        }
        if (!all_sigma) throw value_error("rrl_score: label errors must be > 0");
        if (bad_weight != none)  // as checked_weights (stats/metrics.hpp)
            throw value_error("r2_score: weight at index " + std::to_string(bad_weight) +
                              " is negative or not finite (" + std::to_string(bad_weight_value) + ")");
        if (!(weighted.sw > 0.0)) throw value_error("r2_score: weights sum to zero");
        m.wr2 = weighted.r2();
        m.wrmse = std::sqrt(weighted.squared / weighted.sw);
        m.wmae = weighted.absolute / weighted.sw;
        return m;
    }
};

}  // namespace detail

/// \brief R^2, RMSE, MAE and their 1/sigma^2-weighted forms (sigma empty: weighted = unweighted). The values
/// of evaluate_regression (stats/metrics.hpp), from the same sums as evaluate_rrlyrae().
template <class Dummy = void>  // a template: compiled only where it is used
rrl_metrics rrl_score(const std::vector<double>& y, const std::vector<double>& pred,
                      const std::vector<double>& sigma = {}) {
    if (y.size() < 2) throw value_error("rrl_score: at least 2 predictions are needed");
    if (pred.size() != y.size())
        throw value_error("r2_score: " + std::to_string(y.size()) + " true values but " + std::to_string(pred.size()) +
                          " predictions");
    if (!sigma.empty() && sigma.size() != y.size())
        throw value_error("r2_score: " + std::to_string(sigma.size()) + " weights for " + std::to_string(y.size()) +
                          " samples");
    detail::rrl_group_sums g;
    rrl_scored_star x;
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t i = 0; i < y.size(); ++i) {
            x.truth = y[i], x.feh = pred[i], x.label_sigma = sigma.empty() ? 0.0 : sigma[i];
            if (pass == 0) g.first_pass(x);
            else g.second_pass(x);
        }
    return g.metrics(!sigma.empty());
}

/// \brief The sums behind evaluate_rrlyrae(): give it every star in first_pass(), then every star again, in the
/// same order, in second_pass(); then the median sigma of each group (median_sigma_ranks(), an exact selection)
/// and result() give the JSON. Memory: a few numbers per group, whatever the number of stars.
class rrl_metrics_accumulator {
public:
    /// The groups: all, per type, by number of epochs, by mean G, by Blazhko modulation.
    static constexpr std::size_t all = 0, rrab = 1, rrc = 2, epochs = 3, mean_g = 7, blazhko_yes = 11,
                                 blazhko_no = 12, count = 13;
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
    static void groups_of(const rrl_scored_star& x, Visit&& visit) {
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

    void first_pass(const rrl_scored_star& x) {
        ++n_stars_;
        any_mean_g_ = any_mean_g_ || std::isfinite(x.mean_g);
        any_blazhko_ = any_blazhko_ || x.blazhko >= 0;
        groups_of(x, [&](std::size_t k) { g_[k].first_pass(x); });
    }
    void second_pass(const rrl_scored_star& x) {
        groups_of(x, [&](std::size_t k) { g_[k].second_pass(x); });
    }
    std::uint64_t size() const noexcept { return n_stars_; }

    /// For streamed_kth_smallest: the rank of the median sigma in each group that reports one (none: skip),
    /// and the group's count. The values are visit(group, x.sigma) for each group of each star.
    std::pair<std::vector<std::uint64_t>, std::vector<std::uint64_t>> median_sigma_ranks() const {
        std::vector<std::uint64_t> rank(count, std::numeric_limits<std::uint64_t>::max()), n(count, 0);
        for (std::size_t k = 0; k < count; ++k)
            if (g_[k].n >= 2 && g_[k].all_pred_sigma) rank[k] = g_[k].n / 2, n[k] = g_[k].n;
        return {rank, n};
    }

    /// The metrics JSON (evaluate_rrlyrae's), given the median sigma of each group.
    nlohmann::json result(const std::vector<double>& median_sigma, std::size_t n_unpredicted = 0) const {
        const auto score = [&](std::size_t k) -> nlohmann::json {
            const detail::rrl_group_sums& a = g_[k];
            if (a.n < 2) return {{"n", a.n}};
            auto j = a.metrics(a.all_sigma).to_json();
            if (a.all_pred_sigma) {
                j["coverage_1sigma"] = double(a.in1) / double(a.n);
                j["coverage_2sigma"] = double(a.in2) / double(a.n);
                j["median_sigma"] = median_sigma[k];
                j["z_rms"] = std::sqrt(a.z2 / double(a.n));
            }
            return j;
        };
        nlohmann::json j;
        j["n_scored"] = n_stars_;
        j["n_unpredicted"] = n_unpredicted;
        j["all"] = score(all);
        if (g_[rrab].n > 0) j["per_type"][to_string(rr_type::rrab)] = score(rrab);
        if (g_[rrc].n > 0) j["per_type"][to_string(rr_type::rrc)] = score(rrc);
        for (std::size_t i = 0; i < epoch_bins().size(); ++i) {
            const double lo = epoch_bins()[i].first, hi = epoch_bins()[i].second;
            auto m = score(epochs + i);
            m["n_epochs"] = {lo, hi >= 1e9 ? nlohmann::json(nullptr) : nlohmann::json(hi)};
            j["by_n_epochs"].push_back(m);
        }
        if (any_mean_g_)
            for (std::size_t i = 0; i < mean_g_bins().size(); ++i) {
                auto m = score(mean_g + i);
                m["mean_g"] = {mean_g_bins()[i].first, mean_g_bins()[i].second};
                j["by_mean_g"].push_back(m);
            }
        if (any_blazhko_) {
            j["by_blazhko"]["yes"] = score(blazhko_yes);
            j["by_blazhko"]["no"] = score(blazhko_no);
        }
        return j;
    }

private:
    std::array<detail::rrl_group_sums, count> g_{};
    std::uint64_t n_stars_ = 0;
    bool any_mean_g_ = false, any_blazhko_ = false;
};

/// \brief evaluate_rrlyrae() of the stars that `for_each(visit)` passes to visit(const rrl_scored_star&), the
/// same sequence each call: the same JSON, in bounded memory, whatever the number of stars. Two passes, then
/// one to three for the median sigma. Each of `also` (e.g. an rrl_plot_accumulator, models/rrlyrae_plots.hpp)
/// gets every star in the same two passes: also.first_pass(x), then also.second_pass(x).
template <class ForEach, class... Also>
nlohmann::json evaluate_rrlyrae_streamed(ForEach&& for_each, std::size_t n_unpredicted = 0, Also&... also) {
    rrl_metrics_accumulator acc;
    for_each([&](const rrl_scored_star& x) {
        acc.first_pass(x);
        (also.first_pass(x), ...);
    });
    for_each([&](const rrl_scored_star& x) {
        acc.second_pass(x);
        (also.second_pass(x), ...);
    });
    const auto ranks = acc.median_sigma_ranks();
    const auto median_sigma = streamed_kth_smallest(ranks.first, ranks.second, [&](auto&& visit) {
        for_each([&](const rrl_scored_star& x) {
            rrl_metrics_accumulator::groups_of(x, [&](std::size_t k) { visit(k, x.sigma); });
        });
    });
    return acc.result(median_sigma, n_unpredicted);
}

/// \brief Metrics as JSON: all stars, per type, by number of epochs and, where the labels say, by mean G
/// and Blazhko modulation. Weighted forms use 1/label_sigma^2 (when every label has an error). When every
/// star of a group has a predicted sigma > 0: the fractions of stars within 1 and 2 sigma of their label
/// (coverage_1sigma, coverage_2sigma: 0.683 and 0.954 for sigmas that mean what they say), the median sigma
/// and the RMS of (prediction - label) / sigma. evaluate_rrlyrae_streamed() over the vector.
template <class Dummy = void>  // a template: compiled only where it is used
nlohmann::json evaluate_rrlyrae(const std::vector<rrl_scored_star>& stars, std::size_t n_unpredicted = 0) {
    return evaluate_rrlyrae_streamed(
        [&](auto&& visit) {
        for (const auto& x : stars) visit(x);
        },
        n_unpredicted);
}

}  // namespace ferrum::models
