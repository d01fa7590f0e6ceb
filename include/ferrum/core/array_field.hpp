// Array cells of the Gaia archive's CSV/ECSV files: a quoted field holding "[v1, v2, ...]" (ECSV, bulk
// downloads, DataLink RAW) or "(v1, v2, ...)" (archive CSV), elements that may be NaN or null, empty arrays
// "[]", and an empty field for an array that is absent (no BP spectrum, say). One pass, std::from_chars
// per element; a bad cell reports the element index and text, so errors name file, line, column, element.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief What an array cell held.
enum class array_status : unsigned char {
    ok,            ///< an array (perhaps empty, perhaps with missing elements)
    null,          ///< an empty field: the whole array is absent
    not_an_array,  ///< text that does not start with '[' or '('
    unclosed,      ///< '[' or '(' without its closing bracket
    bad_element,   ///< an element that does not parse (see `index`, `element`, `element_status`)
};

/// \brief An array cell parsed: the elements, which of them were missing (NaN, null or empty; a double
/// element that is missing holds NaN, an integer or boolean one 0), and where it went wrong when it did.
template <class T>
struct parsed_array {
    static_assert(std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, bool>,
                  "parse_array reads arrays of double, std::int64_t or bool");
    std::vector<T> values;
    std::vector<unsigned char> missing;  ///< 1 where values[i] was NaN, null or empty
    array_status status = array_status::null;
    std::size_t index = 0;  ///< the bad element (status bad_element)
    std::string element;    ///< its text
    field_status element_status = field_status::ok;

    bool ok() const noexcept { return status == array_status::ok; }
    std::size_t size() const noexcept { return values.size(); }
    /// True when element i is present (neither NaN nor null).
    bool has(std::size_t i) const noexcept { return !missing[i]; }
};

namespace detail {
constexpr bool is_array_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

constexpr std::string_view trim_array_blanks(std::string_view s) noexcept {
    while (!s.empty() && is_array_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_array_blank(s.back())) s.remove_suffix(1);
    return s;
}

// The spellings of a missing element: astropy writes null for a masked value, NumPy and the archive nan.
constexpr bool is_missing_element(std::string_view e) noexcept {
    return e.empty() || iequals(e, "null") || iequals(e, "nan") || iequals(e, "--");
}

template <class T>
parsed_field<T> parse_element(std::string_view e) noexcept {
    if constexpr (std::is_same_v<T, double>) return parse_double(e);
    else if constexpr (std::is_same_v<T, std::int64_t>) return parse_int64(e);
    else return parse_bool(e);
}
}  // namespace detail

/// \brief Parses the array cell `text` into `out`, reusing its storage (for readers that parse millions of
/// cells). Elements are separated by commas with any blanks around them, or, in a list without a comma, by
/// blanks alone (NumPy's "[1.0 2.0 3.0]"); see parsed_array for the result.
template <class T>
void parse_array_into(std::string_view text, parsed_array<T>& out) {
    out.values.clear();
    out.missing.clear();
    out.status = array_status::ok;
    const std::string_view s = detail::trim_array_blanks(text);
    if (s.empty()) {
        out.status = array_status::null;
        return;
    }
    const char open = s.front();
    if (open != '[' && open != '(') {
        out.status = array_status::not_an_array;
        return;
    }
    const char close = open == '[' ? ']' : ')';
    if (s.size() < 2 || s.back() != close) {
        out.status = array_status::unclosed;
        return;
    }
    const std::string_view inner = detail::trim_array_blanks(s.substr(1, s.size() - 2));
    if (inner.empty()) return;  // "[]": an array with no elements
    const char* p = inner.data();
    const char* const end = p + inner.size();
    const bool blank_separated = inner.find(',') == std::string_view::npos;
    for (;;) {
        const char* q = p;
        if (blank_separated) {
            while (q < end && !detail::is_array_blank(*q)) ++q;
        } else {
            while (q < end && *q != ',') ++q;
        }
        const std::string_view e = detail::trim_array_blanks(std::string_view(p, std::size_t(q - p)));
        if (detail::is_missing_element(e)) {
            if constexpr (std::is_same_v<T, double>) out.values.push_back(std::numeric_limits<double>::quiet_NaN());
            else out.values.push_back(T{});
            out.missing.push_back(1);
        } else {
            const auto v = detail::parse_element<T>(e);
            if (!v.ok()) {
                out.status = array_status::bad_element;
                out.index = out.values.size();
                out.element.assign(e.data(), e.size());
                out.element_status = v.status;
                return;
            }
            out.values.push_back(v.value);
            out.missing.push_back(0);
        }
        if (q == end) break;
        p = q + 1;
        if (blank_separated)
            while (p < end && detail::is_array_blank(*p)) ++p;  // runs of blanks separate once
    }
}

/// \brief Parses one array cell: `parse_array<double>("[1.5, NaN, null, 2]")` gives 4 values, 2 missing.
template <class T>
parsed_array<T> parse_array(std::string_view text) {
    parsed_array<T> out;
    parse_array_into(text, out);
    return out;
}

/// \brief Why `a` is not an array, in a sentence for an input_error ("element 3 ('1.2.3') is not a number").
template <class T>
std::string describe_array_problem(const parsed_array<T>& a, std::string_view text) {
    const std::string head(detail::trim_array_blanks(text).substr(0, 40));
    switch (a.status) {
        case array_status::ok: return {};
        case array_status::null: return "the array is empty (no brackets)";
        case array_status::not_an_array: return "expected an array like \"[1.0, 2.0, ...]\", found '" + head + "'";
        case array_status::unclosed: return "the array's bracket is never closed (the cell begins '" + head + "')";
        default: {
            const char* what = std::is_same_v<T, bool>     ? "true or false"
                               : std::is_same_v<T, double> ? "a number"
                                                           : "an integer";
            return "element " + std::to_string(a.index) + " ('" + a.element +
                   "'): " + detail::message_of(a.element_status, a.element, what);
        }
    }
}

}  // namespace ferrum
