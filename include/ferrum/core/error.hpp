// The one exception family of ferrum. Every error a user can cause derives from ferrum::error and
// says what to fix: input errors name the file, the line and the field.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ferrum {

/// \brief `text` made safe to print on a terminal: control bytes (ESC, CR, NUL, DEL, the C1 controls), and
/// bytes that are not valid UTF-8, become `\xNN`; printable ASCII and valid UTF-8 (a column named "σ_feh")
/// pass unchanged. A line feed is kept when `keep_newlines` (a message of several lines), else escaped too.
/// Every error message that quotes input goes through it, so a binary file's bytes never reach the terminal
/// raw. Escaping an escaped text changes nothing.
inline std::string printable(std::string_view text, bool keep_newlines = false) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    const auto escape = [&](unsigned char c) {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
    };
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if ((c >= 0x20 && c != 0x7f) || c == '\t' || (c == '\n' && keep_newlines)) out += char(c);
            else escape(c);
            ++i;
            continue;
        }
        // a UTF-8 sequence: lead byte, continuation bytes 10xxxxxx, no overlong form, no surrogate, <= U+10FFFF
        const std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        bool valid = n > 0 && i + n <= text.size();
        for (std::size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
        if (valid) {
            const auto c1 = static_cast<unsigned char>(text[i + 1]);
            if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
                (c == 0xf4 && c1 >= 0x90) || (c == 0xc2 && c1 < 0xa0))  // c2 80..9f: the C1 controls
                valid = false;
        }
        if (!valid) {
            escape(c);
            ++i;
            continue;
        }
        out.append(text.data() + i, n);
        i += n;
    }
    return out;
}

/// \brief Base of every exception thrown by ferrum.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// \brief A bad argument or an impossible request (e.g. a period of 0, too few points for a spline).
class value_error : public error {
public:
    using error::error;
};

/// \brief A file could not be opened, read or written.
class io_error : public error {
public:
    using error::error;
};

/// \brief Malformed input data: carries the file, the 1-based line and the field (column) at fault.
class input_error : public error {
public:
    input_error(std::string file, std::size_t line, std::string field, const std::string& message)
        : error(format(file, line, field, message)), file_(std::move(file)), line_(line), field_(std::move(field)) {}

    const std::string& file() const noexcept { return file_; }
    /// 1-based line number; 0 when the problem is not tied to one line (e.g. a missing column).
    std::size_t line() const noexcept { return line_; }
    const std::string& field() const noexcept { return field_; }

private:
    static std::string format(const std::string& file, std::size_t line, const std::string& field,
                              const std::string& message) {
        // the file name, the field and the message may quote the input: never raw bytes on a terminal
        std::string s = file.empty() ? std::string("<input>") : printable(file);
        if (line > 0) s += ":" + std::to_string(line);
        if (!field.empty()) s += ": field '" + printable(field) + "'";
        return s + ": " + printable(message, true);
    }

    std::string file_;
    std::size_t line_;
    std::string field_;
};

}  // namespace ferrum
