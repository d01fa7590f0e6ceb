// How well RR Lyrae [Fe/H] predictions match their labels: R^2, RMSE, MAE and their 1/sigma^2-weighted forms
// (Monti et al. 2025, Sect. 5), overall, per type, by number of epochs, mean G and Blazhko modulation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/models/rrlyrae_calibration.hpp"
#include "ferrum/stats/metrics.hpp"

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

/// \brief R^2, RMSE, MAE and their 1/sigma^2-weighted forms (sigma empty: weighted = unweighted).
inline rrl_metrics rrl_score(const std::vector<double>& y, const std::vector<double>& pred,
                             const std::vector<double>& sigma = {}) {
    rrl_metrics m;
    m.n = y.size();
    if (y.size() < 2) throw value_error("rrl_score: at least 2 predictions are needed");
    const auto u = evaluate_regression(y, pred);
    m.r2 = u.r2;
    m.rmse = u.rmse;
    m.mae = u.mae;
    m.bias = u.bias;
    if (sigma.empty()) {
        m.wr2 = m.r2;
        m.wrmse = m.rmse;
        m.wmae = m.mae;
    } else {
        std::vector<double> w(sigma.size());
        for (std::size_t i = 0; i < w.size(); ++i) {
            if (!(sigma[i] > 0)) throw value_error("rrl_score: label errors must be > 0");
            w[i] = 1.0 / (sigma[i] * sigma[i]);
        }
        const auto v = evaluate_regression(y, pred, w);
        m.wr2 = v.r2;
        m.wrmse = v.rmse;
        m.wmae = v.mae;
    }
    return m;
}

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

/// \brief Metrics as JSON: all stars, per type, by number of epochs and, where the labels say, by mean G
/// and Blazhko modulation. Weighted forms use 1/label_sigma^2 (when every label has an error). When every
/// star of a group has a predicted sigma > 0: the fractions of stars within 1 and 2 sigma of their label
/// (coverage_1sigma, coverage_2sigma: 0.683 and 0.954 for sigmas that mean what they say), the median sigma
/// and the RMS of (prediction - label) / sigma.
inline nlohmann::json evaluate_rrlyrae(const std::vector<rrl_scored_star>& stars, std::size_t n_unpredicted = 0) {
    auto score = [&](auto keep) -> nlohmann::json {
        std::vector<double> y, p, s, r, ps;
        bool all_sigma = true, all_pred_sigma = true;
        for (const auto& x : stars)
            if (keep(x)) {
                y.push_back(x.truth);
                p.push_back(x.feh);
                s.push_back(x.label_sigma);
                r.push_back(x.feh - x.truth);
                ps.push_back(x.sigma);
                all_sigma = all_sigma && x.label_sigma > 0;
                all_pred_sigma = all_pred_sigma && x.sigma > 0 && std::isfinite(x.sigma);
            }
        if (y.size() < 2) return {{"n", y.size()}};
        auto j = rrl_score(y, p, all_sigma ? s : std::vector<double>{}).to_json();
        if (all_pred_sigma) {
            j["coverage_1sigma"] = rrl_coverage(r, ps, 1.0);
            j["coverage_2sigma"] = rrl_coverage(r, ps, 2.0);
            std::vector<double> sorted = ps;
            std::nth_element(sorted.begin(), sorted.begin() + std::ptrdiff_t(sorted.size() / 2), sorted.end());
            j["median_sigma"] = sorted[sorted.size() / 2];
            double z2 = 0;
            for (std::size_t i = 0; i < r.size(); ++i) z2 += (r[i] / ps[i]) * (r[i] / ps[i]);
            j["z_rms"] = std::sqrt(z2 / double(r.size()));
        }
        return j;
    };
    nlohmann::json j;
    j["n_scored"] = stars.size();
    j["n_unpredicted"] = n_unpredicted;
    j["all"] = score([](const rrl_scored_star&) { return true; });
    for (rr_type t : {rr_type::rrab, rr_type::rrc})
        if (std::any_of(stars.begin(), stars.end(), [&](const auto& x) { return x.type == t; }))
            j["per_type"][to_string(t)] = score([&](const rrl_scored_star& x) { return x.type == t; });
    const std::vector<std::pair<double, double>> ne{{0, 50}, {50, 70}, {70, 100}, {100, 1e9}};
    for (const auto& bin : ne) {
        const double lo = bin.first, hi = bin.second;  // not a structured binding: lambdas capture these
        auto m = score([&](const rrl_scored_star& x) { return double(x.n_epochs) >= lo && double(x.n_epochs) < hi; });
        m["n_epochs"] = {lo, hi >= 1e9 ? nlohmann::json(nullptr) : nlohmann::json(hi)};
        j["by_n_epochs"].push_back(m);
    }
    if (std::any_of(stars.begin(), stars.end(), [](const auto& x) { return std::isfinite(x.mean_g); }))
        for (const auto& bin : std::vector<std::pair<double, double>>{{0, 16}, {16, 18}, {18, 19.5}, {19.5, 99}}) {
            const double lo = bin.first, hi = bin.second;
            auto m = score([&](const rrl_scored_star& x) { return x.mean_g >= lo && x.mean_g < hi; });
            m["mean_g"] = {lo, hi};
            j["by_mean_g"].push_back(m);
        }
    if (std::any_of(stars.begin(), stars.end(), [](const auto& x) { return x.blazhko >= 0; })) {
        j["by_blazhko"]["yes"] = score([](const rrl_scored_star& x) { return x.blazhko == 1; });
        j["by_blazhko"]["no"] = score([](const rrl_scored_star& x) { return x.blazhko == 0; });
    }
    return j;
}

}  // namespace ferrum::models
