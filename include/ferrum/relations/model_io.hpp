// Model files of linear relations, in the envelope every ferrum model file shares (core/model_reader.hpp):
// {"format": "ferrum.model", "version": 2, "kind": "linear_relation"} with the preprocessing as data (target,
// feature names, the phase convention the model expects), the parameters (coefficients, covariance, sigma_int
// and their posterior summary), the training record, free metadata and, as frugally-deep does, a self-test of
// raw feature rows that load_linear_relation() re-predicts to prove the file. Files of earlier builds
// ("ferrum-linear-relation" version 1) are converted when read: their check vectors become the self-test.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>  // SelfAdjointEigenSolver
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/model_reader.hpp"
#include "ferrum/relations/detail/model_file.hpp"
#include "ferrum/relations/linear_relation.hpp"

namespace ferrum {

/// \brief The kind of a linear-relation model file (format ferrum::model_file_format, version 2).
inline constexpr const char* linear_relation_kind = "linear_relation";

namespace detail {

/// The self-test rows of a relation: relation_check_inputs() with feature errors 0, 0.1 and 0.05 (j + 1), so
/// the test covers the propagated feature errors of the sigma too.
inline feature_table linear_relation_test_rows(const std::vector<std::string>& features) {
    feature_table t = relation_check_inputs(features);
    for (std::size_t j = 0; j < t.cols(); ++j) t.errors[j] = {0.0, 0.1, 0.05 * double(j + 1)};
    return t;
}

// What the self-test compares: (value, sigma) of each row.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<std::vector<double>> value_and_sigma(const linear_relation& rel, const feature_table& t,
                                                        phase_convention c) {
    const auto p = rel.predict(t, c);
    std::vector<std::vector<double>> out;
    for (std::size_t i = 0; i < p.value.size(); ++i) out.push_back({p.value[i], p.sigma[i]});
    return out;
}

// A covariance must be symmetric and positive semi-definite: a negative variance would make every predicted
// sigma the square root of a negative number (NaN, written as "-nan" by earlier builds).
template <class Dummy = void>  // a template: compiled only where it is used
void check_covariance(const Eigen::MatrixXd& covariance, const model_reader& r, const std::string& path) {
    // the matrix's type spelt dependent on Dummy: the eigen-solver is compiled only where a file is read
    const std::conditional_t<std::is_void_v<Dummy>, Eigen::MatrixXd, Eigen::MatrixXd>& c = covariance;
    const double scale = std::max(1.0, c.cwiseAbs().maxCoeff());
    if (!((c - c.transpose()).cwiseAbs().maxCoeff() <= 1e-9 * scale))
        r.fail(path, "is not symmetric (corrupted or edited file)");
    const Eigen::SelfAdjointEigenSolver<std::decay_t<decltype(c)>> eig(c, Eigen::EigenvaluesOnly);
    const double smallest = eig.eigenvalues().minCoeff();
    if (eig.info() != Eigen::Success || !(smallest >= -1e-10 * scale))
        r.fail(path, "is not positive semi-definite (smallest eigenvalue " + std::to_string(smallest) +
                         "): the sigmas would be NaN (corrupted or edited file)");
}

}  // namespace detail

/// \brief The model file's document; `metadata` (any JSON object: the training table, filters, a date) is
/// kept as is.
template <class Dummy = void>  // a template: compiled only where it is used
nlohmann::json to_json(const linear_relation& rel, const nlohmann::json& metadata = nlohmann::json::object()) {
    using nlohmann::json;
    if (rel.features.empty())
        throw value_error("linear relation model file: a relation without features predicts nothing");
    json cov = json::array();
    for (Eigen::Index r = 0; r < rel.covariance.rows(); ++r) {
        std::vector<double> row(std::size_t(rel.covariance.cols()));
        for (Eigen::Index c = 0; c < rel.covariance.cols(); ++c) row[std::size_t(c)] = rel.covariance(r, c);
        cov.push_back(row);
    }
    json iv = json::array();
    const auto names = rel.parameter_names();
    for (std::size_t k = 0; k < rel.intervals.size(); ++k)
        for (const auto& c : rel.intervals[k])
            iv.push_back({{"parameter", names[k]}, {"level", c.level}, {"lower", c.lower}, {"upper", c.upper}});
    json tr = {{"method", to_string(rel.method)},
               {"n", rel.n_train},
               {"log_likelihood", rel.log_likelihood},
               {"iterations", rel.iterations}};
    if (rel.mcmc) {
        const auto& m = *rel.mcmc;
        tr["mcmc"] = {{"walkers", m.walkers}, {"burn_in", m.burn_in},
                      {"steps", m.steps},     {"acceptance_fraction", m.acceptance_fraction},
                      {"rhat", m.rhat},       {"autocorr_time", m.autocorr_time},
                      {"ess", m.ess}};
    }
    const double tolerance = 1e-12;  // the arithmetic is a few double operations: any change shows
    return {{"format", model_file_format},
            {"version", model_file_version},
            {"kind", linear_relation_kind},
            {"preprocessing",
             {{"target", rel.target}, {"features", rel.features}, {"phase_convention", to_string(rel.convention)}}},
            {"parameters",
             {{"coefficients", rel.coefficients},
              {"covariance", cov},
              {"sigma_int", rel.sigma_int},
              {"sigma_int_sd", rel.sigma_int_sd},
              {"intervals", iv}}},
            {"training", tr},
            {"metadata", metadata.is_null() ? json::object() : metadata},
            {"self_test", detail::relation_self_test(detail::linear_relation_test_rows(rel.features), rel.convention,
                                                     tolerance, [&](const feature_table& t, phase_convention c) {
                                                         return detail::value_and_sigma(rel, t, c);
                                                     })}};
}

/// \brief Writes the model file atomically (a crash never leaves half a model behind).
template <class Dummy = void>  // a template: compiled only where it is used
void save_linear_relation(const std::string& path, const linear_relation& rel,
                                 const nlohmann::json& metadata = nlohmann::json::object()) {
    write_file_atomically(path, to_json(rel, metadata).dump(1) + "\n");
}

namespace detail {

/// A version-1 document ("ferrum-linear-relation", written by builds before the envelope) as the version-2
/// document it holds: the same numbers under the version-2 names, metadata as it was, and its check vectors
/// (rows without feature errors, in the model's convention, with their value and sigma) as the self-test, at
/// a tolerance no tighter than the version-1 reader's 1e-12 (1 + |v|).
template <class Dummy = void>  // a template: compiled only where it is used
nlohmann::json linear_relation_v1_to_v2(const nlohmann::json& j, const model_reader& r) {
    const std::set<std::string> v1{"format",       "version",    "target",    "features",     "phase_convention",
                                   "coefficients", "covariance", "sigma_int", "sigma_int_sd", "method",
                                   "intervals",    "training",   "metadata",  "check"};
    r.allow_only(j, v1, "");
    for (const auto& k : v1)
        if (k != "metadata") r.at(j, k, "");
    if (j.at("version") != 1)
        r.fail("version", "unsupported version " + j.at("version").dump() +
                              " of ferrum-linear-relation (this build reads 1, and 2 of ferrum.model)");
    const auto& check = j.at("check");
    r.allow_only(check, {"inputs", "value", "sigma"}, "check");
    const auto value = r.get<std::vector<double>>(check, "value", "check");
    const auto sigma = r.get<std::vector<double>>(check, "sigma", "check");
    if (value.size() != sigma.size()) r.fail("check", "value and sigma differ in length");
    nlohmann::json outputs = nlohmann::json::array();
    for (std::size_t i = 0; i < value.size(); ++i) outputs.push_back({value[i], sigma[i]});
    nlohmann::json training = j.at("training");
    if (!training.is_object()) r.fail("training", "expected an object");
    training["method"] = j.at("method");
    return {
        {"format", model_file_format},
        {"version", model_file_version},
        {"kind", linear_relation_kind},
        {"preprocessing",
         {{"target", j.at("target")}, {"features", j.at("features")}, {"phase_convention", j.at("phase_convention")}}},
        {"parameters",
         {{"coefficients", j.at("coefficients")},
          {"covariance", j.at("covariance")},
          {"sigma_int", j.at("sigma_int")},
          {"sigma_int_sd", j.at("sigma_int_sd")},
          {"intervals", j.at("intervals")}}},
        {"training", training},
        {"metadata", j.value("metadata", nlohmann::json::object())},
        {"self_test",
         {{"phase_convention", j.at("phase_convention")},
          {"rows", check.at("inputs")},
          {"outputs", outputs},
          {"tolerance", 2e-12}}}};
}

template <class Dummy = void>  // a template: compiled only where it is used
fit_method fit_method_at(const model_reader& r, const nlohmann::json& tr) {
    const auto m = r.get<std::string>(tr, "method", "training");
    if (m != "laplace" && m != "mcmc") r.fail("training.method", "must be 'laplace' or 'mcmc', not '" + m + "'");
    return m == "laplace" ? fit_method::laplace : fit_method::mcmc;
}

template <class Dummy = void>  // a template: compiled only where it is used
mcmc_diagnostics mcmc_diagnostics_at(const model_reader& r, const nlohmann::json& mj) {
    const std::string at = "training.mcmc";
    r.allow_only(mj, {"walkers", "burn_in", "steps", "acceptance_fraction", "rhat", "autocorr_time", "ess"}, at);
    mcmc_diagnostics d;
    d.walkers = r.get<std::size_t>(mj, "walkers", at);
    d.burn_in = r.get<std::size_t>(mj, "burn_in", at);
    d.steps = r.get<std::size_t>(mj, "steps", at);
    d.acceptance_fraction = r.get<double>(mj, "acceptance_fraction", at);
    d.rhat = r.get<std::vector<double>>(mj, "rhat", at);
    d.autocorr_time = r.get<std::vector<double>>(mj, "autocorr_time", at);
    d.ess = r.get<std::vector<double>>(mj, "ess", at);
    return d;
}

/// A version-2 document (checked against the envelope); with `verify` its self-test is re-predicted.
template <class Dummy = void>  // a template: compiled only where it is used
inline linear_relation linear_relation_from_v2(const nlohmann::json& j, const model_reader& r, bool verify) {
    r.envelope(j, linear_relation_kind, {"preprocessing", "parameters", "training", "metadata", "self_test"});
    linear_relation rel;
    const auto& pre = r.at(j, "preprocessing", "");
    r.allow_only(pre, {"target", "features", "phase_convention"}, "preprocessing");
    rel.target = r.get<std::string>(pre, "target", "preprocessing");
    rel.features = relation_features(r, pre);
    rel.convention = relation_convention(r, pre);

    const auto& par = r.at(j, "parameters", "");
    r.allow_only(par, {"coefficients", "covariance", "sigma_int", "sigma_int_sd", "intervals"}, "parameters");
    const std::size_t q = rel.features.size() + 1;
    const auto& coefficients = r.at(par, "coefficients", "parameters");
    if (!coefficients.is_array() || coefficients.size() != q)
        r.fail("parameters.coefficients",
               "needs " + std::to_string(q) + " numbers: the intercept, then one per feature");
    rel.coefficients = r.tensor<double>(coefficients, {q}, "parameters.coefficients");
    const auto cov = r.tensor<double>(r.at(par, "covariance", "parameters"), {q, q}, "parameters.covariance");
    rel.covariance = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        cov.data(), Eigen::Index(q), Eigen::Index(q));
    check_covariance(rel.covariance, r, "parameters.covariance");
    rel.sigma_int = r.get<double>(par, "sigma_int", "parameters");
    if (!(rel.sigma_int >= 0) || !std::isfinite(rel.sigma_int)) r.fail("parameters.sigma_int", "must be >= 0");
    rel.sigma_int_sd = r.get<double>(par, "sigma_int_sd", "parameters");
    const auto names = rel.parameter_names();
    rel.intervals.assign(names.size(), {});
    const auto& ivs = r.at(par, "intervals", "parameters");
    if (!ivs.is_array()) r.fail("parameters.intervals", "expected an array");
    for (const auto& iv : ivs) {
        r.allow_only(iv, {"parameter", "level", "lower", "upper"}, "parameters.intervals");
        const auto p = r.get<std::string>(iv, "parameter", "parameters.intervals");
        const auto it = std::find(names.begin(), names.end(), p);
        if (it == names.end()) r.fail("parameters.intervals", "unknown parameter '" + p + "'");
        rel.intervals[std::size_t(it - names.begin())].push_back({r.get<double>(iv, "level", "parameters.intervals"),
                                                                  r.get<double>(iv, "lower", "parameters.intervals"),
                                                                  r.get<double>(iv, "upper", "parameters.intervals")});
    }

    const auto& tr = r.at(j, "training", "");
    r.allow_only(tr, {"method", "n", "log_likelihood", "iterations", "mcmc"}, "training");
    rel.method = fit_method_at(r, tr);
    rel.n_train = r.get<std::size_t>(tr, "n", "training");
    rel.log_likelihood = r.get<double>(tr, "log_likelihood", "training");
    rel.iterations = r.get<int>(tr, "iterations", "training");
    if (tr.contains("mcmc")) rel.mcmc = mcmc_diagnostics_at(r, tr.at("mcmc"));
    if (j.contains("metadata") && !j.at("metadata").is_object()) r.fail("metadata", "expected an object");

    const auto& self_test = r.at(j, "self_test", "");
    if (verify)
        verify_relation_self_test(r, self_test, rel.features, 2, [&](const feature_table& t, phase_convention c) {
            return value_and_sigma(rel, t, c);
        });
    return rel;
}

}  // namespace detail

/// \brief The model in `j` (read from `file`, named in errors): a version-2 document of to_json(), or a
/// version-1 one of earlier builds (converted; its check vectors are re-predicted as the self-test). An
/// unknown field, a missing one, a wrong type, a wrong kind or version, or a failed self-test is an
/// input_error naming the file and the field.
template <class Dummy = void>  // a template: compiled only where it is used
linear_relation linear_relation_from_json(const nlohmann::json& j, const std::string& file = "", bool verify = true) {
    const detail::model_reader r(file);
    if (!j.is_object()) r.fail("", "a model file holds one JSON object");
    try {
        if (j.contains("format") && j.at("format") == "ferrum-linear-relation")
            return detail::linear_relation_from_v2(detail::linear_relation_v1_to_v2(j, r), r, verify);
        if (!detail::is_model_envelope(j))
            r.fail("format", "is not 'ferrum.model' (kind 'linear_relation') or 'ferrum-linear-relation' (version 1)");
        return detail::linear_relation_from_v2(j, r, verify);
    } catch (const nlohmann::json::exception& e) {
        r.fail("", std::string("malformed model file: ") + e.what());
    }
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE linear_relation linear_relation_from_json<void>(const nlohmann::json& j,
                                                                         const std::string& file, bool verify);
#endif

/// \brief Reads and verifies a model file written by save_linear_relation() (or by earlier builds, version 1).
template <class Dummy = void>  // a template: compiled only where it is used
linear_relation load_linear_relation(const std::string& path, bool verify = true) {
    return linear_relation_from_json(read_json_file(path, "model file"), path, verify);
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE linear_relation load_linear_relation<void>(const std::string& path, bool verify);
#endif

}  // namespace ferrum
