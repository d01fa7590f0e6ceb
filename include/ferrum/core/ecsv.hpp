// Writing tables as ECSV 1.0 (astropy's Enhanced CSV): a commented YAML header that gives every column its
// type, unit and description, then the same comma-separated rows a plain CSV has. astropy reads the file
// with its units (Table.read(path, format="ascii.ecsv")); our csv_reader reads it as CSV (the header lines
// are comments). Empty fields are missing values (astropy masks them).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferrum/core/csv.hpp"

namespace ferrum {

/// \brief True when `path` asks for ECSV (it ends in ".ecsv" or ".ecsv.gz").
inline bool is_ecsv_path(std::string_view path) noexcept {
    const auto ends = [&](std::string_view s) {
        return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
    };
    return ends(".ecsv") || ends(".ecsv.gz");
}

namespace detail {
/// A YAML scalar in single quotes (a quote inside doubled), safe for any text.
inline std::string yaml_quoted(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "''";
        else if (c == '\n' || c == '\r') out += ' ';
        else out += c;
    }
    return out + "'";
}
}  // namespace detail

/// \brief The ECSV header of a comma-separated table (columns as ecsv_column in core/csv.hpp), up to and including the column-name line: the YAML
/// (`delimiter`, `datatype` per column, `meta` key/value pairs, the astropy schema) as comment lines.
inline std::string ecsv_header(const std::vector<ecsv_column>& columns,
                               const std::vector<std::pair<std::string, std::string>>& meta = {}) {
    std::string h = "# %ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n";
    for (const auto& c : columns) {
        h += "# - {name: " + detail::yaml_quoted(c.name);
        if (!c.unit.empty()) h += ", unit: " + detail::yaml_quoted(c.unit);
        h += ", datatype: " + c.datatype;
        if (!c.subtype.empty()) h += ", subtype: " + detail::yaml_quoted(c.subtype);
        if (!c.description.empty()) h += ", description: " + detail::yaml_quoted(c.description);
        h += "}\n";
    }
    if (!meta.empty()) {
        h += "# meta: !!omap\n";
        for (const auto& [k, v] : meta) h += "# - {" + detail::yaml_quoted(k) + ": " + detail::yaml_quoted(v) + "}\n";
    }
    h += "# schema: astropy-2.0\n";
    for (std::size_t i = 0; i < columns.size(); ++i) h += (i ? "," : "") + columns[i].name;
    return h + '\n';
}

}  // namespace ferrum
