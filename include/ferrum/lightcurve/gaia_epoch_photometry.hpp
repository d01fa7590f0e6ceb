// Gaia epoch photometry in the archive's long CSV layout (one row per transit and band, as Gaia DR2 and
// the DR3 datalink write it): each source's rows become one light_curve in one band, with the magnitude
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
}  // namespace skip_reasons

struct gaia_read_options {
    gaia_band band = gaia_band::G;  ///< the band whose epochs make the light curve
    /// Drop epochs with rejected_by_variability = true (the variability pipeline's outliers); counted.
    bool drop_rejected = true;
    bad_row_policy on_bad_row = bad_row_policy::error;
    bool show_progress = true;  ///< read-all function, files of 64 MiB or more; FERRUM_QUIET=1 silences
};

namespace detail {
// One source's rows as read, with what is needed to find duplicated transits after merging pieces.
struct gaia_piece {
    light_curve curve;
    std::vector<std::int64_t> transit;
    std::vector<std::size_t> line;
};
}  // namespace detail

/// \brief Streams a Gaia epoch-photometry CSV one source at a time: `while (auto lc = reader.next())`.
///
/// Columns are found by name (any order, extra columns ignored); required: source_id, transit_id, band,
/// time, mag, flux_over_error, and rejected_by_variability when rejected epochs are dropped. ECSV headers
/// are tolerated. `time` is kept as written: BJD(TCB) − 2455197.5 days. Each curve is sorted by time.
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
        : csv_(std::move(path)), options_(options) {
        report_.file = csv_.path();
        c_source_ = csv_.column("source_id");
        c_transit_ = csv_.column("transit_id");
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
        hooks h{*this};
        return detail::next_group(csv_, report_, options_.on_bad_row, groups_, c_source_, merge_, h);
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
    read_report report_;
    detail::group_tracker groups_;
    std::size_t c_source_ = 0, c_transit_ = 0, c_band_ = 0, c_time_ = 0, c_mag_ = 0, c_foe_ = 0;
    std::optional<std::size_t> c_rejected_;
    bool merge_ = false;
    detail::gaia_piece piece_;
};

/// \brief Reads every source of a Gaia epoch-photometry CSV. Unlike the streaming reader, a source whose
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
