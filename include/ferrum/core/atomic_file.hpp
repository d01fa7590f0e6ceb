// Atomic output files: content is written to a temporary file beside the target and renamed over it
// only when complete, so a crash or an exception never leaves a half-written result behind. A SIGINT,
// SIGTERM or SIGHUP during the write removes the temporary too (POSIX), and temporaries that killed
// runs left beside a target are reported on stderr. An existing read-only target is refused.
#pragma once

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#  include <unistd.h>
#  include <cerrno>
#  include <csignal>
#  define FERRUM_ATOMIC_FILE_SIGNALS 1
#endif

#include "ferrum/core/error.hpp"

namespace ferrum {

namespace detail {

/// True for the name of a temporary of write_file_atomically: ".NAME.tmp" followed by digits only.
inline bool is_atomic_temporary_name(const std::string& name) {
    const auto t = name.rfind(".tmp");
    if (name.size() < 2 || name[0] != '.' || t == std::string::npos || t < 2 || t + 4 == name.size()) return false;
    return name.find_first_not_of("0123456789", t + 4) == std::string::npos;
}

#ifdef FERRUM_ATOMIC_FILE_SIGNALS
// The temporaries being written now, in fixed slots that the signal handler can read without locks or
// allocation (state: 0 free, 1 being filled, 2 a path to remove on a signal).
struct temporary_slot {
    std::atomic<int> state{0};
    char path[4096];
};
inline constexpr std::size_t n_temporary_slots = 32;
inline constexpr int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};
inline constexpr std::size_t n_cleanup_signals = sizeof(cleanup_signals) / sizeof(cleanup_signals[0]);

struct temporary_registry {
    temporary_slot slots[n_temporary_slots];
    struct sigaction previous[n_cleanup_signals];
    bool installed[n_cleanup_signals] = {};
    std::mutex mutex;  // guards in_flight and the handler installation (never taken in the handler)
    std::size_t in_flight = 0;
    std::set<std::string> scanned_dirs;  // directories already searched for stale temporaries
};

inline temporary_registry& temporaries() {
    static temporary_registry r;
    return r;
}

// Async-signal-safe: atomics, unlink, sigaction and raise only. Removes every temporary in flight, puts
// back the handler that was there before and raises the signal again, so the process ends (or the
// program's own handler runs) as if ferrum had not been there.
inline void remove_temporaries_on_signal(int sig) {
    const int saved_errno = errno;
    temporary_registry& r = temporaries();
    for (auto& s : r.slots)
        if (s.state.load(std::memory_order_acquire) == 2) ::unlink(s.path);
    for (std::size_t k = 0; k < n_cleanup_signals; ++k)
        if (cleanup_signals[k] == sig && r.installed[k]) ::sigaction(sig, &r.previous[k], nullptr);
    errno = saved_errno;
    ::raise(sig);
}

// Our handler is installed while at least one temporary is in flight, over whatever handler the program
// had (saved and put back afterwards); a signal the program ignores stays ignored.
inline void install_cleanup_handlers(temporary_registry& r) {
    for (std::size_t k = 0; k < n_cleanup_signals; ++k) {
        struct sigaction current {};
        if (::sigaction(cleanup_signals[k], nullptr, &current) != 0) continue;
        if (current.sa_handler == SIG_IGN || current.sa_handler == remove_temporaries_on_signal) continue;
        struct sigaction ours {};
        ours.sa_handler = remove_temporaries_on_signal;
        sigemptyset(&ours.sa_mask);
        ours.sa_flags = 0;
        r.previous[k] = current;
        r.installed[k] = true;
        ::sigaction(cleanup_signals[k], &ours, nullptr);
    }
}

inline void restore_previous_handlers(temporary_registry& r) {
    for (std::size_t k = 0; k < n_cleanup_signals; ++k) {
        if (!r.installed[k]) continue;
        struct sigaction current {};
        if (::sigaction(cleanup_signals[k], nullptr, &current) == 0 &&
            current.sa_handler == remove_temporaries_on_signal)
            ::sigaction(cleanup_signals[k], &r.previous[k], nullptr);
        r.installed[k] = false;
    }
}

/// Registers `tmp` for removal on SIGINT/SIGTERM/SIGHUP until destroyed. A path too long for a slot, or
/// more than n_temporary_slots concurrent writes, is simply not registered.
class registered_temporary {
public:
    explicit registered_temporary(const std::filesystem::path& tmp) {
        temporary_registry& r = temporaries();
        const std::string p = tmp.string();
        if (p.size() >= sizeof(temporary_slot::path)) return;
        for (auto& s : r.slots) {
            int expected = 0;
            if (!s.state.compare_exchange_strong(expected, 1)) continue;
            p.copy(s.path, p.size());
            s.path[p.size()] = '\0';
            slot_ = &s;
            break;
        }
        if (!slot_) return;
        std::lock_guard<std::mutex> lock(r.mutex);
        if (r.in_flight++ == 0) install_cleanup_handlers(r);
        slot_->state.store(2, std::memory_order_release);
    }
    registered_temporary(const registered_temporary&) = delete;
    registered_temporary& operator=(const registered_temporary&) = delete;
    ~registered_temporary() {
        if (!slot_) return;
        temporary_registry& r = temporaries();
        slot_->state.store(0, std::memory_order_release);
        std::lock_guard<std::mutex> lock(r.mutex);
        if (--r.in_flight == 0) restore_previous_handlers(r);
    }

private:
    temporary_slot* slot_ = nullptr;
};

// The temporaries in flight in this process, which are not stale.
inline bool is_in_flight(const std::string& path) {
    for (auto& s : temporaries().slots)
        if (s.state.load(std::memory_order_acquire) == 2 && path == s.path) return true;
    return false;
}
#else
class registered_temporary {
public:
    explicit registered_temporary(const std::filesystem::path&) {}
};
inline bool is_in_flight(const std::string&) { return false; }
#endif

/// Warns on stderr, once per directory and process, about temporaries of write_file_atomically that a
/// killed run left in `dir` (they are not removed: another process may be writing them right now).
inline void report_stale_temporaries(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path key = fs::absolute(dir, ec);
#ifdef FERRUM_ATOMIC_FILE_SIGNALS
    {
        temporary_registry& r = temporaries();
        std::lock_guard<std::mutex> lock(r.mutex);
        if (!r.scanned_dirs.insert(key.lexically_normal().string()).second) return;
    }
#endif
    std::vector<std::string> stale;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (is_atomic_temporary_name(name) && !is_in_flight(it->path().string())) stale.push_back(it->path().string());
    }
    if (stale.empty()) return;
    std::string text = "ferrum: warning: " + std::to_string(stale.size()) +
                       " unfinished temporary file(s) of an earlier, interrupted write found; remove them "
                       "unless another program is writing them now:\n";
    for (const auto& s : stale) text += "  " + s + "\n";
    std::cerr << text << std::flush;
}

}  // namespace detail

/// \brief Calls `write(std::ostream&)` on a temporary file in the target's directory, then renames it
/// onto `path`. If `write` throws, or SIGINT/SIGTERM/SIGHUP arrives meanwhile, the temporary file is
/// removed and `path` is left untouched (after a signal, the program's previous handling of it follows).
///
/// An existing `path` with no write permission bit (e.g. mode 444) is refused with an io_error, as the
/// shell's `>` and `cp` refuse it; any other existing target keeps its permission bits. Temporaries that
/// killed runs left in the directory (".NAME.tmpNNN") are named in a warning on stderr.
template <class Writer, class = std::enable_if_t<std::is_invocable_v<Writer, std::ostream&>>>
void write_file_atomically(const std::filesystem::path& path, Writer&& write) {
    namespace fs = std::filesystem;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::error_code status_ec;
    const fs::file_status existing = fs::status(path, status_ec);
    const bool replace = !status_ec && fs::is_regular_file(existing);
    constexpr auto any_write = fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;
    if (replace && (existing.permissions() & any_write) == fs::perms::none)
        throw io_error("'" + path.string() +
                       "' is read-only: not replaced (make it writable, e.g. chmod u+w, or remove it first)");
    detail::report_stale_temporaries(dir);
    std::random_device rd;
    const fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
    const detail::registered_temporary registration(tmp);
    try {
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            if (!out) throw io_error("cannot create '" + tmp.string() + "' to write '" + path.string() + "'");
            std::forward<Writer>(write)(static_cast<std::ostream&>(out));
            out.flush();
            if (!out) throw io_error("writing '" + path.string() + "' failed (disk full?)");
        }
        std::error_code ec;
        if (replace) fs::permissions(tmp, existing.permissions(), ec);
        if (ec)
            throw io_error("cannot give '" + tmp.string() + "' the permissions of '" + path.string() +
                           "': " + ec.message());
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
