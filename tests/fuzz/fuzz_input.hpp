// What every fuzz target of tests/fuzz checks: a reader given any bytes either returns or throws a
// ferrum::error. Any other exception (std::bad_alloc from a huge count, std::length_error, nlohmann's
// own exceptions), a crash, a sanitizer report, a hang or a leak is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "ferrum/core/error.hpp"

namespace ferrum::fuzz {

/// The readers take paths: each input is written to one file per process (in /dev/shm when it exists,
/// so no disk is touched), removed when the process ends.
class input_file {
public:
    explicit input_file(const char* suffix) {
        const char* dir = std::getenv("FERRUM_FUZZ_TMPDIR");
        if (!dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        path_ = std::string(dir) + "/ferrum-fuzz-" + std::to_string(getpid()) + suffix;
    }
    input_file(const input_file&) = delete;
    input_file& operator=(const input_file&) = delete;
    ~input_file() { std::remove(path_.c_str()); }

    const std::string& write(const std::uint8_t* data, std::size_t size) {
        std::FILE* f = std::fopen(path_.c_str(), "wb");
        if (!f) std::abort();  // the harness's own failure, not a finding in ferrum
        if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
        std::fclose(f);
        return path_;
    }

private:
    std::string path_;
};

/// Runs `read(path)` on the input; a ferrum::error is the expected way to reject it.
template <class Read>
void expect_value_or_ferrum_error(Read&& read, const std::string& path) {
    try {
        read(path);
    } catch (const ferrum::error&) {
    }
}

}  // namespace ferrum::fuzz
