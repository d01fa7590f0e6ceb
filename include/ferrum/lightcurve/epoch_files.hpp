// Many Gaia epoch-photometry files read as one: the archive ships DR3 in ~3,400 bulk files, each a gzip
// stream that one core inflates and parses at ~120 MB/s. Readers on their own threads (one per file, up to
// a thread count) hand light curves to the caller in the order of the files' concatenation, through a
// bounded queue, so reading overlaps the caller's work and memory holds a few batches whatever the input.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/input_files.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/lightcurve/gaia_epoch_photometry.hpp"

namespace ferrum {

namespace detail {
// A source_id read from two files: the rows of a source belong in one file (a concatenated read would merge
// them only by accident of adjacency), so this is an input_error naming both.
inline void check_source_once(std::unordered_map<std::int64_t, std::size_t>& seen, std::int64_t source_id,
                              std::size_t file, const std::vector<std::string>& files) {
    const auto [it, inserted] = seen.emplace(source_id, file);
    if (inserted || it->second == file) return;
    throw input_error(files[file], 0, "source_id",
                      "source " + std::to_string(source_id) + " was already read from " + files[it->second] +
                          ": a source's rows must all be in one file");
}
}  // namespace detail

/// \brief How gaia_epoch_files_reader reads its files.
struct gaia_files_options {
    gaia_read_options read;   ///< per file (show_progress is ignored: the caller reports progress)
    unsigned readers = 1;     ///< reader threads (at most one per file); 0: all cores
    std::size_t chunk = 512;  ///< light curves a reader hands over at a time (one chunk queued per reader)
    /// Light curves to keep (e.g. one shard's), tested on the reader's thread; empty: all.
    std::function<bool(const light_curve&)> keep;
};

/// \brief Streams the light curves of several Gaia epoch-photometry files (any layout gaia_epoch_reader
/// reads, plain or gzip, each file its own) in the order of their concatenation: `while (auto lc = r.next())`.
///
/// Each file is read by gaia_epoch_reader on a reader thread (files taken in order, at most `readers` at a
/// time, and no reader runs more than `readers` files ahead of the caller), which hands over chunks of
/// `chunk` light curves through a queue of one chunk per file; memory holds at most about 2 * readers
/// chunks. With one file, one reader still runs beside the caller, so inflating and parsing overlap the
/// caller's work. The curves, their order and the errors are those of reading the files one after another:
/// a bad row is the input_error of its file and line, raised when the caller reaches it; a source in two
/// files is an input_error naming both. report() adds up the files' reports once next() has returned
/// nullopt. The destructor stops the readers (an exception in the caller leaves no thread behind).
class gaia_epoch_files_reader {
public:
    explicit gaia_epoch_files_reader(std::vector<std::string> files, gaia_files_options options = {})
        : files_(std::move(files)), options_(std::move(options)), slots_(files_.size()) {
        if (files_.empty()) throw value_error("gaia_epoch_files_reader: no files to read");
        report_.file = describe_files(files_);
        options_.read.show_progress = false;
        options_.chunk = std::max<std::size_t>(1, options_.chunk);
        window_ = worker_count(options_.readers, files_.size());
        for (unsigned t = 0; t < window_; ++t) threads_.emplace_back([this] { run(); });
    }
    gaia_epoch_files_reader(const gaia_epoch_files_reader&) = delete;
    gaia_epoch_files_reader& operator=(const gaia_epoch_files_reader&) = delete;
    ~gaia_epoch_files_reader() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        changed_.notify_all();
        for (auto& t : threads_) t.join();
    }

    /// The next light curve in concatenation order; nullopt after the last one of the last file.
    std::optional<light_curve> next() {
        while (pos_ >= current_.size()) {
            if (!next_chunk()) return std::nullopt;
        }
        light_curve lc = std::move(current_[pos_++]);
        detail::check_source_once(seen_, lc.source_id, file_, files_);
        return lc;
    }

    /// The file the last curve came from (an index into files()).
    std::size_t file_index() const noexcept { return file_; }
    const std::vector<std::string>& files() const noexcept { return files_; }
    /// Rows, curves and skips of all files, once next() has returned nullopt (file: describe_files()).
    const read_report& report() const noexcept { return report_; }

private:
    struct slot {
        std::deque<std::vector<light_curve>> queue;
        bool done = false;
        std::exception_ptr error;
        read_report report;
    };

    // Moves the next chunk (of the first file not yet drained) into current_; false when all are drained.
    bool next_chunk() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            if (file_ >= files_.size()) return false;
            slot& s = slots_[file_];
            changed_.wait(lock, [&] { return !s.queue.empty() || s.done; });
            if (!s.queue.empty()) {
                current_ = std::move(s.queue.front());
                s.queue.pop_front();
                pos_ = 0;
                lock.unlock();
                changed_.notify_all();
                return true;
            }
            if (s.error) std::rethrow_exception(s.error);
            report_.merge(s.report);
            ++file_;
            drained_ = file_;
            changed_.notify_all();
        }
    }

    // A reader thread: takes files in order, no more than window_ ahead of the caller.
    void run() {
        for (;;) {
            std::size_t k = 0;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                if (next_file_ >= files_.size()) return;
                k = next_file_++;
                changed_.wait(lock, [&] { return stop_ || k < drained_ + window_; });
                if (stop_) return;
            }
            read_file(k);
        }
    }

    void read_file(std::size_t k) {
        slot& s = slots_[k];
        try {
            gaia_epoch_reader reader(files_[k], options_.read);
            std::vector<light_curve> chunk;
            chunk.reserve(options_.chunk);
            while (auto lc = reader.next()) {
                if (options_.keep && !options_.keep(*lc)) continue;
                chunk.push_back(std::move(*lc));
                if (chunk.size() >= options_.chunk && !hand_over(s, chunk)) return;
            }
            if (!chunk.empty() && !hand_over(s, chunk)) return;
            std::lock_guard<std::mutex> lock(mutex_);
            s.report = reader.report();
            s.done = true;
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            s.error = std::current_exception();
            s.done = true;
        }
        changed_.notify_all();
    }

    // Queues `chunk` once the file's queue is empty; false when the reader is being stopped.
    bool hand_over(slot& s, std::vector<light_curve>& chunk) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [&] { return stop_ || s.queue.empty(); });
            if (stop_) return false;
            s.queue.push_back(std::move(chunk));
        }
        changed_.notify_all();
        chunk.clear();
        chunk.reserve(options_.chunk);
        return true;
    }

    std::vector<std::string> files_;
    gaia_files_options options_;
    std::vector<slot> slots_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t next_file_ = 0, drained_ = 0, window_ = 1;
    bool stop_ = false;
    // the caller's side
    std::size_t file_ = 0, pos_ = 0;
    std::vector<light_curve> current_;
    std::unordered_map<std::int64_t, std::size_t> seen_;
    read_report report_;
};

/// \brief Reads every source of several Gaia epoch-photometry files (read_gaia_epoch_photometry() of each,
/// `threads` files at a time; 0: all cores) into one result in file order; a source in two files is an
/// input_error naming both. One file: read_gaia_epoch_photometry() itself.
template <class Dummy = void>  // a template: compiled only where it is used
read_result<light_curve> read_gaia_epoch_photometry(const std::vector<std::string>& files,
                                                    gaia_read_options options = {}, unsigned threads = 0) {
    if (files.size() == 1) return read_gaia_epoch_photometry(files.front(), options);
    if (files.empty()) throw value_error("read_gaia_epoch_photometry: no files to read");
    options.show_progress = false;
    read_result<light_curve> out;
    out.report.file = describe_files(files);
    std::unordered_map<std::int64_t, std::size_t> seen;
    struct one_file {  // an error travels with its file, so the first file's error is the one raised
        read_result<light_curve> result;
        std::exception_ptr error;
    };
    ordered_parallel(
        files.size(), threads,
        [&](std::size_t k) {
        one_file f;
        try {
            f.result = read_gaia_epoch_photometry(files[k], options);
        } catch (...) {
            f.error = std::current_exception();
        }
        return f;
        },
        [&](std::size_t k, one_file&& f) {
        if (f.error) std::rethrow_exception(f.error);
        read_result<light_curve>& r = f.result;
        for (auto& lc : r.curves) {
            detail::check_source_once(seen, lc.source_id, k, files);
            out.curves.push_back(std::move(lc));
        }
        out.report.merge(r.report);
    });
    return out;
}

}  // namespace ferrum
