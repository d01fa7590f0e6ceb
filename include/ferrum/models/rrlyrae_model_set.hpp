// Several RR Lyrae models in one file (the paper's one model per type, Monti et al. 2025) and prediction
// routed to the first model that serves each star's type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/models/rrlyrae_model.hpp"

namespace ferrum::models {

/// \brief Writes models (e.g. one per type) into one JSON file, atomically.
template <class Dummy = void>  // a template: compiled only where it is used
void save_rrlyrae_models(const std::string& path, const std::vector<rrlyrae_model>& models) {
    nlohmann::json j{
        {"format", "ferrum.model"}, {"version", 2}, {"kind", "rrlyrae_set"}, {"models", nlohmann::json::array()}};
    for (const auto& m : models) j["models"].push_back(m.to_json());
    write_file_atomically(path, j.dump());
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE void save_rrlyrae_models<void>(const std::string& path,
                                                        const std::vector<rrlyrae_model>& models);
#endif

/// \brief Reads a file of save_rrlyrae_models() (or of rrlyrae_model::save()), self-tests re-checked.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<rrlyrae_model> load_rrlyrae_models(const std::string& path, bool verify = true) {
    const nlohmann::json j = read_json_file(path, "model file");
    std::vector<rrlyrae_model> out;
    try {  // a field of the wrong type ("version": "2", "models": 3) is an input error, not json::type_error
        const bool set = j.is_object() &&
                         ((j.value("format", "") == "ferrum.model" && j.value("kind", "") == "rrlyrae_set") ||
                          j.value("format", "") == "ferrum-rrlyrae-models");  // the latter: earlier builds
        if (set) {
            const auto version = j.value("version", 0);  // 1: models of format 1, converted when read
            if (version != 1 && version != 2)
                throw input_error(path, 0, "version",
                                  "unsupported version " + j.at("version").dump() + " (this build reads 1 and 2)");
            for (auto it = j.begin(); it != j.end(); ++it)
                if (it.key() != "format" && it.key() != "version" && it.key() != "kind" && it.key() != "models")
                    throw input_error(path, 0, it.key(),
                                      "unknown field (a model set has format, version, kind, models)");
            if (!j.contains("models") || !j.at("models").is_array())
                throw input_error(path, 0, "models", "missing, or not an array of models");
            for (std::size_t k = 0; k < j.at("models").size(); ++k) {
                out.push_back(
                    rrlyrae_model::from_json(j["models"][k], path + " (model " + std::to_string(k) + ")", verify));
                // predict_rrlyrae routes a star to the first model serving its type: a second would never run
                for (std::size_t e = 0; e < k; ++e)
                    for (rr_type t : {rr_type::rrab, rr_type::rrc})
                        if (out[e].serves(t) && out[k].serves(t))
                            throw input_error(path, 0, "models[" + std::to_string(k) + "]",
                                              std::string("serves ") + to_string(t) + " as model " + std::to_string(e) +
                                                  " does: duplicate models are refused (the second would never run)");
            }
        } else {
            out.push_back(rrlyrae_model::from_json(j, path, verify));
        }
    } catch (const nlohmann::json::exception& e) {
        throw input_error(path, 0, "", std::string("malformed model file: ") + e.what());
    }
    if (out.empty()) throw input_error(path, 0, "models", "the file holds no model");
    return out;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<rrlyrae_model> load_rrlyrae_models<void>(const std::string& path, bool verify);
#endif

/// \brief Predicts each star with the first model that serves its type (flag "type_not_in_model" if none).
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<rrl_prediction> predict_rrlyrae(const std::vector<rrlyrae_model>& models,
                                            const std::vector<rrl_star_input>& stars, std::size_t mc_samples = 0,
                                            std::uint64_t seed = 12345, unsigned threads = 0) {
    std::vector<rrl_prediction> out(stars.size());
    std::vector<char> done(stars.size(), 0);
    for (std::size_t i = 0; i < stars.size(); ++i)
        if (!stars[i].ok()) {
            out[i].flag = stars[i].flag;
            done[i] = 1;
        }
    for (const auto& m : models) {
        std::vector<std::size_t> idx;
        std::vector<rrl_star_input> sub;
        for (std::size_t i = 0; i < stars.size(); ++i)
            if (!done[i] && m.serves(stars[i].type)) {
                idx.push_back(i);
                sub.push_back(stars[i]);
                done[i] = 1;
            }
        if (sub.empty()) continue;
        const auto p = m.predict(sub, mc_samples, seed, threads);
        for (std::size_t k = 0; k < idx.size(); ++k) out[idx[k]] = p[k];
    }
    for (std::size_t i = 0; i < stars.size(); ++i)
        if (!done[i]) out[i].flag = std::string("type_not_in_model: ") + to_string(stars[i].type);
    return out;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<rrl_prediction> predict_rrlyrae<void>(const std::vector<rrlyrae_model>& models,
                                                                           const std::vector<rrl_star_input>& stars,
                                                                           std::size_t mc_samples, std::uint64_t seed,
                                                                           unsigned threads);
#endif

}  // namespace ferrum::models
