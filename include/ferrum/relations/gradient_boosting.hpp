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
#include "ferrum/core/model_reader.hpp"
#include "ferrum/relations/detail/model_file.hpp"
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

    /// The metadata of the file the model was read from (an empty object for a fitted model); saving the
    /// model without new metadata writes it again.
    const nlohmann::json& metadata() const noexcept { return metadata_; }

    /// \brief The model file's document, {"format": "ferrum.model", "version": 2, "kind": "gradient_boosting"}:
    /// "preprocessing" (the feature names and the phase convention, as data), "booster" (XGBoost's own JSON
    /// model: the trees and the objective), `metadata` as given, and a "self_test" of raw feature rows (five
    /// training rows, stored in the other phase convention) with the model's predictions, re-run at load.
    nlohmann::json to_json(const nlohmann::json& metadata) const {
        bst_ulong len = 0;
        const char* buf = nullptr;
        detail::xgb_check(XGBoosterSaveModelToBuffer(booster_.get(), R"({"format": "json"})", &len, &buf),
                          "XGBoosterSaveModelToBuffer");
        // XGBoost sums its trees in single precision: a build or CPU that adds them in another order differs
        // by a few float ulps, a changed tree or preprocessing by far more.
        const double tolerance = 1e-5;
        auto outputs = [&](const feature_table& t, phase_convention c) { return one_per_row(predict(t, c)); };
        return {{"format", model_file_format},
                {"version", model_file_version},
                {"kind", "gradient_boosting"},
                {"preprocessing", {{"features", features_}, {"phase_convention", to_string(convention_)}}},
                {"booster", nlohmann::json::parse(std::string(buf, len))},
                {"metadata", metadata.is_null() ? nlohmann::json::object() : metadata},
                {"self_test", detail::relation_self_test(test_rows_, convention_, tolerance, outputs)}};
    }
    nlohmann::json to_json() const { return to_json(metadata_); }
    /// Writes to_json(metadata) atomically (a crash never leaves half a model behind).
    void save(const std::string& path, const nlohmann::json& metadata) const {
        write_file_atomically(path, to_json(metadata).dump() + "\n");
    }
    void save(const std::string& path) const { save(path, metadata_); }

    /// \brief The model in `j` (read from `where`, named in errors): version 2 (to_json()), whose self-test is
    /// re-predicted with `verify`, or version 1 ("ferrum-gradient-boosting" of earlier builds: features,
    /// phase_convention, booster; it has no self-test, so one is made from fixed rows, and saving it writes
    /// version 2). An unknown field, a missing one, a wrong kind or version, a booster XGBoost cannot read or
    /// a failed self-test is an input_error naming the file and the field.
    static gradient_boosting from_json(const nlohmann::json& j, const std::string& where = "<model>",
                                       bool verify = true) {
        const detail::model_reader r(where);
        if (!j.is_object()) r.fail("", "a model file holds one JSON object");
        gradient_boosting m;
        if (j.contains("format") && j.at("format") == "ferrum-gradient-boosting") {
            r.allow_only(j, {"format", "version", "features", "phase_convention", "booster"}, "");
            if (r.at(j, "version", "") != 1)
                r.fail("version", "unsupported version " + j.at("version").dump() +
                                      " of ferrum-gradient-boosting (this build reads 1, and 2 of ferrum.model)");
            m.read(r, j, "", r.at(j, "booster", ""));
            m.test_rows_ = detail::relation_check_inputs(m.features_);
            return m;
        }
        r.envelope(j, "gradient_boosting", {"preprocessing", "booster", "metadata", "self_test"});
        const auto& pre = r.at(j, "preprocessing", "");
        r.allow_only(pre, {"features", "phase_convention"}, "preprocessing");
        m.read(r, pre, "preprocessing", r.at(j, "booster", ""));
        if (j.contains("metadata")) {
            m.metadata_ = j.at("metadata");
            if (!m.metadata_.is_object()) r.fail("metadata", "expected an object");
        }
        const auto& st = r.at(j, "self_test", "");
        phase_convention stored = m.convention_;
        m.test_rows_ = convert_phases(detail::self_test_rows(r, st, m.features_, stored), stored, m.convention_);
        auto outputs = [&](const feature_table& t, phase_convention c) {
            try {
                return one_per_row(m.predict(t, c));
            } catch (const value_error&) {
                throw;                  // rows that are no table: verify_relation_self_test names them
            } catch (const error& e) {  // XGBoost refused the rows
                r.fail("self_test", e.what());
            }
        };
        if (verify) detail::verify_relation_self_test(r, st, m.features_, 1, outputs);
        return m;
    }
    /// Reads and verifies a file written by save() (or by earlier builds, version 1).
    static gradient_boosting load(const std::string& path, bool verify = true) {
        return from_json(read_json_file(path, "model file"), path, verify);
    }

private:
    friend gradient_boosting fit_gradient_boosting(const feature_table&, const std::vector<double>&,
                                                   const gradient_boosting_options&);
    static std::vector<std::vector<double>> one_per_row(const std::vector<double>& v) {
        std::vector<std::vector<double>> out;
        for (double x : v) out.push_back({x});
        return out;
    }

    /// The features and phase convention of `pre` (at JSON path `at`) and XGBoost's model `booster`.
    void read(const detail::model_reader& r, const nlohmann::json& pre, const std::string& at,
              const nlohmann::json& booster) {
        features_ = detail::relation_features(r, pre, at);
        convention_ = detail::relation_convention(r, pre, at);
        if (!booster.is_object()) r.fail("booster", "expected XGBoost's JSON model (an object)");
        const std::string text = booster.dump();
        BoosterHandle h = nullptr;
        detail::xgb_check(XGBoosterCreate(nullptr, 0, &h), "XGBoosterCreate");
        booster_.reset(h);
        if (XGBoosterLoadModelFromBuffer(h, text.data(), bst_ulong(text.size())) != 0)
            r.fail("booster", std::string("XGBoost cannot read it: ") + XGBGetLastError());
        bst_ulong n = 0;
        detail::xgb_check(XGBoosterGetNumFeature(h, &n), "XGBoosterGetNumFeature");
        if (n != features_.size())
            r.fail("booster",
                   "takes " + std::to_string(n) + " features, the file names " + std::to_string(features_.size()));
    }

    std::vector<std::string> features_;
    phase_convention convention_ = phase_convention::cosine;
    detail::booster_ptr booster_;
    nlohmann::json metadata_ = nlohmann::json::object();
    feature_table test_rows_;  ///< raw rows of the self-test, in the model's convention
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
    std::vector<std::size_t> rows;  // the self-test: five training rows spread over the table (values only)
    for (std::size_t k = 0; k < 5; ++k) rows.push_back(k * (X.rows() - 1) / 4);
    m.test_rows_ = X.subset_rows(rows);
    for (auto& e : m.test_rows_.errors) e.clear();
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
