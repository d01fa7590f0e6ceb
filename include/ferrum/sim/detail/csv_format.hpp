// Fast CSV number formatting for the simulators' writers: the shortest text that reads back to the same
// double (std::to_chars, as Python's repr and the Gaia archive's CSV files print their values), or to
// the same float for the archive's single-precision columns (flux_over_error).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "ferrum/core/error.hpp"

namespace ferrum::sim::detail {

inline void append_number(std::string& out, double x) {
    if (!std::isfinite(x)) throw value_error("refusing to write a non-finite value to a CSV file");
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    out.append(buf, r.ptr);
}

inline void append_float(std::string& out, float x) {
    if (!std::isfinite(x)) throw value_error("refusing to write a non-finite value to a CSV file");
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    out.append(buf, r.ptr);
}

/// Fixed notation with `digits` decimals (for columns that a person reads, such as the labels).
inline void append_fixed(std::string& out, double x, int digits) {
    if (!std::isfinite(x)) throw value_error("refusing to write a non-finite value to a CSV file");
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, digits);
    out.append(buf, r.ptr);
}

inline void append_integer(std::string& out, std::int64_t x) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    out.append(buf, r.ptr);
}

inline void append_bool(std::string& out, bool b) { out += b ? "true" : "false"; }

// One overload per column type, so that a whole row is one append_row() call.
inline void append_field(std::string& out, double x) { append_number(out, x); }
inline void append_field(std::string& out, float x) { append_float(out, x); }
inline void append_field(std::string& out, std::int64_t x) { append_integer(out, x); }
inline void append_field(std::string& out, bool b) { append_bool(out, b); }
inline void append_field(std::string& out, const char* text) { out += text; }
inline void append_field(std::string& out, const std::string& text) { out += text; }
/// An empty field (a missing value) when the optional is empty.
inline void append_field(std::string& out, const std::optional<double>& x) {
    if (x) append_number(out, *x);
}

/// Appends the fields separated by commas and a newline.
template <class... Fields>
void append_row(std::string& out, const Fields&... fields) {
    static_assert(sizeof...(Fields) > 0, "append_row needs at least one field");
    bool first = true;
    const auto one = [&](const auto& f) {
        if (!first) out += ',';
        first = false;
        append_field(out, f);
    };
    (one(fields), ...);
    out += '\n';
}

}  // namespace ferrum::sim::detail
