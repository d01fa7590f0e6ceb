// What the relation model files (linear relations, gradient boosting) share: the preprocessing they record
// (feature names, the phase convention) and their self-test: a few rows of raw features
// (with their 1-sigma errors where the model uses them) and the model's outputs for them, re-predicted when the
// file is loaded, as frugally-deep's load_model(verify = true). The rows are stored in the phase convention
// opposite to the model's when it has phase features, so the load re-runs the conversion (the preprocessing)
// as well as the arithmetic.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/model_reader.hpp"
#include "ferrum/relations/feature_table.hpp"

namespace ferrum::detail {

/// The feature names of a relation file (the member "features" of `pre`, at JSON path `at`): at least one,
/// each named once (any case).
inline std::vector<std::string> relation_features(const model_reader& r, const nlohmann::json& pre,
                                                  const std::string& at = "preprocessing") {
    const auto names = r.get<std::vector<std::string>>(pre, "features", at);
    const std::string path = join_path(at, "features");
    if (names.empty()) r.fail(path, "needs at least one feature");
    for (std::size_t j = 0; j < names.size(); ++j) {
        if (names[j].empty()) r.fail(path, "feature " + std::to_string(j) + " has no name");
        for (std::size_t k = 0; k < j; ++k)
            if (iequals(names[j], names[k])) r.fail(path, "'" + names[j] + "' is named twice");
    }
    return names;
}

/// The phase convention of the model's phase features (phi21, phi31, ...): the member "phase_convention".
inline phase_convention relation_convention(const model_reader& r, const nlohmann::json& pre,
                                            const std::string& at = "preprocessing") {
    try {
        return parse_phase_convention(r.get<std::string>(pre, "phase_convention", at));
    } catch (const value_error& e) {
        r.fail(join_path(at, "phase_convention"), e.what());
    }
}

/// Self-test rows when a model has none of real data: every feature at 0, at 1, and at 0.5 + 0.25 j (values
/// only: they prove the arithmetic, the coefficient order and the phase conversion, not the physics).
inline feature_table relation_check_inputs(const std::vector<std::string>& features) {
    feature_table t;
    for (std::size_t j = 0; j < features.size(); ++j) t.add(features[j], {0.0, 1.0, 0.5 + 0.25 * double(j)});
    return t;
}

/// The convention a self-test stores its rows in: the other one when a feature is a phase difference.
inline phase_convention self_test_convention(const std::vector<std::string>& features, phase_convention model) {
    const bool phases = std::any_of(features.begin(), features.end(), [](const auto& n) { return phase_harmonic(n); });
    if (!phases) return model;
    return model == phase_convention::cosine ? phase_convention::sine : phase_convention::cosine;
}

/// The "self_test" object: `rows` (in the model's convention `model`) stored in self_test_convention(),
/// with `predict(table, convention)` -> one vector of outputs per row.
template <class Predict>
nlohmann::json relation_self_test(const feature_table& rows, phase_convention model, double tolerance,
                                  Predict&& predict) {
    const phase_convention stored = self_test_convention(rows.names, model);
    const feature_table t = convert_phases(rows, model, stored);
    nlohmann::json values = nlohmann::json::array(), errors = nlohmann::json::array();
    for (std::size_t i = 0; i < t.rows(); ++i) {
        std::vector<double> v, e;
        for (std::size_t j = 0; j < t.cols(); ++j) v.push_back(t(i, j)), e.push_back(t.error(i, j));
        values.push_back(v);
        errors.push_back(e);
    }
    nlohmann::json st{{"phase_convention", to_string(stored)}, {"rows", values}};
    if (t.has_errors()) st["errors"] = errors;
    st["outputs"] = predict(t, stored);
    st["tolerance"] = tolerance;
    return st;
}

/// The rows of a file's "self_test" (features named `features`) as a table in the convention it states.
inline feature_table self_test_rows(const model_reader& r, const nlohmann::json& st,
                                    const std::vector<std::string>& features, phase_convention& stored) {
    r.allow_only(st, {"phase_convention", "rows", "errors", "outputs", "tolerance"}, "self_test");
    try {
        stored = parse_phase_convention(r.get<std::string>(st, "phase_convention", "self_test"));
    } catch (const value_error& e) {
        r.fail("self_test.phase_convention", e.what());
    }
    const auto& rows = r.at(st, "rows", "self_test");
    const std::size_t n = rows.is_array() ? rows.size() : 0, p = features.size();
    if (n == 0) r.fail("self_test.rows", "needs at least one row of features");
    const auto v = r.tensor<double>(rows, {n, p}, "self_test.rows");
    std::vector<double> e;
    if (st.contains("errors")) e = r.tensor<double>(st.at("errors"), {n, p}, "self_test.errors");
    feature_table t;
    for (std::size_t j = 0; j < p; ++j) {
        std::vector<double> col(n), err(e.empty() ? 0 : n);
        for (std::size_t i = 0; i < n; ++i) col[i] = v[i * p + j];
        for (std::size_t i = 0; i < err.size(); ++i) err[i] = e[i * p + j];
        t.add(features[j], col, err);
    }
    return t;
}

/// Re-predicts the file's "self_test" (`st`) with `predict(table, convention)` (one vector of `outputs`
/// numbers per row) and throws input_error naming the file when an output differs from the stored one by
/// more than its tolerance (relative to max(1, |stored|); NaN never passes).
template <class Predict>
void verify_relation_self_test(const model_reader& r, const nlohmann::json& st,
                               const std::vector<std::string>& features, std::size_t outputs, Predict&& predict) {
    phase_convention stored = phase_convention::cosine;
    const feature_table t = self_test_rows(r, st, features, stored);
    const auto want = r.tensor<double>(r.at(st, "outputs", "self_test"), {t.rows(), outputs}, "self_test.outputs");
    const double tol = r.get<double>(st, "tolerance", "self_test");
    if (!(tol >= 0 && tol <= 1e-3)) r.fail("self_test.tolerance", "must lie in [0, 1e-3]");
    std::vector<std::vector<double>> got;
    try {
        got = predict(t, stored);
    } catch (const value_error& e) {
        r.fail("self_test.rows", e.what());
    }
    for (std::size_t i = 0; i < t.rows(); ++i)
        for (std::size_t k = 0; k < outputs; ++k) {
            const double a = got.at(i).at(k), b = want[i * outputs + k];
            if (!(std::abs(a - b) <= tol * std::max(1.0, std::abs(b)))) {
                char msg[200];
                std::snprintf(msg, sizeof msg, "row %zu output %zu is %.17g, the file says %.17g (tolerance %g)", i, k,
                              a, b, tol);
                r.fail("self_test.outputs",
                       std::string(msg) + ": a corrupted or edited file, or a build that computes otherwise");
            }
        }
}

}  // namespace ferrum::detail
