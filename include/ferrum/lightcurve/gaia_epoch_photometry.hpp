// Gaia epoch photometry in the archive's layouts, plain or gzipped, CSV or ECSV, told apart by the header:
// the long layout (one row per transit and band: Gaia DR2, DR3 DataLink INDIVIDUAL and COMBINED) and the
// bulk layout (one row per source with array cells: DR3 EpochPhotometry_*.csv.gz, DataLink RAW; Gaia DR3
// data model, table epoch_photometry). Each source becomes one light_curve in one band, with the magnitude
// error propagated from the flux, σ_m = (2.5 / ln 10) σ_F / F = 1.0857 / flux_over_error.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ferrum/core/array_field.hpp"
#include "ferrum/core/csv.hpp"
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/lightcurve/tables.hpp"

namespace ferrum {

/// \brief Gaia's three photometric bands.
enum class gaia_band : unsigned char {
    G,
    BP,
    RP
};

constexpr const char* to_string(gaia_band b) noexcept {
    return b == gaia_band::G ? "G" : b == gaia_band::BP ? "BP" : "RP";
}

/// \brief d m / d ln F for m = ZP − 2.5 log10 F; Gaia's documentation rounds it to 1.0857.
inline constexpr double gaia_mag_error_factor = 1.0857362047581294;  // 2.5 / ln(10)

/// What the Gaia reader leaves out besides the reasons of any table (core/csv.hpp, lightcurve/tables.hpp).
namespace skip_reasons {
inline constexpr skip_reason unknown_band{"unknown band", true};  ///< a band other than G, BP and RP
/// the same transit_id twice for one source and band
inline constexpr skip_reason duplicate_transit{"duplicated transit_id", true};
inline constexpr skip_reason other_band{"other band", false};  ///< a band other than the one asked for
/// Gaia's variability pipeline rejected the epoch
inline constexpr skip_reason rejected_by_variability{"rejected by the variability pipeline", false};
/// a bulk-layout array cell that is not an array, or whose bracket never closes (the whole source is skipped)
inline constexpr skip_reason bad_array{"malformed array cell", true};
/// bulk layout: arrays of one row with different lengths, or n_transits disagreeing with them
inline constexpr skip_reason array_length{"arrays of unequal length", true};
}  // namespace skip_reasons

/// \brief The layouts of Gaia epoch photometry that read_gaia_epoch_photometry() tells apart by their columns.
enum class gaia_epoch_layout : unsigned char {
    long_table,  ///< one row per transit and band (DR2; DR3 DataLink INDIVIDUAL and COMBINED)
    bulk,        ///< one row per source, array cells (DR3 bulk EpochPhotometry_*.csv.gz; DataLink RAW)
};

constexpr const char* to_string(gaia_epoch_layout l) noexcept {
    return l == gaia_epoch_layout::long_table ? "long (DataLink INDIVIDUAL/COMBINED, DR2)"
                                              : "bulk (DR3 EpochPhotometry, DataLink RAW)";
}

struct gaia_read_options {
    gaia_band band = gaia_band::G;  ///< the band whose epochs make the light curve
    /// Drop epochs with rejected_by_variability = true (the variability pipeline's outliers); counted.
    bool drop_rejected = true;
    bad_row_policy on_bad_row = bad_row_policy::error;
    bool show_progress = true;  ///< read-all function, files of 64 MiB or more; FERRUM_QUIET=1 silences
};

namespace detail {
// The bulk layout's columns for one band: the arrays of times, magnitudes, flux_over_error and reject flags.
struct gaia_bulk_band_columns {
    const char *time, *mag, *flux_over_error, *reject;
};

constexpr gaia_bulk_band_columns gaia_bulk_columns(gaia_band b) noexcept {
    switch (b) {
        case gaia_band::BP: return {"bp_obs_time", "bp_mag", "bp_flux_over_error", "variability_flag_bp_reject"};
        case gaia_band::RP: return {"rp_obs_time", "rp_mag", "rp_flux_over_error", "variability_flag_rp_reject"};
        default: return {"g_transit_time", "g_transit_mag", "g_transit_flux_over_error", "variability_flag_g_reject"};
    }
}

// The columns each layout needs for `options` (the reject flags only when rejected epochs are dropped).
inline std::vector<std::string> gaia_required_columns(gaia_epoch_layout layout, const gaia_read_options& o) {
    if (layout == gaia_epoch_layout::long_table) {
        std::vector<std::string> c{"source_id", "transit_id", "band", "time", "mag", "flux_over_error"};
        if (o.drop_rejected) c.emplace_back("rejected_by_variability");
        return c;
    }
    const auto b = gaia_bulk_columns(o.band);
    std::vector<std::string> c{"source_id", "transit_id", b.time, b.mag, b.flux_over_error};
    if (o.drop_rejected) c.emplace_back(b.reject);
    return c;
}
}  // namespace detail

/// \brief The layout of the epoch-photometry table `csv` for reading `options.band`: the one whose required
/// columns the header has. \throws input_error naming, for each layout, the columns it needs and those missing.
inline gaia_epoch_layout detect_gaia_epoch_layout(const csv_reader& csv, const gaia_read_options& options) {
    std::string why, closest;  // the field named: the missing columns of the layout nearest to the header
    std::size_t fewest = std::size_t(-1);
    for (const auto layout : {gaia_epoch_layout::long_table, gaia_epoch_layout::bulk}) {
        std::string need, missing;
        std::size_t n_missing = 0;
        for (const auto& c : detail::gaia_required_columns(layout, options)) {
            need += (need.empty() ? "" : ", ") + c;
            if (!csv.find_column(c)) missing += (missing.empty() ? "" : ", ") + c, ++n_missing;
        }
        if (missing.empty()) return layout;
        if (n_missing < fewest) fewest = n_missing, closest = missing;
        why += std::string(" ") + to_string(layout) + " needs " + need + " (missing: " + missing + ");";
    }
    std::string have;
    for (const auto& h : csv.header()) have += (have.empty() ? "" : ", ") + h;
    throw input_error(csv.path(), csv.header_line(), closest,
                      std::string("not a Gaia epoch-photometry table in any layout ferrum reads for band ") +
                          to_string(options.band) + ":" + why + " the header has: " + have);
}

namespace detail {
// One source's rows as read, with what is needed to find duplicated transits after merging pieces.
struct gaia_piece {
    light_curve curve;
    std::vector<std::int64_t> transit;
    std::vector<std::size_t> line;
};
}  // namespace detail

/// \brief Streams a Gaia epoch-photometry table one source at a time: `while (auto lc = reader.next())`.
///
/// The layout is detected from the header (detect_gaia_epoch_layout()); plain or gzip, CSV or ECSV.
/// Columns are found by name (any order, extra columns ignored). Long layout: source_id, transit_id, band,
/// time, mag, flux_over_error, and rejected_by_variability when rejected epochs are dropped. Bulk layout:
/// source_id, transit_id and the band's arrays (G: g_transit_time, g_transit_mag, g_transit_flux_over_error,
/// variability_flag_g_reject; BP and RP: bp_obs_time, bp_mag, ... rp_...), n_transits checked when present;
/// NaN or null elements are transits without a value in that band (an empty magnitude, counted), an empty
/// cell an absent array. In the bulk layout report().rows counts sources, `used` transits. `time` is kept
/// as written: BJD(TCB) − 2455197.5 days. Each curve is sorted by time.
///
/// Bulk rows: a cell that is not an array or never closes its bracket, arrays of one row with different
/// lengths, n_transits disagreeing with transit_id: an input_error naming file, line and column (and the
/// element), or the whole source skipped and counted under `bad_row_policy::skip`; a bad element (text,
/// a missing time for a present magnitude, flux_over_error <= 0) rejects that transit only.
///
/// Rows of a source must be contiguous, as in archive files; a source that reappears after another one is
/// an input_error (read_gaia_epoch_photometry() merges instead). An empty mag skips the epoch (counted in
/// report()). A short row, a bad number, NaN/inf, an unknown band or a transit_id repeated within a source
/// and band is an input_error naming file, line and column, or a skipped and counted row under
/// `bad_row_policy::skip`. Only the fields of rows in the chosen band are parsed. Memory holds one source
/// (plus the ids of the sources already seen, to detect a reappearing one).
class gaia_epoch_reader {
public:
    explicit gaia_epoch_reader(std::string path, gaia_read_options options = {})
        : csv_(std::move(path)), options_(options), layout_(detect_gaia_epoch_layout(csv_, options)) {
        report_.file = csv_.path();
        c_source_ = csv_.column("source_id");
        c_transit_ = csv_.column("transit_id");
        if (layout_ == gaia_epoch_layout::bulk) {
            const auto b = detail::gaia_bulk_columns(options_.band);
            c_time_ = csv_.column(b.time);
            c_mag_ = csv_.column(b.mag);
            c_foe_ = csv_.column(b.flux_over_error);
            if (options_.drop_rejected) c_rejected_ = csv_.column(b.reject);
            c_n_transits_ = csv_.find_column("n_transits");
            return;
        }
        c_band_ = csv_.column("band");
        c_time_ = csv_.column("time");
        c_mag_ = csv_.column("mag");
        c_foe_ = csv_.column("flux_over_error");
        if (options_.drop_rejected) c_rejected_ = csv_.column("rejected_by_variability");
    }

    /// The next source with at least one epoch in the band, or nullopt at the end of the file.
    std::optional<light_curve> next() {
        auto piece = next_piece();
        if (!piece) return std::nullopt;
        return std::move(piece->curve);
    }

    /// Rows read, used and skipped (per reason) so far.
    const read_report& report() const noexcept { return report_; }
    gaia_band band() const noexcept { return options_.band; }
    gaia_epoch_layout layout() const noexcept { return layout_; }

private:
    friend read_result<light_curve> read_gaia_epoch_photometry(const std::string& path, gaia_read_options options);

    struct hooks {
        gaia_epoch_reader& r;
        bool valid_key(std::string_view key, const csv_record& rec) {
            const auto id = parse_int64(key);
            return id.ok() ||
                   detail::reject_field(r.report_, r.options_.on_bad_row, r.csv_, rec, r.c_source_, id, "an integer");
        }
        void start(std::string_view key, const csv_record&) {
            r.piece_ = detail::gaia_piece{};
            r.piece_.curve.source_id = parse_int64(key).value;
            r.piece_.curve.band = to_string(r.options_.band);
        }
        void add(const csv_record& rec) { r.add(rec); }
        std::optional<detail::gaia_piece> finish() {
            r.finish_piece(r.piece_);
            if (r.merge_) return std::move(r.piece_);  // the read-all function counts and drops empty sources
            if (r.piece_.curve.size() == 0) {
                ++r.report_.empty_curves;
                return std::nullopt;
            }
            ++r.report_.curves;
            return std::move(r.piece_);
        }
    };

    std::optional<detail::gaia_piece> next_piece() {
        if (layout_ == gaia_epoch_layout::bulk) return next_bulk_piece();
        hooks h{*this};
        return detail::next_group(csv_, report_, options_.on_bad_row, groups_, c_source_, merge_, h);
    }

    // Bulk layout: one row is one source, so a source ends with its row.
    std::optional<detail::gaia_piece> next_bulk_piece() {
        while (const csv_record* rec = csv_.next()) {
            ++report_.rows;
            if (!detail::check_field_count(report_, options_.on_bad_row, csv_, *rec)) continue;
            const std::string_view key = detail::trim((*rec)[c_source_]);
            hooks h{*this};
            if (!h.valid_key(key, *rec)) continue;
            groups_.start(key, rec->line(), merge_, csv_.path(), csv_.header()[c_source_]);
            h.start(key, *rec);
            if (!add_bulk(*rec)) continue;
            if (auto piece = h.finish()) return piece;
        }
        return std::nullopt;
    }

    // A structural problem (not an array, unequal lengths) is a bad row: the source is skipped whole.
    bool bad_bulk_row(const csv_record& rec, std::size_t column, skip_reason reason, const std::string& message) {
        detail::bad_row(report_, options_.on_bad_row, rec.line(), csv_.header()[column], reason, message);
        return false;
    }

    template <class T>
    bool parse_bulk_array(const csv_record& rec, std::size_t column, parsed_array<T>& a, std::size_t n) {
        parse_array_into(rec[column], a);
        if (a.status == array_status::null) {  // an absent array: n missing elements
            a.values.assign(n, T{});
            a.missing.assign(n, 1);
            a.status = array_status::ok;
        }
        if (!a.ok()) {
            const skip_reason r = a.status == array_status::bad_element ? detail::reason_of(a.element_status)
                                                                        : skip_reasons::bad_array;
            return bad_bulk_row(rec, column, r, describe_array_problem(a, rec[column]));
        }
        if (a.size() != n)
            return bad_bulk_row(rec, column, skip_reasons::array_length,
                                csv_.header()[column] + " has " + std::to_string(a.size()) + " elements but " +
                                    csv_.header()[c_transit_] + " has " + std::to_string(n) +
                                    " (every array of a row has one element per transit)");
        return true;
    }

    bool add_bulk(const csv_record& rec) {
        parse_array_into(rec[c_transit_], transits_);
        if (transits_.status == array_status::null) transits_.status = array_status::ok;  // no transits
        if (!transits_.ok()) {
            const skip_reason r = transits_.status == array_status::bad_element
                                      ? detail::reason_of(transits_.element_status)
                                      : skip_reasons::bad_array;
            return bad_bulk_row(rec, c_transit_, r, describe_array_problem(transits_, rec[c_transit_]));
        }
        const std::size_t n = transits_.size();
        for (std::size_t i = 0; i < n; ++i)
            if (transits_.missing[i])
                return bad_bulk_row(rec, c_transit_, skip_reasons::empty_field,
                                    "element " + std::to_string(i) + " is missing (every transit has an id)");
        if (c_n_transits_) {
            const auto nt = parse_int64(rec[*c_n_transits_]);
            if (!nt.ok())
                return detail::reject_field(report_, options_.on_bad_row, csv_, rec, *c_n_transits_, nt, "an integer");
            if (nt.value != static_cast<std::int64_t>(n))
                return bad_bulk_row(rec, *c_n_transits_, skip_reasons::array_length,
                                    "n_transits is " + std::to_string(nt.value) + " but " + csv_.header()[c_transit_] +
                                        " has " + std::to_string(n) + " elements");
        }
        if (!parse_bulk_array(rec, c_time_, times_, n) || !parse_bulk_array(rec, c_mag_, mags_, n) ||
            !parse_bulk_array(rec, c_foe_, foes_, n))
            return false;
        if (c_rejected_ && !parse_bulk_array(rec, *c_rejected_, flags_, n)) return false;
        const bad_row_policy policy = options_.on_bad_row;
        const auto element_problem = [&](std::size_t column, std::size_t i, skip_reason r, const std::string& what) {
            detail::bad_row(
                report_, policy, rec.line(), csv_.header()[column], r,
                "element " + std::to_string(i) + " (transit_id " + std::to_string(transits_.values[i]) + "): " + what);
        };
        for (std::size_t i = 0; i < n; ++i) {
            // Only a true flag rejects; a null one (a transit the pipeline did not judge) keeps the transit.
            if (c_rejected_ && flags_.has(i) && flags_.values[i]) {
                count(skip_reasons::rejected_by_variability);
                continue;
            }
            if (!mags_.has(i)) {
                count(skip_reasons::missing_mag);
                continue;
            }
            if (!times_.has(i)) {
                element_problem(c_time_, i, skip_reasons::empty_field, "the time is missing but the magnitude is not");
                continue;
            }
            if (!foes_.has(i) || !(foes_.values[i] > 0.0)) {
                element_problem(c_foe_, i, skip_reasons::out_of_range,
                                "flux_over_error must be a positive number, found " +
                                    (foes_.has(i) ? std::to_string(foes_.values[i]) : std::string("NaN/null")));
                continue;
            }
            piece_.curve.time.push_back(times_.values[i]);
            piece_.curve.mag.push_back(mags_.values[i]);
            piece_.curve.mag_err.push_back(gaia_mag_error_factor / foes_.values[i]);
            piece_.transit.push_back(transits_.values[i]);
            piece_.line.push_back(rec.line());
            ++report_.used;
        }
        return true;
    }

    void add(const csv_record& rec) {
        const bad_row_policy policy = options_.on_bad_row;
        const std::string_view band = detail::trim(rec[c_band_]);
        gaia_band b;
        if (detail::iequals(band, "G")) b = gaia_band::G;
        else if (detail::iequals(band, "BP")) b = gaia_band::BP;
        else if (detail::iequals(band, "RP")) b = gaia_band::RP;
        else
            return detail::bad_row(report_, policy, rec.line(), csv_.header()[c_band_], skip_reasons::unknown_band,
                                   "unknown band '" + std::string(band) + "' (Gaia bands are G, BP and RP)");
        if (b != options_.band) return count(skip_reasons::other_band);
        if (c_rejected_) {
            const auto rejected = parse_bool(rec[*c_rejected_]);
            if (!rejected.ok())
                return void(detail::reject_field(report_, policy, csv_, rec, *c_rejected_, rejected, "true or false"));
            if (rejected.value) return count(skip_reasons::rejected_by_variability);
        }
        if (detail::trim(rec[c_mag_]).empty()) return count(skip_reasons::missing_mag);
        const auto mag = parse_double(rec[c_mag_]);
        if (!mag.ok()) return void(detail::reject_field(report_, policy, csv_, rec, c_mag_, mag));
        const auto time = parse_double(rec[c_time_]);
        if (!time.ok()) return void(detail::reject_field(report_, policy, csv_, rec, c_time_, time));
        const auto foe = parse_double(rec[c_foe_]);
        if (!foe.ok()) return void(detail::reject_field(report_, policy, csv_, rec, c_foe_, foe));
        if (foe.value <= 0.0)
            return detail::bad_row(report_, policy, rec.line(), csv_.header()[c_foe_], skip_reasons::out_of_range,
                                   "flux_over_error must be positive, found " + std::string(detail::trim(rec[c_foe_])));
        const auto transit = parse_int64(rec[c_transit_]);
        if (!transit.ok())
            return void(detail::reject_field(report_, policy, csv_, rec, c_transit_, transit, "an integer"));
        piece_.curve.time.push_back(time.value);
        piece_.curve.mag.push_back(mag.value);
        piece_.curve.mag_err.push_back(gaia_mag_error_factor / foe.value);
        piece_.transit.push_back(transit.value);
        piece_.line.push_back(rec.line());
        ++report_.used;
    }

    void count(skip_reason r) { report_.skip(r); }

    // A transit is one observation: seen twice in one source and band, the later row is a bad row. Then
    // the epochs are sorted by time.
    void finish_piece(detail::gaia_piece& p) {
        const std::size_t n = p.transit.size();
        bool increasing = true;
        for (std::size_t i = 1; i < n && increasing; ++i) increasing = p.transit[i - 1] < p.transit[i];
        if (!increasing) {
            std::vector<std::size_t> order(n);
            std::iota(order.begin(), order.end(), std::size_t(0));
            std::stable_sort(order.begin(), order.end(),
                             [&](std::size_t a, std::size_t b) { return p.transit[a] < p.transit[b]; });
            std::vector<char> drop(n, 0);
            std::size_t first = 0;
            for (std::size_t k = 1; k < n; ++k) {
                if (p.transit[order[k]] != p.transit[order[first]]) {
                    first = k;
                    continue;
                }
                detail::bad_row(report_, options_.on_bad_row, p.line[order[k]], csv_.header()[c_transit_],
                                skip_reasons::duplicate_transit,
                                "transit_id " + std::to_string(p.transit[order[k]]) + " appears twice for source " +
                                    std::to_string(p.curve.source_id) + " in band " + p.curve.band +
                                    " (first on line " + std::to_string(p.line[order[first]]) + ")");
                drop[order[k]] = 1;
                --report_.used;
            }
            const auto keep = [&drop](auto& column) {
                std::size_t w = 0;
                for (std::size_t i = 0; i < column.size(); ++i)
                    if (!drop[i]) column[w++] = column[i];
                column.resize(w);
            };
            keep(p.curve.time), keep(p.curve.mag), keep(p.curve.mag_err), keep(p.transit), keep(p.line);
        }
        detail::sort_columns(p.curve.time, p.curve.mag, p.curve.mag_err, p.transit, p.line);
    }

    csv_reader csv_;
    gaia_read_options options_;
    gaia_epoch_layout layout_;
    read_report report_;
    detail::group_tracker groups_;
    std::size_t c_source_ = 0, c_transit_ = 0, c_band_ = 0, c_time_ = 0, c_mag_ = 0, c_foe_ = 0;
    std::optional<std::size_t> c_rejected_, c_n_transits_;
    parsed_array<std::int64_t> transits_;
    parsed_array<double> times_, mags_, foes_;
    parsed_array<bool> flags_;
    bool merge_ = false;
    detail::gaia_piece piece_;
};

/// \brief Reads every source of a Gaia epoch-photometry table in any layout gaia_epoch_reader reads
/// (long or bulk, CSV or ECSV, plain or gzip). Unlike the streaming reader, a source whose
/// rows are split in the file is merged into one light curve (at its first position), re-sorted and
/// re-checked for duplicated transits.
inline read_result<light_curve> read_gaia_epoch_photometry(const std::string& path, gaia_read_options options = {}) {
    gaia_epoch_reader reader(path, options);
    reader.merge_ = true;
    detail::file_progress bar(reader.csv_, options.show_progress);
    std::vector<detail::gaia_piece> pieces;
    std::unordered_map<std::int64_t, std::size_t> index;
    std::vector<char> merged;
    while (auto piece = reader.next_piece()) {
        const auto [it, inserted] = index.emplace(piece->curve.source_id, pieces.size());
        if (inserted) {
            pieces.push_back(std::move(*piece));
            merged.push_back(0);
        } else {
            detail::gaia_piece& p = pieces[it->second];
            const auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
            append(p.curve.time, piece->curve.time);
            append(p.curve.mag, piece->curve.mag);
            append(p.curve.mag_err, piece->curve.mag_err);
            append(p.transit, piece->transit);
            append(p.line, piece->line);
            merged[it->second] = 1;
        }
        bar.update();
    }
    bar.done();
    read_result<light_curve> out;
    out.curves.reserve(pieces.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (merged[i]) reader.finish_piece(pieces[i]);
        if (pieces[i].curve.size() == 0) ++reader.report_.empty_curves;
        else out.curves.push_back(std::move(pieces[i].curve));
    }
    out.report = reader.report_;
    out.report.curves = out.curves.size();
    return out;
}

}  // namespace ferrum
