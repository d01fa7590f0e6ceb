// Test helpers: where oracle vectors and the optional real data live.
// Oracle files are read from $FERRUM_REFERENCE_DIR when it is set and holds them (same names and
// schema, other numbers), else from tests/data (copies of ../shared/reference and the project's own).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferrum_test {

inline std::string reference_dir() {
    if (const char* d = std::getenv("FERRUM_REFERENCE_DIR"); d && *d) {
        if (!std::filesystem::is_directory(d))
            throw std::runtime_error(std::string("FERRUM_REFERENCE_DIR is not a directory: ") + d);
        return d;
    }
    return FERRUM_TEST_DATA_DIR;
}

/// Path of the oracle file `name`: from $FERRUM_REFERENCE_DIR when that directory holds it (the shared
/// SciPy/scikit-learn/PyTorch vectors), else from tests/data (also where the project's own oracles live,
/// e.g. relations_ftest.json, which an outside reference directory does not carry).
inline std::string reference_path(const std::string& name) {
    const std::string outside = reference_dir() + "/" + name;
    if (std::filesystem::exists(outside)) return outside;
    return std::string(FERRUM_TEST_DATA_DIR) + "/" + name;
}

/// Parses the oracle file `name` (e.g. "kde.json"), see reference_path().
inline nlohmann::json load_reference(const std::string& name) {
    const std::string path = reference_path(name);
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

/// Every number of a nested JSON array, in row-major order (a tensor of any rank as the oracles write it).
inline void flatten_into(const nlohmann::json& j, std::vector<double>& out) {
    if (j.is_array())
        for (const auto& e : j) flatten_into(e, out);
    else out.push_back(j.get<double>());
}
inline std::vector<double> flat(const nlohmann::json& j) {
    std::vector<double> v;
    flatten_into(j, v);
    return v;
}

/// max_i |got_i - want_i| / |want_i| (a size mismatch is an error, never a pass).
inline double max_rel_error(const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size())
        throw std::runtime_error("max_rel_error: " + std::to_string(got.size()) + " values, expected " +
                                 std::to_string(want.size()));
    double worst = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - want[i]) / std::max(std::abs(want[i]), 1e-300));
    return worst;
}

/// max_i |got_i - want_i| / max_i |want_i|: the largest error relative to the size of the oracle's values (a size
/// mismatch is an error, never a pass). For gradients and activations, where single values may be near zero.
inline double max_scaled_error(const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size())
        throw std::runtime_error("max_scaled_error: " + std::to_string(got.size()) + " values, expected " +
                                 std::to_string(want.size()));
    double scale = 0.0, err = 0.0;
    for (double w : want) scale = std::max(scale, std::abs(w));
    for (std::size_t i = 0; i < got.size(); ++i) err = std::max(err, std::abs(got[i] - want[i]));
    return err / std::max(scale, 1e-300);
}

}  // namespace ferrum_test
