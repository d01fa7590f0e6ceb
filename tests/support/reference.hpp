// Test helpers: where oracle vectors and the optional real data live.
// Oracle files are read from $FERRUM_REFERENCE_DIR when it is set (same names and schema, other
// numbers), else from tests/data (copies of ../shared/reference).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferrum_test {

inline std::string reference_dir() {
    if (const char* d = std::getenv("FERRUM_REFERENCE_DIR"); d && *d) return d;
    return FERRUM_TEST_DATA_DIR;
}

/// Parses the oracle file `name` (e.g. "kde.json") from reference_dir().
inline nlohmann::json load_reference(const std::string& name) {
    const std::string path = reference_dir() + "/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open oracle file " + path);
    return nlohmann::json::parse(in);
}

/// Directory of the real data sets (../shared/data, or $FERRUM_SHARED_DATA); empty if absent, so tests
/// that use it can skip.
inline std::string shared_data_dir() {
    std::string d = FERRUM_SHARED_DATA_DIR;
    if (const char* e = std::getenv("FERRUM_SHARED_DATA"); e && *e) d = e;
    return std::filesystem::is_directory(d) ? d : std::string();
}

inline std::vector<double> vec(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

}  // namespace ferrum_test
