// Running a benchmark's peer script (SciPy, PyTorch) and reading its figures: the peer prints one JSON
// object on a line of stdout; anything else it prints is passed over (or echoed to stderr, for the log).
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace ferrum_bench {

/// The last line of `cmd`'s stdout that starts with '{', parsed; null when there is none, it does not
/// parse or the command cannot be started. With echo_rest, every other line goes to stderr as it comes.
inline nlohmann::json peer_json(const std::string& cmd, bool echo_rest = false) {
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return nullptr;
    std::string last, line;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p)) {
        line += buf;
        if (line.back() != '\n' && !std::feof(p)) continue;  // a line longer than buf: read on
        if (line.front() == '{') last = line;
        else if (echo_rest) std::fputs(line.c_str(), stderr);
        line.clear();
    }
    if (!line.empty()) {
        if (line.front() == '{') last = line;
        else if (echo_rest) std::fputs(line.c_str(), stderr);
    }
    pclose(p);
    try {
        return nlohmann::json::parse(last);
    } catch (const std::exception&) {
        return nullptr;
    }
}

}  // namespace ferrum_bench
