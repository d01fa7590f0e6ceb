// Reading relation tables from CSV: named numeric columns (features, their errors, the target) with rows
// selected by exact text matches (e.g. Type == RRab), through core/csv.hpp; bad fields are input_errors
// naming the file, the 1-based line and the column.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief Numeric columns read from a file: columns[k] holds the values of names[k]; lines[i] is the
/// 1-based line of row i in the file.
struct numeric_columns {
    std::string file;
    std::vector<std::string> names;
    std::vector<std::vector<double>> columns;
    std::vector<std::size_t> lines;
    std::size_t rows_read = 0;  ///< data rows of the file, before the filters

    std::size_t rows() const noexcept { return lines.size(); }
    const std::vector<double>& operator[](const std::string& name) const {
        for (std::size_t k = 0; k < names.size(); ++k)
            if (detail::iequals(names[k], name)) return columns[k];
        throw value_error("numeric_columns: '" + name + "' was not read from " + file);
    }
};

/// \brief Row filter: keep rows whose column `column` reads exactly `value` (blanks trimmed).
struct row_filter {
    std::string column, value;
};

/// \brief Reads the numeric columns `names` of the CSV file `path`, keeping the rows that pass every filter.
/// Every kept row must have a finite number in every requested column: otherwise input_error(file, line,
/// column, why). A missing column is an input_error on the header line.
inline numeric_columns read_numeric_columns(const std::string& path, const std::vector<std::string>& names,
                                            const std::vector<row_filter>& filters = {}, csv_options options = {}) {
    csv_reader csv(path, options);
    numeric_columns out;
    out.file = path;
    out.names = names;
    out.columns.resize(names.size());
    std::vector<std::size_t> idx, fidx;
    for (const auto& n : names) idx.push_back(csv.column(n));
    for (const auto& f : filters) fidx.push_back(csv.column(f.column));
    while (const csv_record* rec = csv.next()) {
        require_field_count(csv, *rec);
        ++out.rows_read;
        bool keep = true;
        for (std::size_t k = 0; k < filters.size() && keep; ++k)
            keep = detail::trim((*rec)[fidx[k]]) == filters[k].value;
        if (!keep) continue;
        for (std::size_t k = 0; k < names.size(); ++k) {
            const std::string_view text = (*rec)[idx[k]];
            const auto v = parse_double(text);
            if (!v.ok()) throw input_error(path, rec->line(), csv.header()[idx[k]], detail::message_of(v.status, text));
            out.columns[k].push_back(v.value);
        }
        out.lines.push_back(rec->line());
    }
    return out;
}

}  // namespace ferrum
