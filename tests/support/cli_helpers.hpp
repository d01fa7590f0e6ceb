// Test helpers for the ferrum-* programs' end-to-end tests: find the built program and run it with its
// stdout, stderr and exit status captured.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "scratch_files.hpp"

namespace ferrum_test {

/// The program `name` (e.g. "ferrum-rrl"): $`env_var` when set, else tools/`name` in the build tree beside
/// this test binary's folder; "" when neither (the tests then skip).
inline std::string tool_exe(const char* env_var, const std::string& name) {
    if (const char* e = std::getenv(env_var)) return e;
    const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() /
                                    "tools" / name;
    return std::filesystem::exists(p) ? p.string() : std::string();
}

struct run_result {
    int status;  ///< the exit status, -1 if the program did not exit normally
    std::string out, err;
};

/// Runs `env_prefix exe args` through the shell with stdout and stderr in files under `dir`.
inline run_result run_program(const std::string& exe, const std::string& args, const std::filesystem::path& dir,
                              const std::string& env_prefix = {}) {
    const auto o = dir / "stdout.txt", e = dir / "stderr.txt";
    const std::string cmd = env_prefix + exe + " " + args + " > " + o.string() + " 2> " + e.string();
    const int s = std::system(cmd.c_str());
    return {WIFEXITED(s) ? WEXITSTATUS(s) : -1, slurp(o), slurp(e)};
}

}  // namespace ferrum_test
