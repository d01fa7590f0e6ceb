// Reading the JSON files ferrum writes (models, checkpoints): a missing file is an io_error, text that is
// not JSON (a truncated write, a wrong file) an input_error naming the file, the line and nlohmann's message.
#pragma once

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief Parses the JSON file `path`; `what` names the kind of file in messages ("model file"). Text
/// that is not JSON is an input_error naming the file and the line where parsing stopped.
template <class Dummy = void>  // a template: compiled only where it is used
nlohmann::json read_json_file(const std::string& path, const std::string& what = "JSON file") {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot open " + what + " '" + path + "'");
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        const std::size_t upto = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
        const std::size_t line = 1 + static_cast<std::size_t>(std::count(
                                         text.begin(), text.begin() + static_cast<std::ptrdiff_t>(upto), '\n'));
        throw input_error(path, line, "", what + " is not valid JSON (truncated file?): " + e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double (1e400)
        throw input_error(path, 0, "", what + " cannot be read: " + e.what());
    }
}

/// \brief read_json_file for files that must hold one JSON object (model and config files): `[]`, `null` or a
/// bare number is an input_error naming the file, not a type error deep inside a reader.
template <class Dummy = void>  // a template: compiled only where it is used
nlohmann::json read_json_object(const std::string& path, const std::string& what = "JSON file") {
    nlohmann::json j = read_json_file(path, what);
    if (!j.is_object()) {
        std::string got = j.dump();
        if (got.size() > 40) got = got.substr(0, 40) + "...";
        throw input_error(path, 0, "", "a " + what + " holds one JSON object {...}, this one holds " + got);
    }
    return j;
}

}  // namespace ferrum
