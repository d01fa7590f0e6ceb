// Plain per-star tables: `id,time,mag[,mag_err]` rows become light_curves and already-folded
// `id,phase,mag[,mag_err]` rows become folded_curves, one star at a time (rows grouped by id), each
// sorted by time or phase. Also the helpers every grouped reader shares (column sorting, read-all).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/lightcurve/light_curve.hpp"

namespace ferrum {

/// \brief Everything a read-all function found: the curves in file order and what was skipped.
template <class Curve>
struct read_result {
    std::vector<Curve> curves;
    read_report report;
};

/// Rows the light-curve readers leave out by design: counted, never errors.
namespace skip_reasons {
/// the magnitude is empty (Gaia leaves some epochs without one)
inline constexpr skip_reason missing_mag{"empty magnitude", false};
/// a folded point with phase outside [0, 1) (the repeated points of a plot)
inline constexpr skip_reason phase_outside_unit{"phase outside [0, 1)", false};
}  // namespace skip_reasons

namespace detail {

// Orders `key` ascending and applies the same permutation to every other column. The sort is stable, so
// points with equal keys keep their file order; already sorted input (the usual case) costs one pass.
template <class... Columns>
void sort_columns(std::vector<double>& key, Columns&... columns) {
    if (std::is_sorted(key.begin(), key.end())) return;
    std::vector<std::size_t> order(key.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
    const auto apply = [&order](auto& column) {
        if (column.empty()) return;
        std::decay_t<decltype(column)> sorted;
        sorted.reserve(column.size());
        for (const std::size_t i : order) sorted.push_back(column[i]);
        column.swap(sorted);
    };
    apply(key);
    (apply(columns), ...);
}

// Progress on stderr for the read-all functions, by MiB of the file; only for files big enough to wait on.
class file_progress {
public:
    file_progress(const csv_reader& csv, bool enabled)
        : csv_(csv),
          total_(csv.file_size() >> 20),
          bar_("reading " + csv.path(), std::size_t(total_), "MiB",
               enabled && total_ >= 64 && progress_enabled_by_default()) {}
    void update() { bar_.update(std::size_t(std::min(csv_.bytes_consumed() >> 20, total_))); }
    void done() { bar_.update(std::size_t(total_)); }

private:
    const csv_reader& csv_;
    std::uint64_t total_;
    progress bar_;
};

// The first column of `candidates` present in the header, or the one the caller named.
inline std::optional<std::size_t> pick_column(const csv_reader& csv, const std::string& named,
                                              std::initializer_list<std::string_view> candidates) {
    if (!named.empty()) return csv.column(named);
    for (const auto c : candidates)
        if (auto i = csv.find_column(c)) return i;
    return std::nullopt;
}

inline std::size_t require_column(const csv_reader& csv, const std::string& named,
                                  std::initializer_list<std::string_view> candidates) {
    if (auto i = pick_column(csv, named, candidates)) return *i;
    std::string names;
    for (const auto c : candidates) names += (names.empty() ? "'" : ", '") + std::string(c) + "'";
    throw input_error(csv.path(), csv.header_line(), std::string(*candidates.begin()),
                      "no column named " + names + " (name it in the options if it is called otherwise)");
}

}  // namespace detail

/// \brief Options of the plain-table readers. Empty column names mean "find it by its usual names".
struct table_read_options {
    std::string id_column;   ///< "" → id, source_id, star, name or object
    std::string x_column;    ///< "" → time, mjd, hjd, bjd, jd or t (light curves); phase (folded curves)
    std::string mag_column;  ///< "" → mag or magnitude
    std::string err_column;  ///< "" → mag_err, mag_error, magerr, e_mag, err or sigma; none → no errors
    std::string band = "G";  ///< stored in each light_curve (tables do not say which band they hold)
    /// Folded tables: drop points with phase outside [0, 1) (plots repeat the first points beyond 1) and
    /// count them; when false they are bad rows.
    bool drop_phase_outside_unit = true;
    bad_row_policy on_bad_row = bad_row_policy::error;
    bool show_progress = true;  ///< read-all functions, files of 64 MiB or more; FERRUM_QUIET=1 silences
};

template <class Curve>
read_result<Curve> read_table_all(const std::string& path, table_read_options options);

/// \brief Streams a per-star table one star at a time: `while (auto c = reader.next())`. Memory holds one
/// star. Rows of a star must be contiguous (a star that comes back later is an input_error; the read-all
/// functions merge instead). An empty magnitude skips the point (counted); other bad fields are input_errors
/// naming file, line and column, or skipped rows under `bad_row_policy::skip`.
/// \tparam Curve light_curve (`id,time,mag[,mag_err]`) or folded_curve (`id,phase,mag[,mag_err]`)
template <class Curve>
class basic_table_reader {
    static_assert(std::is_same_v<Curve, light_curve> || std::is_same_v<Curve, folded_curve>,
                  "basic_table_reader reads light_curve (id,time,mag) or folded_curve (id,phase,mag) tables");
    static constexpr bool folded = std::is_same_v<Curve, folded_curve>;

public:
    explicit basic_table_reader(std::string path, table_read_options options = {})
        : csv_(std::move(path)), options_(std::move(options)) {
        report_.file = csv_.path();
        c_id_ = detail::require_column(csv_, options_.id_column, {"id", "source_id", "star", "name", "object"});
        if constexpr (folded) c_x_ = detail::require_column(csv_, options_.x_column, {"phase"});
        else c_x_ = detail::require_column(csv_, options_.x_column, {"time", "mjd", "hjd", "bjd", "jd", "t"});
        c_mag_ = detail::require_column(csv_, options_.mag_column, {"mag", "magnitude"});
        c_err_ = detail::pick_column(csv_, options_.err_column,
                                     {"mag_err", "mag_error", "magerr", "e_mag", "err", "sigma"});
    }

    /// The next star, or nullopt at the end of the file. Stars with no usable row are left out (counted).
    std::optional<Curve> next() {
        hooks h{*this};
        return detail::next_group(csv_, report_, options_.on_bad_row, groups_, c_id_, merge_, h);
    }

    const read_report& report() const noexcept { return report_; }
    const csv_reader& csv() const noexcept { return csv_; }
    /// True when the table has a magnitude-error column (then every curve has mag_err).
    bool has_errors() const noexcept { return c_err_.has_value(); }

private:
    template <class C>
    friend read_result<C> read_table_all(const std::string&, table_read_options);

    struct hooks {
        basic_table_reader& r;
        bool valid_key(std::string_view key, const csv_record& rec) { return r.valid_key(key, rec); }
        void start(std::string_view key, const csv_record& rec) { r.start(key, rec); }
        void add(const csv_record& rec) { r.add(rec); }
        std::optional<Curve> finish() { return r.finish(); }
    };

    bool valid_key(std::string_view key, const csv_record& rec) {
        if (!key.empty()) return true;
        detail::bad_row(report_, options_.on_bad_row, rec.line(), csv_.header()[c_id_], skip_reasons::empty_field,
                        "the star's id is empty");
        return false;
    }
    void start(std::string_view key, const csv_record&) {
        current_ = Curve{};
        const auto id = parse_int64(key);
        if (id.ok()) current_.source_id = id.value;
        else current_.name.assign(key.data(), key.size());
        if constexpr (!folded) current_.band = options_.band;
    }
    void add(const csv_record& rec) {
        const bad_row_policy policy = options_.on_bad_row;
        if (detail::trim(rec[c_mag_]).empty()) {
            return report_.skip(skip_reasons::missing_mag);
        }
        const auto mag = parse_double(rec[c_mag_]);
        if (!mag.ok()) return void(detail::reject_field(report_, policy, csv_, rec, c_mag_, mag));
        const auto x = parse_double(rec[c_x_]);
        if (!x.ok()) return void(detail::reject_field(report_, policy, csv_, rec, c_x_, x));
        if constexpr (folded) {
            if (!(x.value >= 0.0 && x.value < 1.0)) {
                if (options_.drop_phase_outside_unit) {
                    return report_.skip(skip_reasons::phase_outside_unit);
                }
                return detail::bad_row(report_, policy, rec.line(), csv_.header()[c_x_], skip_reasons::out_of_range,
                                       "phase " + std::string(detail::trim(rec[c_x_])) + " is outside [0, 1)");
            }
        }
        double err = 0.0;
        if (c_err_) {
            const auto e = parse_double(rec[*c_err_]);
            if (!e.ok()) return void(detail::reject_field(report_, policy, csv_, rec, *c_err_, e));
            if (e.value < 0.0)
                return detail::bad_row(
                    report_, policy, rec.line(), csv_.header()[*c_err_], skip_reasons::out_of_range,
                    "a magnitude error cannot be negative: " + std::string(detail::trim(rec[*c_err_])));
            err = e.value;
        }
        x_of(current_).push_back(x.value);
        current_.mag.push_back(mag.value);
        if (c_err_) current_.mag_err.push_back(err);
        ++report_.used;
    }
    std::optional<Curve> finish() {
        detail::sort_columns(x_of(current_), current_.mag, current_.mag_err);
        if (merge_) return std::move(current_);  // the read-all function counts and drops empty stars
        if (current_.size() == 0) {
            ++report_.empty_curves;
            return std::nullopt;
        }
        ++report_.curves;
        return std::move(current_);
    }

    static std::vector<double>& x_of(Curve& c) noexcept {
        if constexpr (folded) return c.phase;
        else return c.time;
    }

    csv_reader csv_;
    table_read_options options_;
    read_report report_;
    detail::group_tracker groups_;
    std::size_t c_id_ = 0, c_x_ = 0, c_mag_ = 0;
    std::optional<std::size_t> c_err_;
    bool merge_ = false;
    Curve current_;
};

using light_curve_table_reader = basic_table_reader<light_curve>;
using folded_table_reader = basic_table_reader<folded_curve>;

/// \brief Reads a whole per-star table; a star whose rows are split in the file is merged into one
/// curve (placed where it first appeared) and re-sorted.
template <class Curve>
read_result<Curve> read_table_all(const std::string& path, table_read_options options) {
    basic_table_reader<Curve> reader(path, options);
    reader.merge_ = true;
    detail::file_progress bar(reader.csv(), options.show_progress);
    read_result<Curve> out;
    std::unordered_map<std::string, std::size_t> index;
    std::vector<char> merged;
    while (auto piece = reader.next()) {
        const std::string key = piece->name.empty() ? std::to_string(piece->source_id) : piece->name;
        const auto [it, inserted] = index.emplace(key, out.curves.size());
        if (inserted) {
            out.curves.push_back(std::move(*piece));
            merged.push_back(0);
        } else {
            Curve& c = out.curves[it->second];
            const auto append = [](std::vector<double>& to, const std::vector<double>& from) {
                to.insert(to.end(), from.begin(), from.end());
            };
            append(reader.x_of(c), reader.x_of(*piece));
            append(c.mag, piece->mag);
            append(c.mag_err, piece->mag_err);
            merged[it->second] = 1;
        }
        bar.update();
    }
    bar.done();
    for (std::size_t i = 0; i < out.curves.size(); ++i)
        if (merged[i]) detail::sort_columns(reader.x_of(out.curves[i]), out.curves[i].mag, out.curves[i].mag_err);
    out.report = reader.report();
    const auto empty = std::remove_if(out.curves.begin(), out.curves.end(),
                                      [](const Curve& c) { return c.size() == 0; });
    out.report.empty_curves = std::size_t(out.curves.end() - empty);
    out.curves.erase(empty, out.curves.end());
    out.report.curves = out.curves.size();
    return out;
}

/// \brief All stars of an `id,time,mag[,mag_err]` table as light_curves, sorted by time.
template <class Dummy = void>  // a template: compiled only where it is used
read_result<light_curve> read_light_curve_table(const std::string& path, table_read_options options = {}) {
    return read_table_all<light_curve>(path, std::move(options));
}

/// \brief All stars of an `id,phase,mag[,mag_err]` table as folded_curves (period 0: unknown), sorted by phase.
template <class Dummy = void>  // a template: compiled only where it is used
read_result<folded_curve> read_folded_table(const std::string& path, table_read_options options = {}) {
    return read_table_all<folded_curve>(path, std::move(options));
}

}  // namespace ferrum
