// Test helper: GaiaXPy's expected-output files (../shared/data/gaiaxpy/test_files/*_solution): their
// "(v, v, nan, ...)" tuple cells, the sampling files, and the relative comparison the XP tests use.
#pragma once

#include <catch2/catch.hpp>

#include <ferrum/core/csv.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace ferrum_test {

/// A GaiaXPy tuple cell "(v, v, nan, ...)" (or "[...]"); NaN included (strtod reads "nan"); an empty cell is
/// an empty list (a missing band).
inline std::vector<double> gaiaxpy_cell(std::string_view s) {
    std::string t(s);
    for (char& c : t)
        if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',') c = ' ';
    std::vector<double> out;
    const char* p = t.c_str();
    for (char* end = nullptr;; p = end) {
        const double v = std::strtod(p, &end);
        if (end == p) break;
        out.push_back(v);
    }
    return out;
}

/// The `pos` cell of a GaiaXPy *_sampling.csv file.
inline std::vector<double> gaiaxpy_sampling(const std::string& path) {
    ferrum::csv_reader in(path);
    const ferrum::csv_record* r = in.next();
    REQUIRE(r != nullptr);
    return gaiaxpy_cell((*r)[in.column("pos")]);
}

/// max |got - want| / |want| over the samples; where GaiaXPy has NaN, ours must be NaN too (else infinity).
inline double gaiaxpy_worst_relative(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (std::isnan(want[i])) {
            if (!std::isnan(got[i])) return INFINITY;
            continue;
        }
        worst = std::max(worst, std::abs(got[i] - want[i]) / std::abs(want[i]));
    }
    return worst;
}

/// Writes `text` to `p` (binary) and returns the path as a string.
inline std::string write_text_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
}

}  // namespace ferrum_test
