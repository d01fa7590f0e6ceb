// Sorting and joining more records than memory holds: an external merge sort (Knuth, TAOCP vol. 3, Sect.
// 5.4.1) of (string key, fixed-size value) records. Records are buffered up to a byte budget; a full buffer
// is sorted and written as a run into one temporary file; the runs are merged `fan_in` at a time (in more
// rounds when there are more runs). On top of it, sorted_lookup: for each "probe" record, in the order the
// probes were added, the "build" record with the same key, which is a join of two tables by id in bounded
// memory whose output keeps the probe table's order (so sums over it come out bit for bit as before).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief How much memory an external sort may hold, and where its temporary files go.
struct external_sort_options {
    std::size_t run_bytes = std::size_t(32) << 20;  ///< records held before a run is written (about the memory used)
    std::size_t fan_in = 64;                        ///< runs merged at a time (open file streams)
    std::filesystem::path directory;                ///< temporary files; empty: std::filesystem::temp_directory_path()
};

namespace detail {

/// A temporary file with a unique name, removed when destroyed (an exception unwinding included) and, while it
/// exists, on SIGINT/SIGTERM/SIGHUP (the handler of write_file_atomically).
class scratch_file {
public:
    explicit scratch_file(const std::filesystem::path& dir) : path_(unique_path(directory(dir))), registration_(path_) {
        std::ofstream create(path_, std::ios::binary | std::ios::trunc);
        if (!create) throw io_error("cannot create the temporary file '" + path_.string() + "'");
    }
    scratch_file(const scratch_file&) = delete;
    scratch_file& operator=(const scratch_file&) = delete;
    ~scratch_file() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    static std::filesystem::path directory(const std::filesystem::path& dir) {
        if (!dir.empty()) return dir;
        std::error_code ec;
        auto tmp = std::filesystem::temp_directory_path(ec);
        if (ec) throw io_error("no directory for temporary files ($TMPDIR): " + ec.message());
        return tmp;
    }
    static std::filesystem::path unique_path(const std::filesystem::path& dir) {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        for (int attempt = 0; attempt < 100; ++attempt) {
            const auto p = dir / (".ferrum-sort-" + std::to_string(rd()) + "-" + std::to_string(counter++) + ".tmp");
            std::error_code ec;
            if (!std::filesystem::exists(p, ec)) return p;
        }
        throw io_error("cannot find a free temporary file name in '" + dir.string() + "'");
    }
    std::filesystem::path path_;
    registered_temporary registration_;
};

inline void write_or_throw(std::ofstream& out, const void* data, std::size_t n, const std::filesystem::path& p) {
    out.write(static_cast<const char*>(data), std::streamsize(n));
    if (!out) throw io_error("cannot write the temporary file '" + p.string() + "' (disk full?)");
}

}  // namespace detail

/// \brief Sorts (key, value) records by key, then by the order they were pushed (so equal keys keep their
/// order), in memory while they fit in `run_bytes` and through temporary files beyond. `Value` is a trivially
/// copyable struct. push() every record, then read them in order with stream() (as often as needed).
template <class Value>
class external_sorter {
    static_assert(std::is_trivially_copyable_v<Value>, "external_sorter: the value must be trivially copyable");

public:
    struct record {
        std::string key;
        std::uint64_t seq = 0;  ///< the push order
        Value value{};
    };

private:
    struct run {
        std::uint64_t offset = 0, count = 0;
    };

    static bool before(const record& a, const record& b) {
        const int c = a.key.compare(b.key);
        return c < 0 || (c == 0 && a.seq < b.seq);
    }

    static void write_record(std::ofstream& out, const record& r, const std::filesystem::path& p) {
        const auto n = static_cast<std::uint32_t>(r.key.size());
        detail::write_or_throw(out, &n, sizeof n, p);
        detail::write_or_throw(out, r.key.data(), r.key.size(), p);
        detail::write_or_throw(out, &r.seq, sizeof r.seq, p);
        detail::write_or_throw(out, &r.value, sizeof(Value), p);
    }

    struct cursor {
        cursor(const std::filesystem::path& p, run r) : path(p), in(p, std::ios::binary), left(r.count) {
            if (!in) throw io_error("cannot read the temporary file '" + p.string() + "'");
            in.seekg(std::streamoff(r.offset));
        }
        bool advance() {
            if (left == 0) return false;
            --left;
            std::uint32_t n = 0;
            in.read(reinterpret_cast<char*>(&n), sizeof n);
            rec.key.resize(n);
            in.read(rec.key.data(), std::streamsize(n));
            in.read(reinterpret_cast<char*>(&rec.seq), sizeof rec.seq);
            in.read(reinterpret_cast<char*>(&rec.value), sizeof(Value));
            if (!in) throw io_error("cannot read the temporary file '" + path.string() + "' (removed meanwhile?)");
            return true;
        }
        std::filesystem::path path;
        std::ifstream in;
        std::uint64_t left;
        record rec;
    };

    struct later {  // a min-heap of cursors by record order
        const std::vector<cursor>* c;
        bool operator()(std::size_t a, std::size_t b) const { return before((*c)[b].rec, (*c)[a].rec); }
    };

public:
    explicit external_sorter(external_sort_options options = {}) : options_(std::move(options)) {
        if (options_.fan_in < 2) options_.fan_in = 2;
    }

    void push(std::string_view key, const Value& value) {
        buffer_.push_back(record{std::string(key), count_++, value});
        sorted_ = false;
        bytes_ += sizeof(record) + (key.size() > 15 ? key.size() : 0);
        if (bytes_ >= options_.run_bytes) write_run();
    }

    std::uint64_t size() const noexcept { return count_; }
    /// True once records went to a temporary file.
    bool spilled() const noexcept { return file_ != nullptr; }

    /// Reads the records in (key, push order) order: next() returns each once, then nullptr.
    class reader {
    public:
        const record* next() {
            if (!owner_->file_) {
                if (pos_ >= owner_->buffer_.size()) return nullptr;
                return &owner_->buffer_[pos_++];
            }
            auto& m = *merge_;
            if (m.heap.empty()) return nullptr;
            const std::size_t i = m.heap.top();
            m.heap.pop();
            m.current = std::move(m.cursors[i].rec);
            if (m.cursors[i].advance()) m.heap.push(i);
            return &m.current;
        }

    private:
        friend class external_sorter;
        struct merge_state {
            std::vector<cursor> cursors;
            std::priority_queue<std::size_t, std::vector<std::size_t>, later> heap{later{&cursors}};
            record current;
        };
        explicit reader(external_sorter* owner) : owner_(owner) {
            if (!owner_->file_) return;
            merge_ = std::make_unique<merge_state>();
            merge_->cursors.reserve(owner_->runs_.size());
            for (const auto& run : owner_->runs_) merge_->cursors.emplace_back(owner_->file_->path(), run);
            for (std::size_t i = 0; i < merge_->cursors.size(); ++i)
                if (merge_->cursors[i].advance()) merge_->heap.push(i);
        }
        external_sorter* owner_;
        std::size_t pos_ = 0;
        std::unique_ptr<merge_state> merge_;  // on the heap: the comparator points at the cursors
    };

    /// Sorts what was pushed (writing the last run, and merging runs while there are more than fan_in) and
    /// returns a reader. Pushing after this is allowed; a reader made before a push must not be used after it.
    reader stream() {
        if (!file_) {
            if (!sorted_) std::sort(buffer_.begin(), buffer_.end(), before);
            sorted_ = true;
            return reader(this);
        }
        if (!buffer_.empty()) write_run();
        while (runs_.size() > options_.fan_in) merge_round();
        return reader(this);
    }

    void write_run() {
        if (buffer_.empty()) return;
        if (!sorted_) std::sort(buffer_.begin(), buffer_.end(), before);
        if (!file_) file_ = std::make_unique<detail::scratch_file>(options_.directory);
        std::ofstream out(file_->path(), std::ios::binary | std::ios::app);
        run r{end_, buffer_.size()};
        for (const auto& rec : buffer_) write_record(out, rec, file_->path());
        out.flush();
        if (!out) throw io_error("cannot write the temporary file '" + file_->path().string() + "' (disk full?)");
        end_ = std::uint64_t(out.tellp());
        runs_.push_back(r);
        buffer_.clear();
        buffer_.shrink_to_fit();
        bytes_ = 0;
        sorted_ = false;
    }

    /// Merges the runs fan_in at a time into a new file, until at most fan_in are left.
    void merge_round() {
        auto next_file = std::make_unique<detail::scratch_file>(options_.directory);
        std::vector<run> merged;
        {
            std::ofstream out(next_file->path(), std::ios::binary | std::ios::trunc);
            for (std::size_t first = 0; first < runs_.size(); first += options_.fan_in) {
                const std::size_t last = std::min(runs_.size(), first + options_.fan_in);
                std::vector<cursor> cursors;
                cursors.reserve(last - first);
                for (std::size_t k = first; k < last; ++k) cursors.emplace_back(file_->path(), runs_[k]);
                std::priority_queue<std::size_t, std::vector<std::size_t>, later> heap(later{&cursors});
                for (std::size_t i = 0; i < cursors.size(); ++i)
                    if (cursors[i].advance()) heap.push(i);
                run r{std::uint64_t(out.tellp()), 0};
                while (!heap.empty()) {
                    const std::size_t i = heap.top();
                    heap.pop();
                    write_record(out, cursors[i].rec, next_file->path());
                    ++r.count;
                    if (cursors[i].advance()) heap.push(i);
                }
                merged.push_back(r);
            }
            out.flush();
            if (!out)
                throw io_error("cannot write the temporary file '" + next_file->path().string() + "' (disk full?)");
            end_ = std::uint64_t(out.tellp());
        }
        file_ = std::move(next_file);  // the old file is removed here
        runs_ = std::move(merged);
    }

    external_sort_options options_;
    std::vector<record> buffer_;
    std::size_t bytes_ = 0;
    std::uint64_t count_ = 0;
    bool sorted_ = false;
    std::unique_ptr<detail::scratch_file> file_;
    std::vector<run> runs_;
    std::uint64_t end_ = 0;
};

/// \brief The first record, in push order, whose key an earlier record has (its `seq` is its push index).
/// Reads every record once.
template <class Value>
std::optional<typename external_sorter<Value>::record> first_repeated_key(external_sorter<Value>& sorter) {
    auto in = sorter.stream();
    std::optional<typename external_sorter<Value>::record> first;
    std::string previous;
    bool any = false;
    while (const auto* r = in.next()) {
        // within equal keys the push order ascends, so the second of a group is its first repeat
        if (any && r->key == previous) {
            if (!first || r->seq < first->seq) first = *r;
            while (const auto* s = in.next())
                if (s->key != previous) {
                    previous = s->key;
                    break;
                }
            continue;
        }
        previous = r->key;
        any = true;
    }
    return first;
}

/// \brief Records sorted by key, one per key, looked up by key in bounded memory: held in memory while they take
/// less than `run_bytes`, else in one temporary file (removed when the index is destroyed) with every 256th key
/// kept in memory, so a lookup reads one block of at most 256 records. append() the records in ascending key
/// order (what an external_sorter's stream gives), then find(). With `group_bytes` n > 0 a record's key may
/// carry a payload after its first n bytes (text the value cannot hold): find() compares the first n bytes only.
template <class Value>
class sorted_key_index {
    static_assert(std::is_trivially_copyable_v<Value>, "sorted_key_index: the value must be trivially copyable");

public:
    struct entry {
        std::string key;
        Value value{};
    };

    explicit sorted_key_index(external_sort_options options = {}, std::size_t group_bytes = 0)
        : options_(std::move(options)), group_bytes_(group_bytes) {}

    void append(std::string_view key, const Value& value) {
        if (file_) {
            write(key, value);
            return;
        }
        memory_.push_back(entry{std::string(key), value});
        bytes_ += sizeof(entry) + (key.size() > 15 ? key.size() : 0);
        if (bytes_ >= options_.run_bytes) spill();
    }

    std::uint64_t size() const noexcept { return count_ + memory_.size(); }
    /// True once the records went to a temporary file.
    bool spilled() const noexcept { return file_ != nullptr; }

    /// The record whose key (its first group_bytes bytes) is `key`, if any. Call after the last append().
    std::optional<entry> find(std::string_view key) const {
        if (!file_) {
            const auto it = std::lower_bound(memory_.begin(), memory_.end(), key,
                                             [&](const entry& e, std::string_view k) { return group(e.key) < k; });
            if (it == memory_.end() || group(it->key) != key) return std::nullopt;
            return *it;
        }
        if (out_) {  // the first lookup after the appends: the file is complete
            out_->flush();
            if (!*out_)
                throw io_error("cannot write the temporary file '" + file_->path().string() + "' (disk full?)");
            out_.reset();
        }
        // the block that may hold `key`: the last whose first key is not after it
        auto b = std::upper_bound(blocks_.begin(), blocks_.end(), key,
                                  [](std::string_view k, const block& x) { return k < std::string_view(x.first); });
        if (b == blocks_.begin()) return std::nullopt;
        --b;
        if (!in_) {
            in_ = std::make_unique<std::ifstream>(file_->path(), std::ios::binary);
            if (!*in_) throw io_error("cannot read the temporary file '" + file_->path().string() + "'");
        }
        in_->clear();
        in_->seekg(std::streamoff(b->offset));
        const std::uint64_t first = std::uint64_t(b - blocks_.begin()) * block_records;
        const std::uint64_t n = std::min<std::uint64_t>(block_records, count_ - first);
        entry e;
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint32_t len = 0;
            in_->read(reinterpret_cast<char*>(&len), sizeof len);
            e.key.resize(len);
            in_->read(e.key.data(), std::streamsize(len));
            in_->read(reinterpret_cast<char*>(&e.value), sizeof(Value));
            if (!*in_)
                throw io_error("cannot read the temporary file '" + file_->path().string() + "' (removed meanwhile?)");
            const std::string_view g = group(e.key);
            if (g == key) return e;
            if (key < g) break;
        }
        return std::nullopt;
    }

private:
    static constexpr std::uint64_t block_records = 256;
    struct block {
        std::string first;  ///< the group part of the block's first key
        std::uint64_t offset = 0;
    };

    std::string_view group(std::string_view key) const noexcept {
        return group_bytes_ == 0 ? key : key.substr(0, std::min(group_bytes_, key.size()));
    }

    void spill() {
        file_ = std::make_unique<detail::scratch_file>(options_.directory);
        out_ = std::make_unique<std::ofstream>(file_->path(), std::ios::binary | std::ios::trunc);
        if (!*out_) throw io_error("cannot write the temporary file '" + file_->path().string() + "'");
        for (const auto& e : memory_) write(e.key, e.value);
        memory_.clear();
        memory_.shrink_to_fit();
        bytes_ = 0;
    }

    void write(std::string_view key, const Value& value) {
        if (count_ % block_records == 0) blocks_.push_back(block{std::string(group(key)), offset_});
        const auto n = static_cast<std::uint32_t>(key.size());
        detail::write_or_throw(*out_, &n, sizeof n, file_->path());
        detail::write_or_throw(*out_, key.data(), key.size(), file_->path());
        detail::write_or_throw(*out_, &value, sizeof(Value), file_->path());
        offset_ += sizeof n + key.size() + sizeof(Value);
        ++count_;
    }

    external_sort_options options_;
    std::size_t group_bytes_ = 0;
    std::vector<entry> memory_;
    std::size_t bytes_ = 0;
    std::unique_ptr<detail::scratch_file> file_;
    mutable std::unique_ptr<std::ofstream> out_;
    mutable std::unique_ptr<std::ifstream> in_;
    std::vector<block> blocks_;
    std::uint64_t count_ = 0, offset_ = 0;
};

/// \brief A key that two records of an external_sorter share: the record pushed first (`first`) and the next one
/// pushed (`repeat`), of the group whose repeat was pushed earliest.
template <class Value>
struct repeated_key {
    typename external_sorter<Value>::record first, repeat;
};

/// \brief Reads `sorter` once, in key order, taking records whose keys share their first `group_bytes` bytes (0:
/// the whole key) as one group; appends to `index` (unless null) one record per group, the first pushed or, with
/// `keep_last`, the last pushed. Returns the repeat pushed earliest, if any: the error a reader holding its rows
/// in a map would have met first.
template <class Value>
std::optional<repeated_key<Value>> index_sorted_groups(external_sorter<Value>& sorter, sorted_key_index<Value>* index,
                                                       std::size_t group_bytes, bool keep_last) {
    using record = typename external_sorter<Value>::record;
    auto in = sorter.stream();
    std::optional<repeated_key<Value>> earliest;
    const auto group = [&](const std::string& k) {
        return group_bytes == 0 ? std::string_view(k) : std::string_view(k).substr(0, std::min(group_bytes, k.size()));
    };
    record first, second, last;  // of the current group: the smallest and second smallest seq, the largest
    bool open = false, has_second = false;
    const auto close = [&] {
        if (!open) return;
        if (index) {
            const record& kept = keep_last ? last : first;
            index->append(kept.key, kept.value);
        }
        if (has_second && (!earliest || second.seq < earliest->repeat.seq)) earliest = repeated_key<Value>{first, second};
    };
    while (const record* r = in.next()) {
        if (open && group(r->key) == group(first.key)) {
            if (r->seq < first.seq) {
                second = std::move(first);
                first = *r;
                has_second = true;
            } else if (!has_second || r->seq < second.seq) {
                second = *r;
                has_second = true;
            }
            if (r->seq > last.seq) last = *r;
            continue;
        }
        close();
        first = *r;
        last = *r;
        open = true;
        has_second = false;
    }
    close();
    return earliest;
}

/// \brief A join by key in bounded memory that keeps the order of one side. add_build() the records of one
/// table (keys unique, any order), add_probe() those of the other, then results() gives, for each probe in
/// the order it was added, its value and the build value with the same key (if any). Three external sorts:
/// build and probes by key, merged; the matches sorted back by probe order.
template <class Build, class Probe>
class sorted_lookup {
public:
    struct result {
        Probe probe{};
        Build build{};
        bool found = false;
    };

    explicit sorted_lookup(const external_sort_options& options = {})
        : options_(options), build_(options), probes_(options), results_(options) {}

    void add_build(std::string_view key, const Build& value) { build_.push(key, value); }
    void add_probe(std::string_view key, const Probe& value) { probes_.push(key, value); }
    std::uint64_t build_size() const noexcept { return build_.size(); }
    std::uint64_t probe_size() const noexcept { return probes_.size(); }

    /// The first build record (in the order added) that repeats an earlier one's key, if any.
    std::optional<typename external_sorter<Build>::record> repeated_build_key() { return first_repeated_key(build_); }
    /// The same for the probes.
    std::optional<typename external_sorter<Probe>::record> repeated_probe_key() { return first_repeated_key(probes_); }

    /// Reads the matches in probe order (call once every record is added: the first call joins, and frees the
    /// build and probe records): next() returns one result per probe.
    class reader {
    public:
        const result* next() {
            const auto* r = in_.next();
            return r ? &r->value : nullptr;
        }

    private:
        friend class sorted_lookup;
        explicit reader(typename external_sorter<result>::reader in) : in_(std::move(in)) {}
        typename external_sorter<result>::reader in_;
    };

    reader results() {
        if (!joined_) {
            join();
            build_ = external_sorter<Build>(options_);  // their memory and temporary files are not needed again
            probes_ = external_sorter<Probe>(options_);
            joined_ = true;
        }
        return reader(results_.stream());
    }

private:
    void join() {
        auto b = build_.stream();
        auto p = probes_.stream();
        const auto* br = b.next();
        while (const auto* pr = p.next()) {
            while (br && br->key < pr->key) br = b.next();
            result r;
            r.probe = pr->value;
            r.found = br && br->key == pr->key;
            if (r.found) r.build = br->value;
            results_.push(order_key(pr->seq), r);
        }
    }

    /// Big-endian bytes: compared as strings, they order as the numbers do.
    static std::string order_key(std::uint64_t seq) {
        std::string k(8, '\0');
        for (int i = 7; i >= 0; --i, seq >>= 8) k[std::size_t(i)] = char(seq & 0xff);
        return k;
    }

    external_sort_options options_;
    external_sorter<Build> build_;
    external_sorter<Probe> probes_;
    external_sorter<result> results_;
    bool joined_ = false;
};

/// \brief Fixed-size records kept in order: in memory up to `run_bytes`, in a temporary file beyond.
/// for_each() visits them in push order, as often as needed.
template <class T>
class record_store {
    static_assert(std::is_trivially_copyable_v<T>, "record_store: the record must be trivially copyable");

public:
    explicit record_store(external_sort_options options = {}) : options_(std::move(options)) {}

    void push_back(const T& x) {
        buffer_.push_back(x);
        ++count_;
        if (buffer_.size() * sizeof(T) >= options_.run_bytes) flush();
    }
    std::uint64_t size() const noexcept { return count_; }
    bool spilled() const noexcept { return file_ != nullptr; }

    template <class F>
    void for_each(F&& f) const {
        if (file_) {
            std::ifstream in(file_->path(), std::ios::binary);
            if (!in) throw io_error("cannot read the temporary file '" + file_->path().string() + "'");
            std::vector<T> chunk(std::max<std::size_t>(1, (std::size_t(1) << 20) / sizeof(T)));
            for (std::uint64_t left = count_ - buffer_.size(); left > 0;) {
                const std::size_t n = std::size_t(std::min<std::uint64_t>(left, chunk.size()));
                in.read(reinterpret_cast<char*>(chunk.data()), std::streamsize(n * sizeof(T)));
                if (!in) throw io_error("cannot read the temporary file '" + file_->path().string() + "'");
                for (std::size_t i = 0; i < n; ++i) f(chunk[i]);
                left -= n;
            }
        }
        for (const T& x : buffer_) f(x);
    }

private:
    void flush() {
        if (!file_) file_ = std::make_unique<detail::scratch_file>(options_.directory);
        std::ofstream out(file_->path(), std::ios::binary | std::ios::app);
        detail::write_or_throw(out, buffer_.data(), buffer_.size() * sizeof(T), file_->path());
        out.flush();
        if (!out) throw io_error("cannot write the temporary file '" + file_->path().string() + "' (disk full?)");
        buffer_.clear();
    }

    external_sort_options options_;
    std::vector<T> buffer_;
    std::uint64_t count_ = 0;
    std::unique_ptr<detail::scratch_file> file_;
};

}  // namespace ferrum
