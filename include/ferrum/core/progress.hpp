// Progress lines for long work (epochs, files, folds) on stderr: count, rate, extra fields such as the
// loss, and an ETA. Silenced per object or globally with the environment variable FERRUM_QUIET=1.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ferrum {

/// \brief True unless FERRUM_QUIET is set to a non-empty value other than "0".
inline bool progress_enabled_by_default() noexcept {
    const char* q = std::getenv("FERRUM_QUIET");
    return !(q && *q && std::string(q) != "0");
}

/// \brief A rate-limited progress line on stderr: "label  i/total  [extra]  12.3/s  ETA 0:42".
class progress {
public:
    using clock = std::chrono::steady_clock;

    progress(std::string label, std::size_t total, bool enabled = progress_enabled_by_default())
        : label_(std::move(label)), total_(total), enabled_(enabled), start_(clock::now()), last_(start_) {}

    bool enabled() const noexcept { return enabled_; }
    void set_enabled(bool on) noexcept { enabled_ = on; }

    /// Reports that `done` of `total` units are finished; `extra` (e.g. "loss 0.0123") is shown as is.
    /// Lines are printed at most every `interval` seconds, and always for the last unit.
    void update(std::size_t done, const std::string& extra = {}, double interval = 0.5) {
        if (!enabled_) return;
        const auto now = clock::now();
        const double since_last = std::chrono::duration<double>(now - last_).count();
        if (done < total_ && since_last < interval && done != 1) return;
        last_ = now;
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
        const double eta = (rate > 0 && total_ > done) ? double(total_ - done) / rate : 0.0;
        std::fprintf(stderr, "%s %zu/%zu%s%s  %.3g/s  %s %s\n", label_.c_str(), done, total_, extra.empty() ? "" : "  ",
                     extra.c_str(), rate, done >= total_ ? "elapsed" : "ETA",
                     format_seconds(done >= total_ ? elapsed : eta).c_str());
        std::fflush(stderr);
    }

    static std::string format_seconds(double s) {
        const long t = static_cast<long>(s + 0.5);
        char buf[32];
        if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
        else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
        return buf;
    }

private:
    std::string label_;
    std::size_t total_;
    bool enabled_;
    clock::time_point start_, last_;
};

}  // namespace ferrum
