// Gradient-boosted regression trees (Chen & Guestrin 2016, XGBoost; squared-error objective, eqs. 2-7)
// on a relation's feature table through the XGBoost C API, with the fit/predict/evaluate surface of
// linear_relation and its phase-convention handling. Needs the ferrum::xgboost CMake target.
#pragma once

#ifndef FERRUM_HAS_XGBOOST
#  error                                                                                                               \
      "ferrum/relations/gradient_boosting.hpp needs XGBoost: link the CMake target ferrum::xgboost (Debian: apt-get install libxgboost-dev), which defines FERRUM_HAS_XGBOOST"
#endif

#include <xgboost/c_api.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/relations/feature_table.hpp"
#include "ferrum/stats/metrics.hpp"

namespace ferrum {

/// \brief Hyper-parameters (XGBoost's names and meanings).
struct gradient_boosting_options {
    int n_estimators = 300;       ///< boosting rounds
    double learning_rate = 0.05;  ///< eta
    int max_depth = 3;
    double subsample = 0.8;
    double colsample_bytree = 1.0;
    double min_child_weight = 1.0;
    double reg_lambda = 1.0;
    std::uint64_t seed = 0;
    int nthread = 1;  ///< XGBoost threads (results are deterministic for a seed and nthread)
    phase_convention convention = phase_convention::cosine;  ///< convention of the training phases
};

namespace detail {
inline void xgb_check(int rc, const char* what) {
    if (rc != 0) throw error(std::string("XGBoost ") + what + " failed: " + XGBGetLastError());
}
struct dmatrix_deleter {
    void operator()(void* h) const noexcept { XGDMatrixFree(h); }
};
struct booster_deleter {
    void operator()(void* h) const noexcept { XGBoosterFree(h); }
};
using dmatrix_ptr = std::unique_ptr<void, dmatrix_deleter>;
using booster_ptr = std::unique_ptr<void, booster_deleter>;

// Row-major float copy of the table's columns `features` (XGBoost trains in single precision).
inline dmatrix_ptr make_dmatrix(const feature_table& T) {
    std::vector<float> data(T.rows() * T.cols());
    for (std::size_t i = 0; i < T.rows(); ++i)
        for (std::size_t j = 0; j < T.cols(); ++j) data[i * T.cols() + j] = float(T(i, j));
    DMatrixHandle h = nullptr;
    xgb_check(XGDMatrixCreateFromMat(data.data(), bst_ulong(T.rows()), bst_ulong(T.cols()),
                                     std::numeric_limits<float>::quiet_NaN(), &h),
              "XGDMatrixCreateFromMat");
    return dmatrix_ptr(h);
}
}  // namespace detail

/// \brief A fitted gradient-boosting model on named features.
class gradient_boosting {
public:
    const std::vector<std::string>& features() const noexcept { return features_; }
    phase_convention convention() const noexcept { return convention_; }

    /// Predictions for the rows of `X` (phases in `input_convention`, converted to the model's).
    std::vector<double> predict(const feature_table& X, phase_convention input_convention) const {
        const feature_table T = convert_phases(X.subset_columns(features_), input_convention, convention_);
        T.validate("gradient_boosting::predict");
        if (T.rows() == 0) return {};
        const auto dm = detail::make_dmatrix(T);
        bst_ulong len = 0;
        const float* out = nullptr;
        detail::xgb_check(XGBoosterPredict(booster_.get(), dm.get(), 0, 0, 0, &len, &out), "XGBoosterPredict");
        return std::vector<double>(out, out + len);
    }
    std::vector<double> predict(const feature_table& X) const { return predict(X, convention_); }

    regression_metrics evaluate(const feature_table& X, const std::vector<double>& y) const {
        return evaluate_regression(y, predict(X));
    }

    /// Writes {format, features, phase_convention, booster (XGBoost's JSON model)} atomically.
    void save(const std::string& path) const {
        bst_ulong len = 0;
        const char* buf = nullptr;
        detail::xgb_check(XGBoosterSaveModelToBuffer(booster_.get(), R"({"format": "json"})", &len, &buf),
                          "XGBoosterSaveModelToBuffer");
        nlohmann::json j;
        j["format"] = "ferrum-gradient-boosting";
        j["version"] = 1;
        j["features"] = features_;
        j["phase_convention"] = to_string(convention_);
        j["booster"] = nlohmann::json::parse(std::string(buf, len));
        write_file_atomically(path, j.dump() + "\n");
    }

    /// Reads a file written by save(); an unknown or missing field is an input_error.
    static gradient_boosting load(const std::string& path) {
        const nlohmann::json j = read_json_file(path, "model file");
        for (auto it = j.begin(); it != j.end(); ++it)
            if (it.key() != "format" && it.key() != "version" && it.key() != "features" &&
                it.key() != "phase_convention" && it.key() != "booster")
                throw input_error(path, 0, it.key(), "unknown field");
        for (const char* k : {"format", "version", "features", "phase_convention", "booster"})
            if (!j.contains(k)) throw input_error(path, 0, k, "required field is missing");
        if (j["format"] != "ferrum-gradient-boosting")
            throw input_error(path, 0, "format", "not a gradient-boosting model");
        gradient_boosting m;
        m.features_ = j["features"].get<std::vector<std::string>>();
        m.convention_ = parse_phase_convention(j["phase_convention"].get<std::string>());
        const std::string booster = j["booster"].dump();
        BoosterHandle h = nullptr;
        detail::xgb_check(XGBoosterCreate(nullptr, 0, &h), "XGBoosterCreate");
        m.booster_.reset(h);
        detail::xgb_check(XGBoosterLoadModelFromBuffer(h, booster.data(), bst_ulong(booster.size())),
                          "XGBoosterLoadModelFromBuffer");
        return m;
    }

private:
    friend gradient_boosting fit_gradient_boosting(const feature_table&, const std::vector<double>&,
                                                   const gradient_boosting_options&);
    std::vector<std::string> features_;
    phase_convention convention_ = phase_convention::cosine;
    detail::booster_ptr booster_;
};

/// \brief Fits boosted trees of y on every column of X (squared error). value_error for bad input.
inline gradient_boosting fit_gradient_boosting(const feature_table& X, const std::vector<double>& y,
                                               const gradient_boosting_options& options = {}) {
    X.validate("fit_gradient_boosting");
    detail::check_target("fit_gradient_boosting", X.rows(), y, {});
    if (X.rows() < 2 || X.cols() == 0) throw value_error("fit_gradient_boosting: needs at least 2 rows and 1 feature");
    if (options.n_estimators < 1) throw value_error("fit_gradient_boosting: n_estimators must be >= 1");
    const auto dm = detail::make_dmatrix(X);
    const std::vector<float> label(y.begin(), y.end());
    detail::xgb_check(XGDMatrixSetFloatInfo(dm.get(), "label", label.data(), bst_ulong(label.size())), "set label");
    gradient_boosting m;
    m.features_ = X.names;
    m.convention_ = options.convention;
    BoosterHandle h = nullptr;
    DMatrixHandle train[] = {dm.get()};
    detail::xgb_check(XGBoosterCreate(train, 1, &h), "XGBoosterCreate");
    m.booster_.reset(h);
    auto set = [&](const char* k, const std::string& v) { detail::xgb_check(XGBoosterSetParam(h, k, v.c_str()), k); };
    set("objective", "reg:squarederror");
    set("tree_method", "exact");
    set("eta", std::to_string(options.learning_rate));
    set("max_depth", std::to_string(options.max_depth));
    set("subsample", std::to_string(options.subsample));
    set("colsample_bytree", std::to_string(options.colsample_bytree));
    set("min_child_weight", std::to_string(options.min_child_weight));
    set("lambda", std::to_string(options.reg_lambda));
    set("seed", std::to_string(options.seed));
    set("nthread", std::to_string(options.nthread));
    set("verbosity", "0");
    for (int it = 0; it < options.n_estimators; ++it)
        detail::xgb_check(XGBoosterUpdateOneIter(h, it, dm.get()), "XGBoosterUpdateOneIter");
    return m;
}

}  // namespace ferrum
