// Catalogue-scale runs split into shards: a stable partition of sources into N shards by a hash of their
// source_id (or one shard per input file), a shard writer (the shard's rows sorted by source_id, written atomically, then a JSON manifest
// recording the inputs, the settings, the row count and a CRC-32 of the output), and a merge that refuses a
// missing or stale shard and streams the sorted shards into one file sorted by source_id (a k-way merge).
// Job arrays (one shard per task) and MPI (one shard per rank) use the same pieces; docs/scaling.md.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <queue>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <sys/stat.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/random.hpp"

namespace ferrum {

/// Shard `index` (0-based) of `count`.
struct shard_spec {
    std::size_t index = 0;
    std::size_t count = 1;
};

/// \brief Parses "k/N" (0 <= k < N), as job arrays number their tasks (Slurm: $SLURM_ARRAY_TASK_ID/N).
inline shard_spec parse_shard_spec(std::string_view text) {
    const auto slash = text.find('/');
    shard_spec s;
    const auto whole = [](std::string_view t, std::size_t& v) {
        const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
        return !t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size();
    };
    if (slash == std::string_view::npos || !whole(text.substr(0, slash), s.index) ||
        !whole(text.substr(slash + 1), s.count) || s.count == 0 || s.index >= s.count)
        throw value_error("a shard is k/N with 0 <= k < N (e.g. 0/4), got '" + std::string(text) + "'");
    return s;
}

/// \brief The shard (of `count`) of a Gaia source_id: splitmix64(source_id) mod count. A fixed 64-bit mix,
/// not std::hash (whose values differ between standard libraries), so every machine, compiler and run puts a
/// source in the same shard; the mix spreads the archive's clustered source_ids evenly over the shards.
constexpr std::size_t shard_of(std::int64_t source_id, std::size_t count) noexcept {
    return static_cast<std::size_t>(splitmix64(static_cast<std::uint64_t>(source_id)) % count);
}

/// \brief The shard of a star id as written: a Gaia source_id (an integer) as above; any other name (e.g. a
/// CRTS id) by splitmix64 of its FNV-1a hash (ferrum::id_key).
inline std::size_t shard_of(std::string_view id, std::size_t count) noexcept {
    return static_cast<std::size_t>(splitmix64(id_key(id)) % count);
}

/// OUT.shard-k-of-N: where shard k of N of the output OUT goes.
inline std::string shard_output_path(const std::string& out, shard_spec s) {
    return out + ".shard-" + std::to_string(s.index) + "-of-" + std::to_string(s.count);
}

/// OUT.shard-k-of-N.json: the shard's manifest, written after its output (its presence means "finished").
inline std::string shard_manifest_path(const std::string& out, shard_spec s) {
    return shard_output_path(out, s) + ".json";
}

/// \brief What identifies an input file's version: its size and modification time (ns). Not a checksum of
/// its bytes: a checksum would read every input (hundreds of GB of DR3 bulk files) once more at each
/// restart before any work; size + mtime is what make and rsync's quick check trust. A file rewritten
/// with the same size and its mtime set back (touch -r) is not seen: delete the manifests to force a rerun.
struct input_fingerprint {
    std::string path;  ///< absolute
    std::uintmax_t size = 0;
    std::int64_t mtime_ns = 0;

    bool operator==(const input_fingerprint& o) const noexcept {
        return path == o.path && size == o.size && mtime_ns == o.mtime_ns;
    }
    bool operator!=(const input_fingerprint& o) const noexcept { return !(*this == o); }
    nlohmann::json to_json() const { return {{"path", path}, {"size", size}, {"mtime_ns", mtime_ns}}; }
};

/// \brief The fingerprint of `path` now (io_error if it cannot be read).
inline input_fingerprint fingerprint_file(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    input_fingerprint f;
    f.path = fs::absolute(path, ec).lexically_normal().string();
    if (ec) f.path = path;
    f.size = fs::file_size(path, ec);
    if (ec) throw io_error(path + ": cannot read its size (" + ec.message() + ")");
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw io_error(path + ": cannot read its modification time");
#ifdef __APPLE__
    const auto& t = st.st_mtimespec;
#else
    const auto& t = st.st_mtim;
#endif
    f.mtime_ns = std::int64_t(t.tv_sec) * 1000000000 + std::int64_t(t.tv_nsec);  // since 1970, UTC
    return f;
}

/// \brief CRC-32 (zlib's, as Python's zlib.crc32) of a file's bytes.
inline std::uint32_t file_crc32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(path + ": cannot open");
    uLong crc = crc32(0L, Z_NULL, 0);
    std::vector<char> buf(1 << 16);
    while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0)
        crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(in.gcount()));
    return static_cast<std::uint32_t>(crc);
}

/// How sources are split into shards: by a hash of source_id (every shard reads every input), or one shard
/// per input file (shard k reads file k; its first input).
inline constexpr const char* partition_by_source_id = "splitmix64(source_id) mod count";
inline constexpr const char* partition_by_file = "one shard per input file";

/// \brief A finished shard: which shard, what it read (inputs, settings) and what it wrote.
struct shard_manifest {
    shard_spec shard;
    std::string partition = partition_by_source_id;
    std::vector<input_fingerprint> inputs;
    std::size_t own_inputs = 0;  ///< the first own_inputs inputs are this shard's alone (its file); the rest shared
    nlohmann::json settings = nlohmann::json::object();  ///< whatever else decides the output (model options...)
    std::string output;                                  ///< the output's file name, beside the manifest
    std::size_t header_bytes = 0;                        ///< the output's header (before the first row)
    std::size_t rows = 0;
    std::uintmax_t bytes = 0;
    std::uint32_t crc32 = 0;

    nlohmann::json to_json() const {
        nlohmann::json in = nlohmann::json::array();
        for (const auto& f : inputs) in.push_back(f.to_json());
        return {
            {"format", "ferrum.shard"},
            {"version", 1},
            {"shard", {{"index", shard.index}, {"count", shard.count}}},
            {"partition", partition},
            {"inputs", in},
            {"own_inputs", own_inputs},
            {"input_fingerprint", "size and modification time (ns) of each input file"},
            {"settings", settings},
            {"output",
             {{"file", output}, {"header_bytes", header_bytes}, {"rows", rows}, {"bytes", bytes}, {"crc32", crc32}}}};
    }

    static shard_manifest from_json(const nlohmann::json& j, const std::string& path) {
        try {
            if (j.at("format").get<std::string>() != "ferrum.shard" || j.at("version").get<int>() != 1)
                throw input_error(path, 0, "format", "not a ferrum shard manifest (format ferrum.shard, version 1)");
            shard_manifest m;
            m.shard.index = j.at("shard").at("index").get<std::size_t>();
            m.shard.count = j.at("shard").at("count").get<std::size_t>();
            m.partition = j.value("partition", std::string(partition_by_source_id));
            m.own_inputs = j.value("own_inputs", std::size_t(0));
            for (const auto& f : j.at("inputs"))
                m.inputs.push_back({f.at("path").get<std::string>(), f.at("size").get<std::uintmax_t>(),
                                    f.at("mtime_ns").get<std::int64_t>()});
            m.settings = j.at("settings");
            const auto& o = j.at("output");
            m.output = o.at("file").get<std::string>();
            m.header_bytes = o.at("header_bytes").get<std::size_t>();
            m.rows = o.at("rows").get<std::size_t>();
            m.bytes = o.at("bytes").get<std::uintmax_t>();
            m.crc32 = o.at("crc32").get<std::uint32_t>();
            if (m.own_inputs > m.inputs.size()) throw input_error(path, 0, "own_inputs", "more than the inputs listed");
            return m;
        } catch (const nlohmann::json::exception& e) {
            throw input_error(path, 0, "", std::string("malformed shard manifest: ") + e.what());
        }
    }
};

namespace detail {

/// The sort key of a row: its first field, as an integer when it is one (Gaia source_ids), else as text;
/// integers sort before names, and equal keys by the whole row, so the order is total and deterministic.
struct row_key {
    bool is_integer = false;
    std::int64_t value = 0;
    std::string_view text;

    explicit row_key(std::string_view row) {
        text = row.substr(0, row.find(','));
        const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
        is_integer = !text.empty() && r.ec == std::errc() && r.ptr == text.data() + text.size();
    }
};

inline bool row_less(std::string_view a, std::string_view b) {
    const row_key ka(a), kb(b);
    if (ka.is_integer != kb.is_integer) return ka.is_integer;
    if (ka.is_integer && ka.value != kb.value) return ka.value < kb.value;
    if (!ka.is_integer && ka.text != kb.text) return ka.text < kb.text;
    return a < b;
}

}  // namespace detail

/// \brief Why shard `s` of `out` must be (re)computed: "" when its manifest and output exist, it read the
/// same `inputs` (unchanged since) with the same `settings`, and its output still has the recorded size and
/// CRC-32; otherwise the reason, for a message.
template <class Dummy = void>  // a template: compiled only where it is used
std::string shard_staleness(const std::string& out, shard_spec s, const std::vector<std::string>& inputs,
                            const nlohmann::json& settings) {
    namespace fs = std::filesystem;
    const std::string mp = shard_manifest_path(out, s), op = shard_output_path(out, s);
    std::error_code ec;
    if (!fs::exists(mp, ec)) return "no manifest " + mp;
    shard_manifest m;
    try {
        m = shard_manifest::from_json(read_json_file(mp, "shard manifest"), mp);
    } catch (const error& e) {
        return std::string("unreadable manifest: ") + e.what();
    }
    if (m.shard.index != s.index || m.shard.count != s.count) return mp + " is of another shard";
    if (m.settings != settings) return "other settings than " + mp + " records";
    if (m.inputs.size() != inputs.size()) return "other inputs than " + mp + " records";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!fs::exists(inputs[i], ec)) return "input " + inputs[i] + " is gone";
        if (fingerprint_file(inputs[i]) != m.inputs[i])
            return "input " + inputs[i] + " changed (size or modification time) since " + mp;
    }
    if (!fs::exists(op, ec) || fs::file_size(op, ec) != m.bytes || file_crc32(op) != m.crc32)
        return "output " + op + " is missing or changed since " + mp;
    return "";
}

/// \brief Writes shard `s` of `out`: `header`, then the lines of `rows` sorted by their first field
/// (source_id), to OUT.shard-k-of-N atomically; then its manifest OUT.shard-k-of-N.json atomically. A crash
/// before the manifest leaves no finished shard (the rerun recomputes it); returns the manifest. A shard of
/// one input file (`partition` partition_by_file) names that file first in `inputs` and sets `own_inputs` 1.
inline shard_manifest write_shard(const std::string& out, shard_spec s, const std::vector<std::string>& inputs,
                                  const nlohmann::json& settings, const std::string& header, const std::string& rows,
                                  const std::string& partition = partition_by_source_id, std::size_t own_inputs = 0) {
    shard_manifest m;
    m.shard = s;
    m.partition = partition;
    m.own_inputs = std::min(own_inputs, inputs.size());
    for (const auto& p : inputs) m.inputs.push_back(fingerprint_file(p));
    m.settings = settings;
    std::vector<std::string_view> lines;
    for (std::size_t pos = 0; pos < rows.size();) {
        const std::size_t end = rows.find('\n', pos);
        const std::size_t stop = end == std::string::npos ? rows.size() : end;
        lines.push_back(std::string_view(rows).substr(pos, stop - pos));
        pos = stop + 1;
    }
    std::sort(lines.begin(), lines.end(), detail::row_less);
    const std::string op = shard_output_path(out, s);
    write_file_atomically(op, [&](std::ostream& os) {
        os << header;
        for (const auto l : lines) os << l << '\n';
    });
    m.output = std::filesystem::path(op).filename().string();
    m.header_bytes = header.size();
    m.rows = lines.size();
    m.bytes = std::filesystem::file_size(op);
    m.crc32 = file_crc32(op);
    write_file_atomically(shard_manifest_path(out, s), m.to_json().dump(2) + "\n");
    return m;
}

/// \brief Merges the `count` shards of `out` (written by write_shard) into `out`, sorted by source_id,
/// atomically. Refuses (value_error, nothing written) a missing shard, one whose inputs changed since it was
/// written, whose output changed, or whose partition, shared inputs, settings or header differ from shard 0's,
/// and a source_id found in two shards (e.g. a star's rows in two input files). Streams: memory holds one
/// row per shard. Returns the number of rows.
template <class Dummy = void>  // a template: compiled only where it is used
std::size_t merge_shards(const std::string& out, std::size_t count) {
    namespace fs = std::filesystem;
    if (count == 0) throw value_error("merge: the number of shards must be at least 1");
    std::vector<shard_manifest> ms;
    std::string header;
    for (std::size_t k = 0; k < count; ++k) {
        const shard_spec s{k, count};
        const std::string mp = shard_manifest_path(out, s), op = shard_output_path(out, s);
        const std::string rerun = "; run predict --shard " + std::to_string(k) + "/" + std::to_string(count);
        std::error_code ec;
        if (!fs::exists(mp, ec))
            throw value_error("merge: shard " + std::to_string(k) + " of " + std::to_string(count) +
                              " is missing or unfinished (no " + mp + ")" + rerun);
        auto m = shard_manifest::from_json(read_json_file(mp, "shard manifest"), mp);
        if (m.shard.index != k || m.shard.count != count)
            throw input_error(mp, 0, "shard",
                              "records another shard than " + std::to_string(k) + " of " + std::to_string(count));
        std::vector<std::string> paths;
        for (const auto& f : m.inputs) paths.push_back(f.path);
        std::string why = shard_staleness(out, s, paths, m.settings);
        const auto shared = [](const shard_manifest& x) {
            return std::vector<input_fingerprint>(x.inputs.begin() + std::ptrdiff_t(x.own_inputs), x.inputs.end());
        };
        if (why.empty() && k > 0 &&
            (m.partition != ms[0].partition || m.own_inputs != ms[0].own_inputs || shared(m) != shared(ms[0]) ||
             m.settings != ms[0].settings))
            why = "its partition, inputs or settings differ from shard 0's";
        if (!why.empty())
            throw value_error("merge: shard " + std::to_string(k) + " of " + std::to_string(count) + " is stale (" +
                              why + ")" + rerun);
        std::ifstream in(op, std::ios::binary);
        std::string h(m.header_bytes, '\0');
        if (!in.read(h.data(), std::streamsize(h.size())))
            throw input_error(op, 0, "", "shorter than the header its manifest records");
        if (k == 0) header = h;
        else if (h != header)
            throw value_error("merge: shard " + std::to_string(k) + " has another header than shard 0");
        ms.push_back(std::move(m));
    }
    std::size_t expected = 0;
    for (const auto& m : ms) expected += m.rows;
    std::size_t rows = 0;
    write_file_atomically(out, [&](std::ostream& os) {
        os << header;
        struct cursor {
            std::ifstream in;
            std::string row;
        };
        std::vector<cursor> cs(count);
        const auto greater = [&](std::size_t a, std::size_t b) { return detail::row_less(cs[b].row, cs[a].row); };
        std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(greater)> heap(greater);
        for (std::size_t k = 0; k < count; ++k) {
            cs[k].in.open(shard_output_path(out, {k, count}), std::ios::binary);
            cs[k].in.seekg(std::streamoff(ms[k].header_bytes));
            if (std::getline(cs[k].in, cs[k].row)) heap.push(k);
        }
        std::string last;  // the previous row's id, to refuse a source in two shards
        std::size_t last_shard = 0;
        while (!heap.empty()) {
            const std::size_t k = heap.top();
            heap.pop();
            const std::string_view id = detail::row_key(cs[k].row).text;
            if (rows > 0 && id == last && k != last_shard)
                throw value_error("merge: source " + std::string(id) + " is in shard " + std::to_string(last_shard) +
                                  " and in shard " + std::to_string(k) + " of " + std::to_string(count) +
                                  (ms[k].own_inputs ? " (input files " + ms[last_shard].inputs[0].path + " and " +
                                                          ms[k].inputs[0].path + ")"
                                                    : std::string()) +
                                  ": a source belongs in one input file; nothing written to " + out);
            last.assign(id.data(), id.size());
            last_shard = k;
            os << cs[k].row << '\n';
            ++rows;
            if (std::getline(cs[k].in, cs[k].row)) heap.push(k);
        }
        // the CRCs matched, so only a shard changed while merging could get here: write nothing
        if (rows != expected)
            throw value_error("merge: " + std::to_string(rows) + " rows read, the manifests record " +
                              std::to_string(expected));
    });
    return rows;
}

}  // namespace ferrum
