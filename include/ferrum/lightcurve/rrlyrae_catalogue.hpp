// Gaia's vari_rrlyrae catalogue (DR2: Clementini et al. 2019, A&A 622, A60; DR3: Clementini et al. 2023,
// A&A 674, A18) read from CSV or ECSV, plain or gzipped (the bulk VariRrlyrae_*.csv.gz), with the DR3 data
// model's scalar columns: one struct per star with missing values as std::optional, a lookup by
// source_id, the join with light curves, and the period to fold each star with (RRab: pf; RRc and RRd: p1_o, the first overtone).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/input_files.hpp"

namespace ferrum {

/// \brief RR Lyrae pulsation types as Gaia's best_classification names them.
enum class rr_type : unsigned char {
    rrab,
    rrc,
    rrd,
    unknown
};

constexpr const char* to_string(rr_type t) noexcept {
    switch (t) {
        case rr_type::rrab: return "RRab";
        case rr_type::rrc: return "RRc";
        case rr_type::rrd: return "RRd";
        default: return "unknown";
    }
}

/// \brief The type Gaia's best_classification text names ("RRab", "RRc", "RRd", any case), or
/// rr_type::unknown for any other text (a catalogue column may hold classes ferrum has no model for).
inline rr_type classify_rr_type(std::string_view s) noexcept {
    auto same = [&](std::string_view name) {
        return s.size() == name.size() && std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
               });
    };
    for (rr_type t : {rr_type::rrab, rr_type::rrc, rr_type::rrd})
        if (same(to_string(t))) return t;
    return rr_type::unknown;
}

/// \brief The type a model file, a config or a command line names: "RRab", "RRc" or "RRd" (any case);
/// \throws value_error naming the text for anything else (never a silent default).
inline rr_type parse_rr_type(std::string_view s) {
    const rr_type t = classify_rr_type(s);
    if (t == rr_type::unknown)
        throw value_error("unknown RR Lyrae type '" + std::string(s) + "' (expected RRab, RRc or RRd)");
    return t;
}

/// \brief The period (days) a star's light curve should be folded with, and the type it came from.
struct rr_folding {
    double period = 0.0;
    rr_type type = rr_type::unknown;
};

/// \brief One row of vari_rrlyrae. Every value the file did not have (column absent or field empty) is
/// std::nullopt. Names and units are Gaia's (periods and epochs in days, epochs BJD(TCB) − 2455197.5).
struct rrlyrae_star {
    std::int64_t source_id = 0;
    std::size_t line = 0;             ///< 1-based line of the star in the catalogue file
    std::string best_classification;  ///< as written ("RRab", "RRc", "RRd"); empty when missing
    rr_type type = rr_type::unknown;  ///< best_classification parsed (any letter case)

    std::optional<std::int64_t> solution_id;
    std::optional<double> pf, pf_error, p1_o, p1_o_error;
    std::optional<double> epoch_g, epoch_g_error, epoch_bp, epoch_bp_error, epoch_rp, epoch_rp_error;
    std::optional<double> epoch_rv, epoch_rv_error;
    std::optional<double> int_average_g, int_average_g_error, int_average_bp, int_average_bp_error;
    std::optional<double> int_average_rp, int_average_rp_error, average_rv, average_rv_error;
    std::optional<double> peak_to_peak_g, peak_to_peak_g_error, peak_to_peak_bp, peak_to_peak_bp_error;
    std::optional<double> peak_to_peak_rp, peak_to_peak_rp_error, peak_to_peak_rv, peak_to_peak_rv_error;
    std::optional<double> r21_g, r21_g_error, r31_g, r31_g_error;
    std::optional<double> phi21_g, phi21_g_error, phi31_g, phi31_g_error;
    std::optional<double> metallicity, metallicity_error, g_absorption, g_absorption_error;
    std::optional<double> zp_mag_g, zp_mag_bp, zp_mag_rp;  // the DR3 model gives no errors for these
    std::optional<double> reference_time_g, reference_time_bp, reference_time_rp, reference_time_rv;
    std::optional<double> fund_freq1, fund_freq1_error, fund_freq2, fund_freq2_error;
    std::optional<std::int64_t> num_clean_epochs_g, num_clean_epochs_bp, num_clean_epochs_rp, num_clean_epochs_rv;
    std::optional<std::int64_t> num_harmonics_for_p1_g, num_harmonics_for_p1_bp, num_harmonics_for_p1_rp;
    std::optional<std::int64_t> num_harmonics_for_p1_rv;

    /// The folding period: pf for RRab; p1_o for RRc, and for RRd, whose first overtone usually dominates.
    /// nullopt when the type is unknown or that period is missing or not positive (folding_problem() says which).
    std::optional<rr_folding> folding() const noexcept {
        const auto p = folding_column();
        if (!p.second || !(*p.second > 0.0)) return std::nullopt;
        return rr_folding{*p.second, type};
    }

    /// Why folding() is empty, in a sentence; empty when it is not.
    std::string folding_problem() const {
        const auto p = folding_column();
        if (type == rr_type::unknown)
            return best_classification.empty()
                       ? "best_classification is empty (expected RRab, RRc or RRd)"
                       : "best_classification '" + best_classification + "' is not RRab, RRc or RRd";
        const std::string what = std::string(to_string(type)) + " star, folded with " + p.first;
        if (!p.second) return what + ", but " + p.first + " is missing";
        if (!(*p.second > 0.0))
            return what + ", but " + p.first + " = " + std::to_string(*p.second) + " is not positive";
        return {};
    }

    /// The column folding() reads: "pf", "p1_o", or "best_classification" when the type is unknown.
    const char* folding_column_name() const noexcept { return folding_column().first; }

private:
    std::pair<const char*, std::optional<double>> folding_column() const noexcept {
        switch (type) {
            case rr_type::rrab: return {"pf", pf};
            case rr_type::rrc:
            case rr_type::rrd: return {"p1_o", p1_o};
            default: return {"best_classification", std::nullopt};
        }
    }
};

namespace skip_reasons {
inline constexpr skip_reason duplicate_id{"duplicated source_id", true};  ///< the same star twice in a catalogue
}  // namespace skip_reasons

struct catalogue_read_options {
    bad_row_policy on_bad_row = bad_row_policy::error;
    /// Columns the file must have besides source_id (e.g. best_classification, pf, p1_o, epoch_g to fold);
    /// the missing ones are named together in one input_error.
    std::vector<std::string> required_columns;
};

namespace detail {
using rr_real = std::optional<double> rrlyrae_star::*;
using rr_count = std::optional<std::int64_t> rrlyrae_star::*;

// The columns a vari_rrlyrae CSV may carry and where each goes; any subset, in any order.
inline const std::vector<std::pair<const char*, rr_real>>& rrlyrae_real_columns() {
    static const std::vector<std::pair<const char*, rr_real>> columns = {
        {"pf", &rrlyrae_star::pf},
        {"pf_error", &rrlyrae_star::pf_error},
        {"p1_o", &rrlyrae_star::p1_o},
        {"p1_o_error", &rrlyrae_star::p1_o_error},
        {"epoch_g", &rrlyrae_star::epoch_g},
        {"epoch_g_error", &rrlyrae_star::epoch_g_error},
        {"epoch_bp", &rrlyrae_star::epoch_bp},
        {"epoch_bp_error", &rrlyrae_star::epoch_bp_error},
        {"epoch_rp", &rrlyrae_star::epoch_rp},
        {"epoch_rp_error", &rrlyrae_star::epoch_rp_error},
        {"epoch_rv", &rrlyrae_star::epoch_rv},
        {"epoch_rv_error", &rrlyrae_star::epoch_rv_error},
        {"int_average_g", &rrlyrae_star::int_average_g},
        {"int_average_g_error", &rrlyrae_star::int_average_g_error},
        {"int_average_bp", &rrlyrae_star::int_average_bp},
        {"int_average_bp_error", &rrlyrae_star::int_average_bp_error},
        {"int_average_rp", &rrlyrae_star::int_average_rp},
        {"int_average_rp_error", &rrlyrae_star::int_average_rp_error},
        {"average_rv", &rrlyrae_star::average_rv},
        {"average_rv_error", &rrlyrae_star::average_rv_error},
        {"peak_to_peak_g", &rrlyrae_star::peak_to_peak_g},
        {"peak_to_peak_g_error", &rrlyrae_star::peak_to_peak_g_error},
        {"peak_to_peak_bp", &rrlyrae_star::peak_to_peak_bp},
        {"peak_to_peak_bp_error", &rrlyrae_star::peak_to_peak_bp_error},
        {"peak_to_peak_rp", &rrlyrae_star::peak_to_peak_rp},
        {"peak_to_peak_rp_error", &rrlyrae_star::peak_to_peak_rp_error},
        {"peak_to_peak_rv", &rrlyrae_star::peak_to_peak_rv},
        {"peak_to_peak_rv_error", &rrlyrae_star::peak_to_peak_rv_error},
        {"r21_g", &rrlyrae_star::r21_g},
        {"r21_g_error", &rrlyrae_star::r21_g_error},
        {"r31_g", &rrlyrae_star::r31_g},
        {"r31_g_error", &rrlyrae_star::r31_g_error},
        {"phi21_g", &rrlyrae_star::phi21_g},
        {"phi21_g_error", &rrlyrae_star::phi21_g_error},
        {"phi31_g", &rrlyrae_star::phi31_g},
        {"phi31_g_error", &rrlyrae_star::phi31_g_error},
        {"metallicity", &rrlyrae_star::metallicity},
        {"metallicity_error", &rrlyrae_star::metallicity_error},
        {"g_absorption", &rrlyrae_star::g_absorption},
        {"g_absorption_error", &rrlyrae_star::g_absorption_error},
        {"zp_mag_g", &rrlyrae_star::zp_mag_g},
        {"zp_mag_bp", &rrlyrae_star::zp_mag_bp},
        {"zp_mag_rp", &rrlyrae_star::zp_mag_rp},
        {"reference_time_g", &rrlyrae_star::reference_time_g},
        {"reference_time_bp", &rrlyrae_star::reference_time_bp},
        {"reference_time_rp", &rrlyrae_star::reference_time_rp},
        {"reference_time_rv", &rrlyrae_star::reference_time_rv},
        {"fund_freq1", &rrlyrae_star::fund_freq1},
        {"fund_freq1_error", &rrlyrae_star::fund_freq1_error},
        {"fund_freq2", &rrlyrae_star::fund_freq2},
        {"fund_freq2_error", &rrlyrae_star::fund_freq2_error},
    };
    return columns;
}

inline const std::vector<std::pair<const char*, rr_count>>& rrlyrae_count_columns() {
    static const std::vector<std::pair<const char*, rr_count>> columns = {
        {"num_clean_epochs_g", &rrlyrae_star::num_clean_epochs_g},
        {"num_clean_epochs_bp", &rrlyrae_star::num_clean_epochs_bp},
        {"num_clean_epochs_rp", &rrlyrae_star::num_clean_epochs_rp},
        {"num_clean_epochs_rv", &rrlyrae_star::num_clean_epochs_rv},
        {"num_harmonics_for_p1_g", &rrlyrae_star::num_harmonics_for_p1_g},
        {"num_harmonics_for_p1_bp", &rrlyrae_star::num_harmonics_for_p1_bp},
        {"num_harmonics_for_p1_rp", &rrlyrae_star::num_harmonics_for_p1_rp},
        {"num_harmonics_for_p1_rv", &rrlyrae_star::num_harmonics_for_p1_rv},
        {"solution_id", &rrlyrae_star::solution_id},
    };
    return columns;
}

// A missing value as the archive and astropy write one: an empty field, null, or NaN (Gaia's bulk files).
inline bool is_missing_value(std::string_view field) noexcept {
    const std::string_view v = trim(field);
    return v.empty() || iequals(v, "null") || iequals(v, "nan") || v == "--";
}

}  // namespace detail

/// \brief Reads one vari_rrlyrae file row by row: each next() gives a star whose every field parsed, in file
/// order, with the checks of rrlyrae_catalogue (field count, numbers, required columns); a bad row is an
/// input_error, or is skipped and counted under bad_row_policy::skip. Repeated source_ids are the caller's
/// to find (rrlyrae_catalogue holds an index; ferrum-rrl predict sorts the ids on disk): reject_duplicate()
/// reports one as rrlyrae_catalogue does, accept() counts a star the caller keeps.
class rrlyrae_catalogue_reader {
public:
    rrlyrae_catalogue_reader(const std::string& path, const catalogue_read_options& options)
        : csv_(path), policy_(options.on_bad_row) {
        report_.file = csv_.path();
        std::string missing;
        for (const auto& c : options.required_columns)
            if (!csv_.find_column(c)) missing += (missing.empty() ? "" : ", ") + c;
        if (!missing.empty()) {
            std::string have;
            for (const auto& h : csv_.header()) have += (have.empty() ? "" : ", ") + h;
            throw input_error(
                csv_.path(), csv_.header_line(), missing,
                "the catalogue lacks the required column(s) " + missing + " (the header has: " + have + ")");
        }
        c_source_ = csv_.column("source_id");
        c_class_ = csv_.find_column("best_classification");
        for (const auto& column : detail::rrlyrae_real_columns())
            if (auto c = csv_.find_column(column.first)) reals_.emplace_back(*c, column.second);
        for (const auto& column : detail::rrlyrae_count_columns())
            if (auto c = csv_.find_column(column.first)) counts_.emplace_back(*c, column.second);
    }

    const std::string& path() const { return csv_.path(); }
    const csv_reader& csv() const noexcept { return csv_; }

    /// The next star whose fields all parse into `star` (overwritten whole); false at the end of the file.
    bool next(rrlyrae_star& star) {
        while (const csv_record* rec = csv_.next()) {
            ++report_.rows;
            if (!detail::check_field_count(report_, policy_, csv_, *rec)) continue;
            star = rrlyrae_star();
            star.line = rec->line();
            const auto id = parse_int64((*rec)[c_source_]);
            if (!id.ok()) {
                detail::reject_field(report_, policy_, csv_, *rec, c_source_, id, "an integer");
                continue;
            }
            star.source_id = id.value;
            if (c_class_) {
                star.best_classification = std::string(detail::trim((*rec)[*c_class_]));
                star.type = classify_rr_type(star.best_classification);
            }
            // A bad value rejects the whole row (reject_field throws, or counts it and returns false).
            bool good = true;
            for (std::size_t k = 0; good && k < reals_.size(); ++k) {
                const auto [c, member] = reals_[k];
                if (detail::is_missing_value((*rec)[c])) continue;
                const auto v = parse_double((*rec)[c]);
                if (v.ok()) star.*member = v.value;
                else good = detail::reject_field(report_, policy_, csv_, *rec, c, v);
            }
            for (std::size_t k = 0; good && k < counts_.size(); ++k) {
                const auto [c, member] = counts_[k];
                if (detail::is_missing_value((*rec)[c])) continue;
                const auto v = parse_int64((*rec)[c]);
                if (v.ok()) star.*member = v.value;
                else good = detail::reject_field(report_, policy_, csv_, *rec, c, v, "an integer");
            }
            if (good) return true;
        }
        return false;
    }

    /// The error (or skipped row) of `star`, read from this file, whose source_id was first seen on line
    /// `first_line` of `first_file` (empty: this file).
    void reject_duplicate(const rrlyrae_star& star, std::size_t first_line, const std::string& first_file) {
        detail::bad_row(report_, policy_, star.line, csv_.header()[c_source_], skip_reasons::duplicate_id,
                        duplicate_message(star.source_id, first_line, first_file));
    }

    /// The message of a repeated source_id, as reject_duplicate() words it.
    static std::string duplicate_message(std::int64_t source_id, std::size_t first_line, const std::string& first_file) {
        return "source_id " + std::to_string(source_id) + " appears twice (first on line " +
               std::to_string(first_line) + (first_file.empty() ? "" : " of " + first_file) + ")";
    }

    /// The name of the source_id column in this file's header (the field of a repeated-id error).
    const std::string& source_id_column() const { return csv_.header()[c_source_]; }

    void accept() noexcept { ++report_.used; }
    /// Closes the count: the stars are the rows used.
    void finish() noexcept { report_.curves = report_.used; }
    const read_report& report() const noexcept { return report_; }

private:
    csv_reader csv_;
    bad_row_policy policy_;
    read_report report_;
    std::size_t c_source_ = 0;
    std::optional<std::size_t> c_class_;
    std::vector<std::pair<std::size_t, detail::rr_real>> reals_;
    std::vector<std::pair<std::size_t, detail::rr_count>> counts_;
};

/// \brief The stars of a vari_rrlyrae CSV in file order, with a lookup by source_id.
class rrlyrae_catalogue {
public:
    /// Reads `path` (CSV or ECSV, plain or gzip): source_id and options.required_columns are required,
    /// every other column of the DR3 data model's scalars is read when present, unknown columns (and the
    /// array columns fund_freq1_harmonic_*) are ignored. Empty, null and NaN fields are missing values;
    /// text or inf in a numeric field, a short row and a repeated source_id are input_errors (or skipped
    /// rows under bad_row_policy::skip).
    explicit rrlyrae_catalogue(const std::string& path, catalogue_read_options options = {}) {
        add_file(path, options);
        report_.file = files_.front();
    }

    /// Reads several catalogue files (the archive's bulk VariRrlyrae_*.csv.gz) as one, in order; a source_id
    /// in two files is a repeated source_id (an input_error naming the second file, or a skipped row).
    explicit rrlyrae_catalogue(const std::vector<std::string>& files, catalogue_read_options options = {}) {
        if (files.empty()) throw value_error("rrlyrae_catalogue: no files to read");
        report_.file = describe_files(files);
        for (const auto& f : files) add_file(f, options);
    }

    /// A catalogue of the stars given, kept in that order (a repeated source_id: its first), e.g. those of a
    /// batch of light curves that a join on disk found; `file` names where they came from.
    static rrlyrae_catalogue of_stars(std::vector<rrlyrae_star> stars, const std::string& file) {
        rrlyrae_catalogue c;
        c.files_.push_back(file);
        c.report_.file = file;
        for (auto& s : stars)
            if (c.index_.emplace(s.source_id, c.stars_.size()).second) {
                c.stars_.push_back(std::move(s));
                c.file_of_.push_back(0);
            }
        c.report_.rows = c.report_.used = c.report_.curves = c.stars_.size();
        return c;
    }

    const std::vector<rrlyrae_star>& stars() const noexcept { return stars_; }
    std::size_t size() const noexcept { return stars_.size(); }
    auto begin() const noexcept { return stars_.begin(); }
    auto end() const noexcept { return stars_.end(); }
    bool contains(std::int64_t source_id) const noexcept { return index_.count(source_id) != 0; }

    /// The star, or nullptr when the catalogue does not have it.
    const rrlyrae_star* find(std::int64_t source_id) const noexcept {
        const auto it = index_.find(source_id);
        return it == index_.end() ? nullptr : &stars_[it->second];
    }

    /// The star; an input_error naming the file and source_id when the catalogue does not have it.
    const rrlyrae_star& at(std::int64_t source_id) const {
        if (const rrlyrae_star* s = find(source_id)) return *s;
        throw input_error(report_.file, 0, "source_id",
                          "source " + std::to_string(source_id) + " is not in the catalogue (" +
                              std::to_string(stars_.size()) + " stars)");
    }

    /// The folding period of a star; an input_error naming the file, the star's line and the column at
    /// fault when the star is absent, its type unknown, or its period missing or not positive.
    rr_folding folding(std::int64_t source_id) const {
        const rrlyrae_star& s = at(source_id);
        if (auto f = s.folding()) return *f;
        throw input_error(files_[file_of_[std::size_t(&s - stars_.data())]], s.line, s.folding_column_name(),
                          "source " + std::to_string(source_id) + " cannot be folded: " + s.folding_problem());
    }

    /// Rows read and used, and rows skipped per reason.
    const read_report& report() const noexcept { return report_; }

private:
    rrlyrae_catalogue() = default;

    void add_file(const std::string& path, const catalogue_read_options& options) {
        rrlyrae_catalogue_reader reader(path, options);
        files_.push_back(reader.path());
        rrlyrae_star star;
        while (reader.next(star)) {
            const auto [it, inserted] = index_.emplace(star.source_id, stars_.size());
            if (!inserted) {
                reader.reject_duplicate(star, stars_[it->second].line,
                                        file_of_[it->second] + 1 == files_.size() ? "" : files_[file_of_[it->second]]);
                continue;
            }
            stars_.push_back(std::move(star));
            file_of_.push_back(files_.size() - 1);
            reader.accept();
        }
        reader.finish();
        report_.merge(reader.report());
    }

    std::vector<rrlyrae_star> stars_;
    std::vector<std::string> files_;
    std::vector<std::size_t> file_of_;  // the file of each star (an index into files_)
    std::unordered_map<std::int64_t, std::size_t> index_;
    read_report report_;
};

/// \brief Reads a vari_rrlyrae CSV (see rrlyrae_catalogue's constructor).
inline rrlyrae_catalogue read_rrlyrae_catalogue(const std::string& path, catalogue_read_options options = {}) {
    return rrlyrae_catalogue(path, options);
}

/// \brief Reads several vari_rrlyrae files as one catalogue (see rrlyrae_catalogue's constructors).
inline rrlyrae_catalogue read_rrlyrae_catalogue(const std::vector<std::string>& files,
                                                catalogue_read_options options = {}) {
    return rrlyrae_catalogue(files, options);
}

/// \brief How a set of light curves and a catalogue join on source_id (files in any order).
struct catalogue_match {
    std::size_t matched = 0;                  ///< curves with a catalogue entry
    std::size_t curves_not_in_catalogue = 0;  ///< curves whose source_id the catalogue lacks
    std::size_t catalogue_without_curve = 0;  ///< catalogue stars with no curve
};

/// \brief Counts the join of `curves` (anything with a `source_id`) with `catalogue`.
template <class Curves>
catalogue_match match_catalogue(const Curves& curves, const rrlyrae_catalogue& catalogue) {
    catalogue_match m;
    std::unordered_map<std::int64_t, char> seen;
    for (const auto& c : curves) {
        if (catalogue.contains(c.source_id)) {
            ++m.matched;
            seen.emplace(c.source_id, 1);
        } else {
            ++m.curves_not_in_catalogue;
        }
    }
    m.catalogue_without_curve = catalogue.size() - seen.size();
    return m;
}

}  // namespace ferrum
