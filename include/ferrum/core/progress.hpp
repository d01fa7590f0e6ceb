// Progress lines for long work (epochs, files, folds) on stderr: count, rate in named units, extra fields
// such as the loss, and an ETA in hours, minutes and seconds. Silenced per object or globally with the
// environment variable FERRUM_QUIET=1.
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

/// \brief A rate-limited progress line on stderr, e.g.
/// "epoch 12/100  train loss 0.41 ...  0.569 epochs/s  ETA 2 min 35 s".
/// `unit` names what is counted, in the plural ("epochs", "stars", "folds"): every rate says what it counts.
class progress {
public:
    using clock = std::chrono::steady_clock;

    progress(std::string label, std::size_t total, std::string unit, bool enabled = progress_enabled_by_default())
        : label_(std::move(label)),
          unit_(std::move(unit)),
          total_(total),
          enabled_(enabled),
          start_(clock::now()),
          last_(start_) {}

    bool enabled() const noexcept { return enabled_; }
    void set_enabled(bool on) noexcept { enabled_ = on; }
    const std::string& unit() const noexcept { return unit_; }

    /// Reports that `done` of `total` units are finished; `extra` (e.g. "loss 0.0123") is shown as is.
    /// Lines are printed at most every `interval` seconds, and always for the first and the last unit.
    void update(std::size_t done, const std::string& extra = {}, double interval = 0.5) {
        if (!enabled_) return;
        const auto now = clock::now();
        const double since_last = std::chrono::duration<double>(now - last_).count();
        if (done < total_ && since_last < interval && done != 1) return;
        last_ = now;
        const std::string text = line(done, std::chrono::duration<double>(now - start_).count(), extra);
        std::fprintf(stderr, "%s\n", text.c_str());
        std::fflush(stderr);
    }

    /// The line `update` prints after `elapsed` seconds: "label done/total  [extra]  rate unit/s  ETA ...",
    /// or "elapsed ..." once done >= total.
    std::string line(std::size_t done, double elapsed, const std::string& extra = {}) const {
        const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
        const double eta = (rate > 0 && total_ > done) ? static_cast<double>(total_ - done) / rate : 0.0;
        char head[64], rate_text[32];
        std::snprintf(head, sizeof head, " %zu/%zu", done, total_);
        std::snprintf(rate_text, sizeof rate_text, "%.3g ", rate);
        std::string s = label_ + head;
        if (!extra.empty()) s += "  " + extra;
        s += "  " + std::string(rate_text) + unit_ + "/s  ";
        s += done >= total_ ? "elapsed " + format_seconds(elapsed) : "ETA " + format_seconds(eta);
        return s;
    }

    /// A duration with its units, rounded to the second: "42 s", "1 min 02 s", "1 h 02 min 05 s".
    static std::string format_seconds(double s) {
        const long t = static_cast<long>(s + 0.5);
        char buf[48];
        if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld h %02ld min %02ld s", t / 3600, (t / 60) % 60, t % 60);
        else if (t >= 60) std::snprintf(buf, sizeof buf, "%ld min %02ld s", t / 60, t % 60);
        else std::snprintf(buf, sizeof buf, "%ld s", t);
        return buf;
    }

private:
    std::string label_;
    std::string unit_;
    std::size_t total_;
    bool enabled_;
    clock::time_point start_, last_;
};

}  // namespace ferrum
