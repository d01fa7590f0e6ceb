// Atomic output files: content is written to a temporary file beside the target and renamed over it
// only when complete, so a crash or an exception never leaves a half-written result behind.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief Calls `write(std::ostream&)` on a temporary file in the target's directory, then renames it
/// onto `path`. If `write` throws, the temporary file is removed and `path` is left untouched.
template <class Writer, class = std::enable_if_t<std::is_invocable_v<Writer, std::ostream&>>>
void write_file_atomically(const std::filesystem::path& path, Writer&& write) {
    namespace fs = std::filesystem;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::random_device rd;
    const fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
    try {
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            if (!out) throw io_error("cannot create '" + tmp.string() + "' to write '" + path.string() + "'");
            std::forward<Writer>(write)(static_cast<std::ostream&>(out));
            out.flush();
            if (!out) throw io_error("writing '" + path.string() + "' failed (disk full?)");
        }
        std::error_code ec;
        fs::rename(tmp, path, ec);
        if (ec) throw io_error("cannot move '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
    } catch (...) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw;
    }
}

/// \brief Writes `content` to `path` atomically.
inline void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
    write_file_atomically(path, [&](std::ostream& out) { out << content; });
}

}  // namespace ferrum
