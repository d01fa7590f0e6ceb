// Running a benchmark's peer script (SciPy, PyTorch) and reading its figures: the peer prints one JSON
// object on a line of stdout; anything else it prints is passed over (or echoed to stderr, for the log).
// Long result vectors a peer writes as raw float64 files are read with read_doubles.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

/// The float64 values of a file a peer wrote with NumPy (`astype("<f8").tofile`: little-endian, read in the
/// native order of the little-endian machines the benchmarks run on); empty when the file is missing, so a
/// benchmark run without its peer reports no comparison instead of failing.
inline std::vector<double> read_doubles(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::vector<double> v;
    double x;
    while (in.read(reinterpret_cast<char*>(&x), sizeof x)) v.push_back(x);
    return v;
}

}  // namespace ferrum_bench
