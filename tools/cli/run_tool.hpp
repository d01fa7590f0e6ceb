// The one main() of the ferrum-* programs: parse the command line with the tool's declared program,
// answer --help, run the command, and turn what it throws into a message on stderr and an exit code.
// Each tool keeps its own conventions (exit codes, how the --help hint reads), which its CLI tests check.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include <ferrum/core/error.hpp>

#include "options.hpp"

namespace ferrum::cli {

/// How a tool answers a bare invocation and a failure. The defaults are ferrum-giants'.
struct tool_conventions {
    bool usage_without_command = true;  ///< no command: the usage on stdout, exit 2 (else a usage_error)
    int usage_exit = 1;                 ///< a usage_error: "NAME: MESSAGE" and a pointer to --help
    int error_exit = 1;                 ///< a ferrum::error: "NAME: MESSAGE"
    int unexpected_exit = 1;            ///< any other exception: "NAME: unexpected error: MESSAGE"
    bool hint_on_own_line = false;      ///< "(run 'NAME --help')" on a line of its own, not " (see NAME --help)"
};

/// Parses argv with `prog`, prints the usage for --help (exit 0), then returns run(parsed arguments),
/// reporting what it throws as `conventions` say.
template <class Run>
int run_tool(const program& prog, int argc, char** argv, Run&& run, const tool_conventions& conventions = {}) {
    const char* name = prog.name().c_str();
    try {
        const parsed a = prog.parse(argc, argv);
        if (a.help() || (a.command().empty() && conventions.usage_without_command)) {
            std::fputs(prog.usage(a.command()).c_str(), stdout);
            return a.help() ? 0 : 2;
        }
        if (a.command().empty()) throw usage_error("no command given");
        check_paths(a);  // outputs never on top of inputs, their directories writable: before any work
        const int status = run(a);
        // what went to stdout (evaluate's JSON, fit's table) must have arrived: a full disk or a closed pipe
        // is a failure, not exit 0
        std::cout.flush();
        if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
            std::fprintf(stderr, "%s: cannot write to standard output: %s\n", name, std::strerror(errno));
            return conventions.error_exit;
        }
        return status;
    } catch (const usage_error& e) {  // messages quote arguments and input: printable() escapes binary bytes
        const std::string m = printable(e.what(), true);
        if (conventions.hint_on_own_line) std::fprintf(stderr, "%s: %s\n(run '%s --help')\n", name, m.c_str(), name);
        else std::fprintf(stderr, "%s: %s (see %s --help)\n", name, m.c_str(), name);
        return conventions.usage_exit;
    } catch (const ferrum::error& e) {
        std::fprintf(stderr, "%s: %s\n", name, printable(e.what(), true).c_str());
        return conventions.error_exit;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: unexpected error: %s\n", name, printable(e.what(), true).c_str());
        return conventions.unexpected_exit;
    }
}

}  // namespace ferrum::cli
