// Test helper: is a text well-formed XML (W3C XML 1.0, section 2.1: one root element, tags nested and matched,
// attributes quoted and not repeated, '<' never in text or values, '&' only as a character or entity
// reference)? Enough to check the SVG files ferrum writes, which use no DTD, CDATA or processing instruction
// other than the XML declaration.
#pragma once

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace ferrum_test {

namespace detail {

inline bool xml_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
inline bool xml_name_char(char c) {
    return xml_name_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

/// A reference at s[i] == '&': &amp; &lt; &gt; &quot; &apos; &#N; &#xH; (i moves past it), else false.
inline bool xml_reference(const std::string& s, std::size_t& i) {
    const std::size_t end = s.find(';', i);
    if (end == std::string::npos) return false;
    const std::string r = s.substr(i + 1, end - i - 1);
    bool ok = r == "amp" || r == "lt" || r == "gt" || r == "quot" || r == "apos";
    if (!ok && r.size() >= 2 && r[0] == '#') {
        const bool hex = r[1] == 'x';
        ok = r.size() > (hex ? 2u : 1u);
        for (std::size_t k = hex ? 2 : 1; ok && k < r.size(); ++k)
            ok = hex ? std::isxdigit(static_cast<unsigned char>(r[k])) != 0
                     : std::isdigit(static_cast<unsigned char>(r[k])) != 0;
    }
    i = end + 1;
    return ok;
}

}  // namespace detail

/// Empty when `s` is well-formed XML, else what is wrong and where (a byte offset).
inline std::string xml_well_formedness_error(const std::string& s) {
    const auto fail = [](const std::string& what, std::size_t at) { return what + " at byte " + std::to_string(at); };
    std::size_t i = 0;
    if (s.compare(0, 5, "<?xml") == 0) {
        i = s.find("?>");
        if (i == std::string::npos) return fail("unterminated XML declaration", 0);
        i += 2;
    }
    std::vector<std::string> open;
    int roots = 0;
    while (i < s.size()) {
        if (s[i] != '<') {
            if (s[i] == '&') {
                const std::size_t at = i;
                if (!detail::xml_reference(s, i)) return fail("a bad reference", at);
                if (open.empty()) return fail("text outside the root element", at);
                continue;
            }
            if (open.empty() && !std::isspace(static_cast<unsigned char>(s[i])))
                return fail("text outside the root element", i);
            if (s[i] == '>' && open.empty()) return fail("a stray '>'", i);
            ++i;
            continue;
        }
        if (s.compare(i, 4, "<!--") == 0) {
            const std::size_t end = s.find("-->", i + 4);
            if (end == std::string::npos) return fail("unterminated comment", i);
            i = end + 3;
            continue;
        }
        const bool closing = i + 1 < s.size() && s[i + 1] == '/';
        std::size_t k = i + (closing ? 2 : 1);
        if (k >= s.size() || !detail::xml_name_start(s[k])) return fail("a bad tag name", i);
        const std::size_t name_start = k;
        while (k < s.size() && detail::xml_name_char(s[k])) ++k;
        const std::string name = s.substr(name_start, k - name_start);
        if (closing) {
            while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
            if (k >= s.size() || s[k] != '>') return fail("a bad end tag", i);
            if (open.empty() || open.back() != name) return fail("</" + name + "> does not close the open element", i);
            open.pop_back();
            i = k + 1;
            continue;
        }
        if (open.empty() && ++roots > 1) return fail("a second root element", i);
        std::set<std::string> attributes;
        for (;;) {
            const std::size_t before = k;
            while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
            if (k >= s.size()) return fail("unterminated tag <" + name, i);
            if (s[k] == '>') {
                open.push_back(name);
                i = k + 1;
                break;
            }
            if (s.compare(k, 2, "/>") == 0) {
                i = k + 2;
                break;
            }
            if (k == before || !detail::xml_name_start(s[k])) return fail("a bad attribute in <" + name, k);
            const std::size_t a0 = k;
            while (k < s.size() && detail::xml_name_char(s[k])) ++k;
            if (!attributes.insert(s.substr(a0, k - a0)).second) return fail("a repeated attribute", a0);
            if (k + 1 >= s.size() || s[k] != '=' || (s[k + 1] != '"' && s[k + 1] != '\'')) {
                return fail("an attribute without a quoted value", a0);
            }
            const char quote = s[k + 1];
            k += 2;
            while (k < s.size() && s[k] != quote) {
                if (s[k] == '<') return fail("'<' in an attribute value", k);
                if (s[k] == '&') {
                    const std::size_t at = k;
                    if (!detail::xml_reference(s, k)) return fail("a bad reference", at);
                } else {
                    ++k;
                }
            }
            if (k >= s.size()) return fail("an unterminated attribute value", a0);
            ++k;
        }
    }
    if (!open.empty()) return fail("<" + open.back() + "> is never closed", s.size());
    if (roots != 1) return fail("no root element", 0);
    return {};
}

}  // namespace ferrum_test
