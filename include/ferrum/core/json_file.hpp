// Reading the JSON files ferrum writes (models, checkpoints): a missing file is an io_error, text that is
// not JSON (a truncated write, a wrong file) an input_error naming the file and nlohmann's position.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief Parses the JSON file `path`; `what` names the kind of file in messages ("model file").
inline nlohmann::json read_json_file(const std::string& path, const std::string& what = "JSON file") {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + what + " '" + path + "'");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw input_error(path, 0, "", "not a readable " + what + ": " + e.what());
    }
}

}  // namespace ferrum
