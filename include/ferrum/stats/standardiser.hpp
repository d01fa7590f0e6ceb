// Per-column standardisation (z-scores) fitted on training rows and stored in model files: the one used by
// every model for its tabular inputs and features. Optionally clipped, so that one wild value (a Fourier
// fit across a phase gap) cannot dominate a batch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief Column means and standard deviations (population form, as scikit-learn's StandardScaler), applied
/// as z = (v - mean) / scale, clipped to [-clip, clip] when clip > 0. A constant column (standard deviation
/// 0, or below 1e-12 of its mean's magnitude) gets scale 1, so it passes as v - mean = 0.
struct standardiser {
    std::vector<double> mean, scale;
    double clip = 0.0;

    /// Fits on rows[i] for i in idx (every row when idx is empty); each row indexable by column.
    template <class Row>
    void fit(const std::vector<Row>& rows, const std::vector<std::size_t>& idx = {}) {
        std::vector<std::size_t> all;
        if (idx.empty()) {
            all.resize(rows.size());
            std::iota(all.begin(), all.end(), std::size_t{0});
        }
        const auto& use = idx.empty() ? all : idx;
        if (use.empty()) throw value_error("standardiser: no rows to fit");
        const std::size_t d = rows[use.front()].size();
        mean.assign(d, 0.0);
        scale.assign(d, 0.0);
        for (auto i : use) {
            if (rows[i].size() != d) throw value_error("standardiser: rows differ in length");
            for (std::size_t j = 0; j < d; ++j) mean[j] += rows[i][j];
        }
        for (auto& m : mean) m /= double(use.size());
        for (auto i : use)
            for (std::size_t j = 0; j < d; ++j) scale[j] += (rows[i][j] - mean[j]) * (rows[i][j] - mean[j]);
        for (std::size_t j = 0; j < d; ++j) {
            scale[j] = std::sqrt(scale[j] / double(use.size()));
            if (!(scale[j] > 1e-12 * std::abs(mean[j])) || scale[j] == 0.0) scale[j] = 1.0;
        }
    }

    std::size_t size() const noexcept { return mean.size(); }

    /// z-score of value v of column j, before the clip.
    double z(double v, std::size_t j) const noexcept { return (v - mean[j]) / scale[j]; }

    /// z-score of value v of column j, clipped to [-clip, clip] when clip > 0.
    double operator()(double v, std::size_t j) const noexcept {
        const double x = z(v, j);
        return clip > 0 ? std::max(-clip, std::min(clip, x)) : x;
    }

    nlohmann::json to_json() const { return {{"mean", mean}, {"scale", scale}, {"clip", clip}}; }

    /// Reads to_json()'s object; files written before "clip" was recorded get `default_clip`. `field` (e.g.
    /// "preprocessing.flux") names the object in the errors, so a model file's reader can say what to fix: a
    /// scale of 0 would divide by zero and give NaN predictions, so it is refused here.
    static standardiser from_json(const nlohmann::json& j, double default_clip = 0.0, const std::string& field = {}) {
        const std::string at = (field.empty() ? std::string("standardisation") : "field '" + field) + ".";
        const auto bad = [&](const std::string& what, std::size_t k, double v) {
            return value_error(at + what + "[" + std::to_string(k) + "]" + (field.empty() ? "" : "'") + " is " +
                               std::to_string(v) + ": " +
                               (what == "scale" ? "must be a positive finite number" : "must be finite"));
        };
        standardiser s;
        s.mean = j.at("mean").get<std::vector<double>>();
        s.scale = j.at("scale").get<std::vector<double>>();
        s.clip = j.contains("clip") ? j.at("clip").get<double>() : default_clip;
        if (s.mean.size() != s.scale.size()) throw value_error(at + "mean and scale differ in length");
        for (std::size_t k = 0; k < s.scale.size(); ++k)
            if (!(s.scale[k] > 0) || !std::isfinite(s.scale[k])) throw bad("scale", k, s.scale[k]);
        for (std::size_t k = 0; k < s.mean.size(); ++k)
            if (!std::isfinite(s.mean[k])) throw bad("mean", k, s.mean[k]);
        if (!(s.clip >= 0)) throw value_error(at + "clip must be >= 0");
        return s;
    }
};

}  // namespace ferrum
