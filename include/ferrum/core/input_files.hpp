// Input lists: one option naming many files, as the Gaia archive ships DR3 in ~3,400 bulk files
// (EpochPhotometry_000000-003111.csv.gz, ...). A comma-separated list, repeated options and globs
// ('EpochPhotometry_*.csv.gz', expanded here by POSIX glob(3), sorted, so a quoted pattern works).
#pragma once

#include <glob.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief True when `path` holds a glob wildcard (`*`, `?` or `[`) and so names a set of files.
constexpr bool is_glob_pattern(std::string_view path) noexcept {
    return path.find_first_of("*?[") != std::string_view::npos;
}

/// \brief The files a glob `pattern` matches, sorted by name (byte order, as the shell's C locale).
/// \throws input_error naming the pattern when it matches nothing (a typo, or the wrong directory).
inline std::vector<std::string> expand_glob(const std::string& pattern) {
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
    std::vector<std::string> out;
    if (rc == 0)
        for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    if (rc == GLOB_NOMATCH || (rc == 0 && out.empty()))
        throw input_error(pattern, 0, "",
                          "the pattern matches no file (quote it so that ferrum, not the shell, expands it, and check "
                          "the directory)");
    if (rc != 0) throw io_error("listing the files of the pattern '" + pattern + "' failed (unreadable directory?)");
    return out;
}

/// \brief The files that `specs` name, in order: each spec is a comma-separated list whose items are
/// paths or glob patterns (expand_glob(): sorted, an input_error naming a pattern that matches nothing).
/// Empty items are ignored; a path without wildcards is kept as given (its reader reports it missing).
inline std::vector<std::string> expand_input_files(const std::vector<std::string>& specs) {
    std::vector<std::string> out;
    for (const auto& spec : specs)
        for (std::size_t pos = 0; pos <= spec.size();) {
            const std::size_t end = std::min(spec.find(',', pos), spec.size());
            std::string item = spec.substr(pos, end - pos);
            pos = end + 1;
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.pop_back();
            item.erase(0, item.find_first_not_of(" \t"));
            if (item.empty()) continue;
            if (!is_glob_pattern(item)) {
                out.push_back(std::move(item));
                continue;
            }
            for (auto& f : expand_glob(item)) out.push_back(std::move(f));
        }
    return out;
}

/// \brief expand_input_files() of one spec.
inline std::vector<std::string> expand_input_files(const std::string& spec) {
    return expand_input_files(std::vector<std::string>{spec});
}

/// \brief A short name for a list of files in messages and reports: the file itself, or the first and
/// the last with the count.
inline std::string describe_files(const std::vector<std::string>& files) {
    if (files.size() == 1) return files.front();
    if (files.empty()) return "(no files)";
    return std::to_string(files.size()) + " files (" + files.front() + " ... " + files.back() + ")";
}

}  // namespace ferrum
