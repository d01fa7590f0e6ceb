// Fast CSV number formatting for the simulators' writers: the shortest text that reads back to the same
// double (std::to_chars, as Python's repr and the Gaia archive's CSV files print their values), or to
// the same float for the archive's single-precision columns (flux_over_error).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
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

}  // namespace ferrum::sim::detail
