// The one rule of the ferrum-* tools for a table that gives a command nothing to work on: a file with a header
// and no data row, or one whose every row is left out (another band, rejected by the pipeline, an empty
// magnitude, a --where filter), is an input_error naming the file and what left the rows out, never an empty
// output with exit 0. The tools read with bad_row_policy::error, so a malformed row stops them before this.
// Also the bound on [Fe/H] values a label or prediction file may hold, and the check that no metric a tool
// prints is NaN or infinite (JSON would show it as null). And how `evaluate` joins its two tables in bounded
// memory (core/external_sort.hpp): how much it holds, and which error comes first.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <ferrum/core/csv.hpp>
#include <ferrum/core/error.hpp>
#include <ferrum/core/external_sort.hpp>

namespace ferrum::cli {

/// Throws input_error(file) when `rows` (the data rows read: header, comments and blank lines excluded) is 0,
/// or when `used` (the rows the command can use) is 0; `left_out` says what left the rows out.
inline void require_usable_rows(const std::string& file, std::size_t rows, std::size_t used,
                                const std::string& left_out = {}) {
    if (rows == 0)
        throw input_error(file, 0, "", "the file has no data rows, only a header line (or nothing): nothing to do");
    if (used == 0)
        throw input_error(file, 0, "",
                          "none of its " + std::to_string(rows) + " data rows is usable" +
                              (left_out.empty() ? std::string() : " (" + left_out + ")"));
}

/// The same for a reader's read_report: the rows it read, the rows it used, and per reason the rows it left out.
inline void require_usable_rows(const read_report& r) {
    std::string why;
    for (const auto& s : r.skipped)
        why += (why.empty() ? "" : ", ") + std::to_string(s.count) + " left out: " + s.reason.text();
    require_usable_rows(r.file, r.rows, r.used, why);
}

/// The largest |[Fe/H]| (and [Fe/H] error), in dex, a label or a prediction may have. Stars lie between about
/// -5 and +1; a value beyond 10 is a wrong column or a corrupt file, and one such value (1e300) would make every
/// metric overflow to infinity.
inline constexpr double max_abs_feh = 10.0;

/// `value`, read from `file` at `line` in column `field`, unless |value| > max_abs_feh: then an input_error.
inline double plausible_feh(double value, const std::string& file, std::size_t line, const std::string& field) {
    if (!(std::abs(value) <= max_abs_feh)) {
        char b[96];
        std::snprintf(b, sizeof b, "%.6g is outside any plausible [Fe/H] (or [Fe/H] error): |value| <= %g dex expected",
                      value, max_abs_feh);
        throw input_error(file, line, field, b);
    }
    return value;
}

/// Throws value_error naming the first number in `metrics` (by its JSON path) that is NaN or infinite, which
/// JSON would print as null: a metric is a number or the command fails. Nulls put there on purpose stay.
inline void require_finite_metrics(const nlohmann::json& metrics, const std::string& command,
                                   const std::string& path = "") {
    if (metrics.is_number_float() && !std::isfinite(metrics.get<double>()))
        throw value_error(command + ": the metric '" + path + "' is not finite; no metrics are written");
    if (metrics.is_object())
        for (auto it = metrics.begin(); it != metrics.end(); ++it)
            require_finite_metrics(*it, command, path.empty() ? it.key() : path + "." + it.key());
    if (metrics.is_array())
        for (std::size_t i = 0; i < metrics.size(); ++i)
            require_finite_metrics(metrics[i], command, path + "[" + std::to_string(i) + "]");
}

/// External-sort options whose run size (`run_bytes`) the environment variable `var` sets when it is given (a
/// whole number of bytes, at least 1), e.g. a few hundred bytes to put a small file through the temporary files.
inline external_sort_options sort_options_from_env(const char* var, external_sort_options o = {}) {
    if (const char* e = std::getenv(var)) {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(e, &end, 10);
        if (!*e || *end || v == 0 || *e == '-')
            throw value_error(std::string(var) + ": a whole number of bytes >= 1 expected, got '" + printable(e) + "'");
        o.run_bytes = std::size_t(v);
    }
    return o;
}

/// The external sorts of `evaluate` (both tools): each holds about 32 MiB of records before it writes a sorted
/// run into $TMPDIR (removed on every exit). FERRUM_EVALUATE_RUN_BYTES sets that size instead.
inline external_sort_options evaluate_sort_options() { return sort_options_from_env("FERRUM_EVALUATE_RUN_BYTES"); }

/// The joins of `ferrum-rrl predict` (and classical) with the vari_rrlyrae catalogue and the --stars table: each
/// holds its records in memory up to about 32 MiB (some 300,000 catalogue stars), and beyond writes them sorted
/// into temporary files in the directory of `output` (removed on every exit), read back a block at a time.
/// FERRUM_PREDICT_RUN_BYTES sets that size instead.
inline external_sort_options predict_sort_options(const std::string& output) {
    external_sort_options o;
    if (!output.empty()) {
        const auto dir = std::filesystem::absolute(output).parent_path();
        o.directory = dir.empty() ? std::filesystem::path(".") : dir;
    }
    return sort_options_from_env("FERRUM_PREDICT_RUN_BYTES", o);
}

/// Runs `read`, which adds a table's rows to an external sort whose repeated keys are found only once the rows
/// are sorted; `throw_if_repeated` throws the error of the first repeated key, if any. The error a reader
/// holding the rows in a map would give comes first: a repeat found among the rows before a failing row
/// (the failing row included when `read` added it) is the error, else the row's own.
template <class Read, class ThrowIfRepeated>
void read_keyed_rows(Read&& read, ThrowIfRepeated&& throw_if_repeated) {
    try {
        read();
    } catch (const ferrum::error&) {
        throw_if_repeated();
        throw;
    }
    throw_if_repeated();
}

}  // namespace ferrum::cli
