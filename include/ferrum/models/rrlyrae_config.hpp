// The settings of one ferrum-rrl training run as one flat JSON object (the `--config` file, and what `tune`
// writes): the fields of rrl_model_options, rrl_input_options, rrl_training_options and rrl_cv_options side by
// side, read and written through their FERRUM_OPTIONS declarations, so the file, the model file and --help agree.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/models/rrlyrae_inputs.hpp"
#include "ferrum/models/rrlyrae_options.hpp"

namespace ferrum::models {

/// \brief How ferrum-rrl validates and groups: K-fold CV, one model per type or one unified model, the
/// paper's sample cuts (N_epochs >= 50, peak-to-peak G <= 1.4 mag, label sigma <= 0.4).
struct rrl_cv_options {
    std::size_t folds = 5;    ///< K of the K-fold CV (0: no CV)
    std::size_t repeats = 1;  ///< repetitions of the K-fold CV
    bool unified = false;     ///< one RRab+RRc model instead of one per type
    bool paper_cuts = false;
    /// Under MPI: fold k trained by rank k mod N alone instead of each fold by all ranks together (the same
    /// result; no communication while training; cross_validate_rrlyrae)
    bool folds_across_ranks = false;

    /// Bounds (from_json calls it): 1000 folds or repetitions is already far beyond any use.
    void validate() const {
        option_range("folds", folds, 0, 1000);
        option_range("repeats", repeats, 1, 1000);
    }
};
FERRUM_OPTIONS(rrl_cv_options, folds, repeats, unified, paper_cuts, folds_across_ranks)

/// \brief Everything a --config file sets.
struct rrl_config {
    rrl_model_options model;
    rrl_training_options train;
    rrl_cv_options cv;
};

namespace detail {

/// Fields of T that a flat config does not carry: the types come from the data (or --unified), the input
/// options are flattened beside the others, and threads and progress are the command line's.
template <class T>
bool config_excludes(const std::string& name) {
    if constexpr (std::is_same_v<T, rrl_model_options>) return name == "types" || name == "input";
    if constexpr (std::is_same_v<T, rrl_training_options>) return name == "threads" || name == "progress";
    return false;
}

template <class T>
bool config_declares(const std::string& name) {
    for (const auto& f : option_fields(static_cast<const T*>(nullptr)))
        if (f == name) return !config_excludes<T>(name);
    return false;
}

template <class T>
void config_names(std::vector<std::string>& out) {
    for (const auto& f : option_fields(static_cast<const T*>(nullptr)))
        if (!config_excludes<T>(f)) out.push_back(f);
}

/// Sets the fields `part` gives on `into` (others keep their values); a bad one is an input_error naming
/// `where` and the field.
template <class T>
void config_apply(const nlohmann::json& part, T& into, const std::string& where) {
    if (part.empty()) return;
    try {
        from_json(part, into);
    } catch (const option_error& e) {
        throw input_error(where, 0, e.field(), e.message());
    }
}

template <class T>
void config_flatten(const T& v, nlohmann::json& out) {
    const nlohmann::json j = v;
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!config_excludes<T>(it.key())) out[it.key()] = it.value();
}

}  // namespace detail

/// \brief The field names a config file accepts, in declaration order (model, input, training, CV).
inline std::vector<std::string> rrl_config_fields() {
    std::vector<std::string> out;
    detail::config_names<rrl_model_options>(out);
    detail::config_names<rrl_input_options>(out);
    detail::config_names<rrl_training_options>(out);
    detail::config_names<rrl_cv_options>(out);
    return out;
}

/// \brief `base` with the fields of the flat config object `j` applied. An unknown field, a value of the
/// wrong type or out of range is an input_error naming `where` (the file) and the field.
template <class Dummy = void>  // a template: compiled only where it is used
rrl_config rrl_config_from_json(const nlohmann::json& j, const std::string& where, rrl_config base = {}) {
    if (!j.is_object()) throw input_error(where, 0, "", "a config file is a JSON object, got " + j.dump());
    nlohmann::json model = nlohmann::json::object(), input = model, train = model, cv = model;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (detail::config_declares<rrl_model_options>(k)) model[k] = it.value();
        else if (detail::config_declares<rrl_input_options>(k)) input[k] = it.value();
        else if (detail::config_declares<rrl_training_options>(k)) train[k] = it.value();
        else if (detail::config_declares<rrl_cv_options>(k)) cv[k] = it.value();
        else {
            std::string known;
            for (const auto& f : rrl_config_fields()) known += (known.empty() ? "" : ", ") + f;
            throw input_error(where, 0, k, "unknown field (a config file takes " + known + ")");
        }
    }
    detail::config_apply(model, base.model, where);
    detail::config_apply(input, base.model.input, where);
    detail::config_apply(train, base.train, where);
    detail::config_apply(cv, base.cv, where);
    return base;
}

/// \brief Reads a config file (see rrl_config_from_json).
template <class Dummy = void>  // a template: compiled only where it is used
rrl_config read_rrl_config(const std::string& path, rrl_config base = {}) {
    return rrl_config_from_json(read_json_file(path, "config file"), path, std::move(base));
}

/// \brief The flat config object of `c`: every field rrl_config_from_json accepts, so that reading it back
/// reproduces `c` (except types, threads and progress, which a config does not carry).
template <class Dummy = void>  // a template: compiled only where it is used
nlohmann::json rrl_config_to_json(const rrl_config& c) {
    nlohmann::json j = nlohmann::json::object();
    detail::config_flatten(c.model, j);
    detail::config_flatten(c.model.input, j);
    detail::config_flatten(c.train, j);
    detail::config_flatten(c.cv, j);
    return j;
}

/// \brief The config fields and their defaults, one per line ("  name = value"), for --help.
template <class Dummy = void>  // a template: compiled only where it is used
std::string rrl_config_help(const rrl_config& defaults = {}) {
    const nlohmann::json d = rrl_config_to_json(defaults);
    std::string out;
    for (const auto& name : rrl_config_fields()) out += "  " + name + " = " + d.at(name).dump() + "\n";
    return out;
}

}  // namespace ferrum::models
