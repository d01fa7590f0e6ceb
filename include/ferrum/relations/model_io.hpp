// Model files of linear relations: one JSON object (nlohmann::json) with the coefficients, covariance,
// sigma_int, feature names, the phase convention the model expects, training metadata and, as
// frugally-deep does, a few test vectors that load_linear_relation() re-predicts to prove the file.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/relations/linear_relation.hpp"

namespace ferrum {

inline constexpr const char* linear_relation_format = "ferrum-linear-relation";
inline constexpr int linear_relation_format_version = 1;

namespace detail {
// Inputs of the self-check: every feature at 0, at 1, and at 0.5 + 0.25 j (values only; the check proves the
// arithmetic and the coefficient order, not the physics).
inline feature_table relation_check_inputs(const std::vector<std::string>& features) {
    feature_table t;
    for (std::size_t j = 0; j < features.size(); ++j) t.add(features[j], {0.0, 1.0, 0.5 + 0.25 * double(j)});
    return t;
}

inline void require_known_fields(const nlohmann::json& j, const std::set<std::string>& known, const std::string& file,
                                 const std::string& where) {
    if (!j.is_object()) throw input_error(file, 0, where, "expected a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!known.count(it.key()))
            throw input_error(file, 0, where.empty() ? it.key() : where + "." + it.key(),
                              "unknown field (this reader knows format version " +
                                  std::to_string(linear_relation_format_version) + ")");
}

// A covariance must be finite, symmetric and positive semi-definite: a negative variance would make every
// predicted sigma the square root of a negative number (NaN, written as "-nan" by earlier builds).
inline void check_covariance(const Eigen::MatrixXd& c, const std::string& file) {
    if (!c.allFinite()) throw input_error(file, 0, "covariance", "holds a value that is not finite");
    const double scale = std::max(1.0, c.cwiseAbs().maxCoeff());
    if (!((c - c.transpose()).cwiseAbs().maxCoeff() <= 1e-9 * scale))
        throw input_error(file, 0, "covariance", "is not symmetric (corrupted or edited file)");
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(c, Eigen::EigenvaluesOnly);
    const double smallest = eig.eigenvalues().minCoeff();
    if (eig.info() != Eigen::Success || !(smallest >= -1e-10 * scale))
        throw input_error(file, 0, "covariance",
                          "is not positive semi-definite (smallest eigenvalue " + std::to_string(smallest) +
                              "): the sigmas would be NaN (corrupted or edited file)");
}
}  // namespace detail

/// \brief The model as JSON; `metadata` (any JSON object: the training table, filters, a date) is kept as is.
inline nlohmann::json to_json(const linear_relation& rel, const nlohmann::json& metadata = nlohmann::json::object()) {
    using nlohmann::json;
    json j;
    j["format"] = linear_relation_format;
    j["version"] = linear_relation_format_version;
    j["target"] = rel.target;
    j["features"] = rel.features;
    j["phase_convention"] = to_string(rel.convention);
    j["coefficients"] = rel.coefficients;
    json cov = json::array();
    for (Eigen::Index r = 0; r < rel.covariance.rows(); ++r) {
        std::vector<double> row(std::size_t(rel.covariance.cols()));
        for (Eigen::Index c = 0; c < rel.covariance.cols(); ++c) row[std::size_t(c)] = rel.covariance(r, c);
        cov.push_back(row);
    }
    j["covariance"] = cov;
    j["sigma_int"] = rel.sigma_int;
    j["sigma_int_sd"] = rel.sigma_int_sd;
    j["method"] = to_string(rel.method);
    json iv = json::array();
    const auto names = rel.parameter_names();
    for (std::size_t k = 0; k < rel.intervals.size(); ++k)
        for (const auto& c : rel.intervals[k])
            iv.push_back({{"parameter", names[k]}, {"level", c.level}, {"lower", c.lower}, {"upper", c.upper}});
    j["intervals"] = iv;
    json tr = {{"n", rel.n_train}, {"log_likelihood", rel.log_likelihood}, {"iterations", rel.iterations}};
    if (rel.mcmc) {
        const auto& m = *rel.mcmc;
        tr["mcmc"] = {{"walkers", m.walkers}, {"burn_in", m.burn_in},
                      {"steps", m.steps},     {"acceptance_fraction", m.acceptance_fraction},
                      {"rhat", m.rhat},       {"autocorr_time", m.autocorr_time},
                      {"ess", m.ess}};
    }
    j["training"] = tr;
    j["metadata"] = metadata.is_null() ? json::object() : metadata;
    const feature_table chk = detail::relation_check_inputs(rel.features);
    const auto pred = rel.predict(chk);
    json inputs = json::array();
    for (std::size_t i = 0; i < chk.rows(); ++i) {
        std::vector<double> row;
        for (std::size_t c = 0; c < chk.cols(); ++c) row.push_back(chk(i, c));
        inputs.push_back(row);
    }
    j["check"] = {{"inputs", inputs}, {"value", pred.value}, {"sigma", pred.sigma}};
    return j;
}

/// \brief Writes the model file atomically (a crash never leaves half a model behind).
inline void save_linear_relation(const std::string& path, const linear_relation& rel,
                                 const nlohmann::json& metadata = nlohmann::json::object()) {
    write_file_atomically(path, to_json(rel, metadata).dump(1) + "\n");
}

/// \brief The model in `j` (read from `file`, named in errors). An unknown field, a missing one, a wrong
/// type or a failed self-check is an input_error naming the field.
inline linear_relation linear_relation_from_json(const nlohmann::json& j, const std::string& file = "") {
    detail::require_known_fields(
        j,
        {"format", "version", "target", "features", "phase_convention", "coefficients", "covariance", "sigma_int",
         "sigma_int_sd", "method", "intervals", "training", "metadata", "check"},
        file, "");
    auto field = [&](const char* key) -> const nlohmann::json& {
        if (!j.contains(key)) throw input_error(file, 0, key, "required field is missing");
        return j.at(key);
    };
    linear_relation rel;
    try {
        if (field("format").get<std::string>() != linear_relation_format)
            throw input_error(file, 0, "format",
                              "not a linear relation model (expected '" + std::string(linear_relation_format) + "')");
        if (field("version").get<int>() != linear_relation_format_version)
            throw input_error(file, 0, "version", "unsupported version " + field("version").dump());
        rel.target = field("target").get<std::string>();
        rel.features = field("features").get<std::vector<std::string>>();
        try {
            rel.convention = parse_phase_convention(field("phase_convention").get<std::string>());
        } catch (const value_error& e) {
            throw input_error(file, 0, "phase_convention", e.what());
        }
        rel.coefficients = field("coefficients").get<std::vector<double>>();
        const std::size_t q = rel.features.size() + 1;
        if (rel.coefficients.size() != q)
            throw input_error(file, 0, "coefficients",
                              "has " + std::to_string(rel.coefficients.size()) + " entries for " +
                                  std::to_string(q - 1) + " features + intercept");
        const auto cov = field("covariance").get<std::vector<std::vector<double>>>();
        if (cov.size() != q)
            throw input_error(file, 0, "covariance", "must be " + std::to_string(q) + " x " + std::to_string(q));
        rel.covariance.resize(Eigen::Index(q), Eigen::Index(q));
        for (std::size_t r = 0; r < q; ++r) {
            if (cov[r].size() != q)
                throw input_error(file, 0, "covariance", "must be " + std::to_string(q) + " x " + std::to_string(q));
            for (std::size_t c = 0; c < q; ++c) rel.covariance(Eigen::Index(r), Eigen::Index(c)) = cov[r][c];
        }
        detail::check_covariance(rel.covariance, file);
        rel.sigma_int = field("sigma_int").get<double>();
        rel.sigma_int_sd = field("sigma_int_sd").get<double>();
        if (!(rel.sigma_int >= 0)) throw input_error(file, 0, "sigma_int", "must be >= 0");
        const std::string m = field("method").get<std::string>();
        if (m != "laplace" && m != "mcmc") throw input_error(file, 0, "method", "must be 'laplace' or 'mcmc'");
        rel.method = m == "laplace" ? fit_method::laplace : fit_method::mcmc;
        const auto names = rel.parameter_names();
        rel.intervals.assign(names.size(), {});
        for (const auto& iv : field("intervals")) {
            detail::require_known_fields(iv, {"parameter", "level", "lower", "upper"}, file, "intervals");
            const auto p = iv.at("parameter").get<std::string>();
            const auto it = std::find(names.begin(), names.end(), p);
            if (it == names.end()) throw input_error(file, 0, "intervals", "unknown parameter '" + p + "'");
            rel.intervals[std::size_t(it - names.begin())].push_back(
                {iv.at("level").get<double>(), iv.at("lower").get<double>(), iv.at("upper").get<double>()});
        }
        const auto& tr = field("training");
        detail::require_known_fields(tr, {"n", "log_likelihood", "iterations", "mcmc"}, file, "training");
        rel.n_train = tr.at("n").get<std::size_t>();
        rel.log_likelihood = tr.at("log_likelihood").get<double>();
        rel.iterations = tr.at("iterations").get<int>();
        if (tr.contains("mcmc")) {
            const auto& mj = tr.at("mcmc");
            detail::require_known_fields(
                mj, {"walkers", "burn_in", "steps", "acceptance_fraction", "rhat", "autocorr_time", "ess"}, file,
                "training.mcmc");
            mcmc_diagnostics d;
            d.walkers = mj.at("walkers");
            d.burn_in = mj.at("burn_in");
            d.steps = mj.at("steps");
            d.acceptance_fraction = mj.at("acceptance_fraction");
            d.rhat = mj.at("rhat").get<std::vector<double>>();
            d.autocorr_time = mj.at("autocorr_time").get<std::vector<double>>();
            d.ess = mj.at("ess").get<std::vector<double>>();
            rel.mcmc = d;
        }
        const auto& chk = field("check");
        detail::require_known_fields(chk, {"inputs", "value", "sigma"}, file, "check");
        const auto inputs = chk.at("inputs").get<std::vector<std::vector<double>>>();
        const auto value = chk.at("value").get<std::vector<double>>();
        const auto sigma = chk.at("sigma").get<std::vector<double>>();
        feature_table t;
        for (std::size_t c = 0; c < rel.features.size(); ++c) {
            std::vector<double> col;
            for (const auto& row : inputs) {
                if (row.size() != rel.features.size())
                    throw input_error(file, 0, "check.inputs", "rows must have one value per feature");
                col.push_back(row[c]);
            }
            t.add(rel.features[c], col);
        }
        const auto pred = rel.predict(t);
        if (pred.value.size() != value.size() || pred.sigma.size() != sigma.size())
            throw input_error(file, 0, "check", "value/sigma do not match the inputs");
        for (std::size_t i = 0; i < value.size(); ++i)
            if (!(std::abs(pred.value[i] - value[i]) <= 1e-12 * (1 + std::abs(value[i]))) ||
                !(std::abs(pred.sigma[i] - sigma[i]) <= 1e-12 * (1 + std::abs(sigma[i]))))  // NaN fails too
                throw input_error(file, 0, "check",
                                  "the model does not reproduce its own test vector " + std::to_string(i) +
                                      " (corrupted or edited file)");
    } catch (const nlohmann::json::exception& e) {
        throw input_error(file, 0, "", std::string("malformed model file: ") + e.what());
    }
    return rel;
}

/// \brief Reads and verifies a model file written by save_linear_relation().
inline linear_relation load_linear_relation(const std::string& path) {
    const nlohmann::json j = read_json_file(path, "model file");
    return linear_relation_from_json(j, path);
}

}  // namespace ferrum
