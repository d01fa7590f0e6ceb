// Test helpers: empty scratch folders under the system's temporary directory, and whole files as text.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ferrum_test {

/// An empty scratch folder of that name under the system's temporary directory (emptied if it exists).
inline std::filesystem::path fresh_dir(const std::string& name) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

/// The whole file as text ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace ferrum_test
