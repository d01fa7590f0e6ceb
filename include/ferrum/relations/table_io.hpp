// Reading relation tables from CSV: named numeric columns (features, their errors, the target) with rows
// selected by exact text matches (e.g. Type == RRab), through core/csv.hpp, whole or a batch of rows at a time;
// bad fields are input_errors naming the file, the 1-based line and the column.
#pragma once

#include <cstddef>
#include <limits>
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
    std::size_t rows_read = 0;                   ///< data rows of the file, before the filters
    std::vector<std::string> text_names;         ///< columns kept as text (numeric_columns_reader)
    std::vector<std::vector<std::string>> text;  ///< text[k] holds the values of text_names[k]

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

/// \brief Streams the numeric columns `names` of the CSV file `path`, keeping the rows that pass every filter,
/// a batch of rows at a time: `while (reader.next(batch, cols))`. Memory holds one batch. Every kept row must
/// have a finite number in every requested column: otherwise input_error(file, line, column, why). A missing
/// column is an input_error on the header line. `text_names` are columns kept as text (trimmed), e.g. an id.
class numeric_columns_reader {
public:
    numeric_columns_reader(const std::string& path, std::vector<std::string> names,
                           std::vector<row_filter> filters = {}, csv_options options = {},
                           std::vector<std::string> text_names = {})
        : csv_(path, options),
          names_(std::move(names)),
          text_names_(std::move(text_names)),
          filters_(std::move(filters)) {
        for (const auto& n : names_) idx_.push_back(csv_.column(n));
        for (const auto& n : text_names_) tidx_.push_back(csv_.column(n));
        for (const auto& f : filters_) fidx_.push_back(csv_.column(f.column));
    }

    /// Replaces `out`'s rows with the next kept rows, at most `max_rows` of them; false when none is left.
    /// `out.rows_read` counts the data rows of the file read so far, before the filters.
    bool next(std::size_t max_rows, numeric_columns& out) {
        out.file = csv_.path();
        out.names = names_;
        out.text_names = text_names_;
        out.columns.assign(names_.size(), {});
        out.text.assign(text_names_.size(), {});
        out.lines.clear();
        while (out.rows() < max_rows) {
            const csv_record* rec = csv_.next();
            if (!rec) break;
            require_field_count(csv_, *rec);
            ++rows_read_;
            bool keep = true;
            for (std::size_t k = 0; k < filters_.size() && keep; ++k)
                keep = detail::trim((*rec)[fidx_[k]]) == filters_[k].value;
            if (!keep) continue;
            for (std::size_t k = 0; k < names_.size(); ++k) {
                const std::string_view text = (*rec)[idx_[k]];
                const auto v = parse_double(text);
                if (!v.ok())
                    throw input_error(csv_.path(), rec->line(), csv_.header()[idx_[k]],
                                      detail::message_of(v.status, text));
                out.columns[k].push_back(v.value);
            }
            for (std::size_t k = 0; k < text_names_.size(); ++k)
                out.text[k].emplace_back(detail::trim((*rec)[tidx_[k]]));
            out.lines.push_back(rec->line());
        }
        out.rows_read = rows_read_;
        return out.rows() > 0;
    }

    /// The data rows of the file read so far, before the filters.
    std::size_t rows_read() const noexcept { return rows_read_; }

private:
    csv_reader csv_;
    std::vector<std::string> names_, text_names_;
    std::vector<row_filter> filters_;
    std::vector<std::size_t> idx_, tidx_, fidx_;
    std::size_t rows_read_ = 0;
};

/// \brief Reads the numeric columns `names` of the CSV file `path`, keeping the rows that pass every filter
/// (numeric_columns_reader, in one batch).
inline numeric_columns read_numeric_columns(const std::string& path, const std::vector<std::string>& names,
                                            const std::vector<row_filter>& filters = {}, csv_options options = {}) {
    numeric_columns_reader reader(path, names, filters, options);
    numeric_columns out;
    reader.next(std::numeric_limits<std::size_t>::max(), out);
    return out;
}

}  // namespace ferrum
