// Streaming CSV for large survey tables: 1 MiB block reads split into records by hand, RFC 4180 quoting
// (embedded delimiters, "" escapes, line breaks), CRLF, '#' comment lines and the ECSV header of Astropy
// (APE 6, its column list checked against the column line), gzip read as it streams (recognised by its
// magic bytes, not the name), 1-based line numbers, and std::from_chars number parsing that reports why a
// field is bad.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/core/gzip.hpp"

#if defined(__SSE2__) && !defined(FERRUM_CSV_NO_SIMD)
#  include <emmintrin.h>
#endif

namespace ferrum {

// ---------------------------------------------------------------------------------------------------
// Field parsing
// ---------------------------------------------------------------------------------------------------

/// \brief Why a field did or did not parse; `ok` is the only status that carries a value.
enum class field_status : unsigned char {
    ok,
    empty,         ///< the field is empty (or only blanks): a missing value
    not_a_number,  ///< text that is not a number (or not a boolean)
    not_finite,    ///< "nan", "inf", "infinity": never let through as a value
    out_of_range,  ///< a number beyond the type's range (e.g. 1e999 for a double)
};

/// \brief The result of parsing one field: a value when `status == field_status::ok`.
template <class T>
struct parsed_field {
    T value{};
    field_status status = field_status::empty;
    constexpr bool ok() const noexcept { return status == field_status::ok; }
};

namespace detail {
constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

constexpr char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

// Bit i set when p[i] is the delimiter, a line feed or a double quote, for the n <= 64 bytes at p: the only
// bytes the tokenizer stops at. Scalar reference version.
inline std::uint64_t special_mask_scalar(const char* p, std::size_t n, char delimiter) noexcept {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < n && i < 64; ++i)
        if (p[i] == delimiter || p[i] == '\n' || p[i] == '"') m |= std::uint64_t(1) << i;
    return m;
}

// The same, 16 bytes per compare with SSE2 (every x86-64 CPU has it); FERRUM_CSV_NO_SIMD forces the
// scalar loop. One 64-bit mask per 64 bytes lets the tokenizer visit each byte once, without a branch per
// byte or per field boundary guess.
inline std::uint64_t special_mask(const char* p, std::size_t n, char delimiter) noexcept {
#if defined(__SSE2__) && !defined(FERRUM_CSV_NO_SIMD)
    if (n >= 64) {
        const __m128i d = _mm_set1_epi8(delimiter), nl = _mm_set1_epi8('\n'), q = _mm_set1_epi8('"');
        std::uint64_t m = 0;
        for (int k = 0; k < 4; ++k) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
            const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, nl)),
                                             _mm_cmpeq_epi8(v, q));
            m |= std::uint64_t(static_cast<unsigned>(_mm_movemask_epi8(hit))) << (16 * k);
        }
        return m;
    }
#endif
    return special_mask_scalar(p, n, delimiter);
}

inline int lowest_bit(std::uint64_t m) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(m);
#else
    int i = 0;
    while (!(m & 1)) m >>= 1, ++i;
    return i;
#endif
}

// from_chars rejects a leading '+', which some writers emit for positive numbers; "+-1" stays invalid.
constexpr std::string_view strip_plus(std::string_view s) noexcept {
    if (s.size() > 1 && s.front() == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
    return s;
}
}  // namespace detail

/// \brief Parses a decimal floating-point field (blanks around it allowed). NaN and infinities are
/// reported as `not_finite`, never returned as values.
inline parsed_field<double> parse_double(std::string_view text) noexcept {
    const std::string_view s = detail::strip_plus(detail::trim(text));
    if (s.empty()) return {0.0, field_status::empty};
    double v = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range && end == s.data() + s.size()) return {0.0, field_status::out_of_range};
    if (ec != std::errc() || end != s.data() + s.size()) return {0.0, field_status::not_a_number};
    if (!std::isfinite(v)) return {0.0, field_status::not_finite};
    return {v, field_status::ok};
}

/// \brief Parses a decimal integer field (blanks around it allowed) into a 64-bit signed integer.
inline parsed_field<std::int64_t> parse_int64(std::string_view text) noexcept {
    const std::string_view s = detail::strip_plus(detail::trim(text));
    if (s.empty()) return {0, field_status::empty};
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range) return {0, field_status::out_of_range};
    if (ec != std::errc() || end != s.data() + s.size()) return {0, field_status::not_a_number};
    return {v, field_status::ok};
}

/// \brief Parses a boolean field: true/false in any case (archive tables write "true", Astropy "True"), or 1/0.
inline parsed_field<bool> parse_bool(std::string_view text) noexcept {
    const std::string_view s = detail::trim(text);
    if (s.empty()) return {false, field_status::empty};
    if (detail::iequals(s, "true") || s == "1") return {true, field_status::ok};
    if (detail::iequals(s, "false") || s == "0") return {false, field_status::ok};
    return {false, field_status::not_a_number};
}

// ---------------------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------------------

/// The longest record (a line, or the lines of one quoted record) csv_reader accepts: 16 MiB. A DR3 bulk
/// epoch-photometry row with every array column takes about 320 bytes per epoch (83 KB measured for 260 epochs
/// written by ferrum-rrl simulate --format dr3-bulk), so even a 1,000-epoch row (0.33 MB) is 50 times under the
/// bound. A longer record is a file that is not a table (no line breaks, an unclosed quote); reading on would
/// only grow the buffer until memory runs out.
inline constexpr std::size_t default_max_record_bytes = std::size_t(16) << 20;
/// The longest column name csv_reader accepts: 4 KiB (Gaia's longest names have under 50 characters).
inline constexpr std::size_t default_max_column_name_bytes = 4096;

struct csv_options {
    char delimiter = ',';  ///< overridden by an ECSV header's "delimiter:" line
    char comment = '#';    ///< lines whose first character is this are skipped (ECSV headers included)
    std::size_t block_size = std::size_t(1) << 20;            ///< bytes per fread; the buffer grows for longer records
    std::size_t max_record_bytes = default_max_record_bytes;  ///< a longer record is an input_error
    std::size_t max_column_name_bytes = default_max_column_name_bytes;  ///< a longer header field is an input_error
};

/// \brief One record: its fields as views into the reader's buffer, valid until the next `next()` call.
class csv_record {
public:
    std::size_t size() const noexcept { return fields_.size(); }
    std::string_view operator[](std::size_t i) const noexcept { return fields_[i]; }
    /// 1-based number of the line the record starts on.
    std::size_t line() const noexcept { return line_; }

private:
    friend class csv_reader;
    std::vector<std::string_view> fields_;
    std::size_t line_ = 0;
};

/// \brief One column as an ECSV header (APE 6) declares it: name, datatype and, for the array cells of Gaia's
/// bulk files ("datatype: string"), the subtype of the elements ("float64[null]"), its unit (an astropy unit
/// string: "dex", "d", "mag") and description; empty when not given. Read by csv_reader, written by
/// ecsv_header() (core/ecsv.hpp).
struct ecsv_column {
    std::string name, datatype, subtype, unit, description;
};

/// \brief Reads a delimited text file record by record in big blocks, with its header already parsed.
///
/// Blank lines and comment lines are skipped (but counted, so line numbers match an editor's). The
/// header is the first record; column lookups ignore case and surrounding blanks. A gzip file (magic bytes
/// 1f 8b) is inflated as it is read; a truncated or corrupt one is an input_error naming the file and the
/// line reached. An ECSV header's column list must match the column line (else an input_error on that
/// line). Lines ending in CR alone (classic Mac OS) are refused with an input_error saying how to convert
/// them, rather than read as one long header line.
class csv_reader {
public:
    explicit csv_reader(std::string path, csv_options options = {})
        : path_(std::move(path)), options_(options), file_(std::fopen(path_.c_str(), "rb"), &std::fclose) {
        if (!file_) throw io_error("cannot open '" + path_ + "': " + std::strerror(errno));
        if (options_.block_size < 64) options_.block_size = 64;
        buffer_.resize(options_.block_size);
        std::error_code ec;
        const auto size = std::filesystem::file_size(path_, ec);
        file_size_ = ec ? 0 : static_cast<std::uint64_t>(size);
        // Two bytes decide between text and gzip; they are handed on, so pipes work as well as files.
        const std::size_t magic = std::fread(buffer_.data(), 1, 2, file_.get());
        if (is_gzip_magic(buffer_.data(), magic))
            gz_ = std::make_unique<detail::gzip_source>(file_.get(), path_, buffer_.data(), magic);
        else end_ = magic;
        fill();
        if (end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;  // UTF-8 byte-order mark
        refuse_cr_only(std::string_view(buffer_.data() + pos_, end_ - pos_));
        restart_scan();
        in_preamble_ = true;
        const csv_record* head = next();
        in_preamble_ = false;
        if (!head)
            throw input_error(path_, line_ > 1 ? line_ - 1 : 1, "", "the file has no header line with column names");
        header_line_ = head->line();
        header_.reserve(head->size());
        for (std::size_t i = 0; i < head->size(); ++i) {
            const std::string_view name = detail::trim((*head)[i]);
            if (name.size() > options_.max_column_name_bytes)  // quoted in every error about the column otherwise
                throw input_error(path_, header_line_, "",
                                  "column " + std::to_string(i + 1) + "'s name is " + std::to_string(name.size()) +
                                      " bytes long, more than the " + std::to_string(options_.max_column_name_bytes) +
                                      " allowed; it begins '" + std::string(name.substr(0, 64)) +
                                      "' (is this the right file, and the right --delimiter?)");
            header_.emplace_back(name);
            if (header_.back().find('\r') != std::string::npos) refuse_cr_only("\r");
        }
        check_ecsv_columns();
    }

    const std::string& path() const noexcept { return path_; }
    const std::vector<std::string>& header() const noexcept { return header_; }
    /// 1-based line of the header (1 unless comment/ECSV lines precede it).
    std::size_t header_line() const noexcept { return header_line_; }
    char delimiter() const noexcept { return options_.delimiter; }
    /// True when the file starts with an ECSV header (`# %ECSV 1.0`).
    bool is_ecsv() const noexcept { return is_ecsv_; }
    /// The columns the ECSV header declares, in order (empty for plain CSV).
    const std::vector<ecsv_column>& ecsv_columns() const noexcept { return ecsv_columns_; }
    /// True when the file is gzip-compressed.
    bool is_gzip() const noexcept { return gz_ != nullptr; }

    /// Index of the column called `name` (case-insensitive), if there is one.
    std::optional<std::size_t> find_column(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < header_.size(); ++i)
            if (detail::iequals(header_[i], name)) return i;
        return std::nullopt;
    }

    /// Index of the column called `name`; a missing column is an input_error on the header line.
    std::size_t column(std::string_view name) const {
        if (auto i = find_column(name)) return *i;
        std::string have;
        for (const auto& h : header_) have += (have.empty() ? "" : ", ") + h;
        throw input_error(path_, header_line_, std::string(name),
                          "required column '" + std::string(name) + "' is missing (the header has: " + have + ")");
    }

    /// The next record, or nullptr at the end of the file. The record is overwritten by the next call.
    const csv_record* next() {
        for (;;) {
            char* const data = buffer_.data();
            char* const b = data + pos_;
            char* const e = data + end_;
            if (b == e) {
                if (eof_) return nullptr;
                fill();
                continue;
            }
            if (*b == options_.comment) {
                const char* nl = static_cast<const char*>(std::memchr(b, '\n', std::size_t(e - b)));
                if (!nl && !eof_) {
                    fill();
                    continue;
                }
                if (in_preamble_) read_ecsv_hint(std::string_view(b, std::size_t((nl ? nl : e) - b)));
                pos_ = nl ? std::size_t(nl - data) + 1 : end_;
                ++line_;
                restart_scan();
                continue;
            }
            // Walk the special bytes of the record; a quote sends it to the slow path.
            record_.fields_.clear();
            const char d = options_.delimiter;
            const char* s = b;
            const char* q = nullptr;
            for (;;) {
                while (mask_ == 0 && chunk_ + 64 < end_) {
                    chunk_ += 64;
                    mask_ = detail::special_mask(data + chunk_, end_ - chunk_, d);
                }
                if (mask_ == 0) break;  // no special byte before the end of the buffer
                q = data + chunk_ + detail::lowest_bit(mask_);
                mask_ &= mask_ - 1;
                if (*q != d) break;
                record_.fields_.emplace_back(s, std::size_t(q - s));
                s = q + 1;
            }
            if (mask_ == 0 && (q == nullptr || *q == d)) q = e;
            if (q != e && *q == '"') {
                if (split_quoted(b)) {
                    restart_scan();
                    return &record_;
                }
                fill();  // the quoted record continues past the buffer: read on and parse it again
                continue;
            }
            if (q == e && !eof_) {
                fill();
                continue;
            }
            const char* le = q;  // '\n' or the end of a file without a final line break
            if (le > s && le[-1] == '\r') --le;
            record_.fields_.emplace_back(s, std::size_t(le - s));
            pos_ = q == e ? end_ : std::size_t(q - data) + 1;
            record_.line_ = line_++;
            if (record_.fields_.size() == 1 && detail::trim(record_.fields_[0]).empty()) continue;  // blank line
            return &record_;
        }
    }

    /// Bytes of the file consumed so far (for progress reports; compressed bytes for a gzip file).
    std::uint64_t bytes_consumed() const noexcept { return gz_ ? gz_->compressed_consumed() : consumed_ + pos_; }
    /// Bytes of text handed to the parser so far (uncompressed for a gzip file).
    std::uint64_t text_consumed() const noexcept { return consumed_ + pos_; }
    /// Size of the file in bytes, or 0 when unknown (a pipe).
    std::uint64_t file_size() const noexcept { return file_size_; }

private:
    // The scan state: mask_ holds the not yet visited special bytes of the 64 bytes at chunk_.
    void restart_scan() noexcept {
        chunk_ = pos_;
        mask_ = detail::special_mask(buffer_.data() + pos_, end_ - pos_, options_.delimiter);
    }

    // Reads more of the file behind the unconsumed bytes, growing the buffer when one record fills it.
    void fill() {
        if (eof_) return;
        if (pos_ > 0) {
            std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
            consumed_ += pos_;
            end_ -= pos_;
            pos_ = 0;
        }
        if (end_ == buffer_.size()) {  // one record fills the buffer: grow it, up to the bound
            if (end_ >= options_.max_record_bytes)
                throw input_error(path_, line_, "",
                                  "a line of " + std::to_string(options_.max_record_bytes) +
                                      " bytes or more (no line break, or an unclosed quote): not a table ferrum "
                                      "reads (csv_options::max_record_bytes)");
            buffer_.resize(std::min(buffer_.size() * 2, std::max(options_.max_record_bytes, options_.block_size)));
        }
        const std::size_t room = buffer_.size() - end_;
        const std::size_t n = gz_ ? gz_->read(buffer_.data() + end_, room, line_)
                                  : std::fread(buffer_.data() + end_, 1, room, file_.get());
        end_ += n;
        restart_scan();
        if (n == 0) {
            if (!gz_ && std::ferror(file_.get()))
                throw io_error("reading '" + path_ + "' failed: " + std::strerror(errno));
            eof_ = true;
        }
    }

    // A record with quotes may span lines. First find where it ends, then undo the "" escapes in place
    // (which only shortens fields), so an incomplete record is never modified. As in Python's csv module, a
    // quote opens a quoted field only at the start of a field; elsewhere it is an ordinary character.
    bool split_quoted(char* b) {
        char* const data = buffer_.data();
        char* const e = data + end_;
        const char d = options_.delimiter;
        bool quoted = false, field_start = true;
        std::size_t lines = 0;
        char* p = b;
        for (; p < e; ++p) {
            const char c = *p;
            if (quoted) {
                if (c == '"') {
                    if (p + 1 == e && !eof_) return false;  // "" or a closing quote: the next block decides
                    if (p + 1 < e && p[1] == '"') ++p;
                    else quoted = false;
                } else if (c == '\n') {
                    ++lines;
                }
                continue;
            }
            if (c == '\n') break;
            quoted = c == '"' && field_start;
            field_start = c == d;
        }
        if (p == e && !eof_) return false;
        if (p == e && quoted) throw input_error(path_, line_, "", "a quoted field opened on this line is never closed");
        char* re = p;
        if (re > b && re[-1] == '\r') --re;
        record_.fields_.clear();  // the fast scan may have split the part before the quote
        char* i = b;
        for (;;) {
            char* start = i;
            char* w = i;
            if (i < re && *i == '"') {
                ++i;
                start = w = i;
                while (i < re) {
                    if (*i == '"') {
                        if (i + 1 < re && i[1] == '"') {
                            *w++ = '"';
                            i += 2;
                        } else {
                            ++i;
                            break;
                        }
                    } else {
                        *w++ = *i++;
                    }
                }
                while (i < re && *i != d) *w++ = *i++;  // text after the closing quote is kept, leniently
            } else {
                while (i < re && *i != d) ++i;
                w = i;
            }
            record_.fields_.emplace_back(start, std::size_t(w - start));
            if (i >= re) break;
            ++i;  // the delimiter
            if (i == re) {
                record_.fields_.emplace_back(re, 0);
                break;
            }
        }
        record_.line_ = line_;
        line_ += lines + 1;
        pos_ = p == e ? end_ : std::size_t(p - data) + 1;
        return true;
    }

    // Text with CR line ends and no LF would read as one header line holding the whole file, giving no rows
    // and no error; ferrum refuses it instead.
    void refuse_cr_only(std::string_view text) const {
        if (text.find('\r') == std::string_view::npos || text.find('\n') != std::string_view::npos) return;
        throw input_error(path_, 1, "",
                          "the lines end in CR alone (classic Mac OS line ends); ferrum reads LF or CRLF: convert "
                          "the file first, e.g. tr '\\r' '\\n' < in.csv > out.csv");
    }

    // ECSV (Astropy APE 6) writes its YAML header as '#' lines. The delimiter and the column list (name,
    // datatype, subtype) matter for reading; the list is read in both YAML forms astropy and the Gaia archive
    // write: block items ("- name: x" then "  datatype: y") and flow items ("- {name: x, datatype: y}").
    void read_ecsv_hint(std::string_view line) {
        line.remove_prefix(1);
        if (!is_ecsv_ && detail::trim(line).substr(0, 5) == "%ECSV") {
            is_ecsv_ = true;
            return;
        }
        if (!is_ecsv_) return;
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        std::size_t indent = 0;
        while (indent < line.size() && line[indent] == ' ') ++indent;
        std::string_view body = detail::trim(line);
        if (body.empty() || body == "---") return;
        if (indent == 0 && body.front() != '-') {  // a top-level key
            in_datatype_ = body == "datatype:";
            const std::string_view key = "delimiter:";
            if (body.substr(0, key.size()) != key) return;
            std::string_view v = detail::trim(body.substr(key.size()));
            if (v.size() >= 3 && (v.front() == '\'' || v.front() == '"')) v = v.substr(1, v.size() - 2);
            if (v == "\\t") options_.delimiter = '\t';
            else if (v.size() == 1) options_.delimiter = v.front();
            return;
        }
        if (!in_datatype_) return;
        if (indent == 0) {  // "- ..." starts a column
            ecsv_columns_.emplace_back();
            body = detail::trim(body.substr(1));
            if (body.empty()) return;
            if (body.front() == '{') return read_ecsv_flow(body);
        } else if (indent != 2) {
            return;  // deeper: meta, description continuation lines
        }
        if (!ecsv_columns_.empty()) read_ecsv_key(body, ecsv_columns_.back());
    }

    static std::string_view unquote(std::string_view v) noexcept {
        v = detail::trim(v);
        if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
            v = v.substr(1, v.size() - 2);
        return v;
    }

    static void read_ecsv_key(std::string_view kv, ecsv_column& c) {
        const std::size_t colon = kv.find(':');
        if (colon == std::string_view::npos) return;
        const std::string_view key = detail::trim(kv.substr(0, colon));
        const std::string_view value = unquote(kv.substr(colon + 1));
        if (key == "name") c.name = std::string(value);
        else if (key == "datatype") c.datatype = std::string(value);
        else if (key == "subtype") c.subtype = std::string(value);
        else if (key == "unit") c.unit = std::string(value);
        else if (key == "description") c.description = std::string(value);
    }

    // "{name: x, datatype: string, subtype: 'float64[null]', meta: {...}}": top-level pairs only.
    void read_ecsv_flow(std::string_view body) {
        body = body.substr(1, body.size() >= 2 && body.back() == '}' ? body.size() - 2 : body.size() - 1);
        int depth = 0;
        char quote = 0;
        std::size_t start = 0;
        for (std::size_t i = 0; i <= body.size(); ++i) {
            const char c = i < body.size() ? body[i] : ',';
            if (quote) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                --depth;
            } else if (c == ',' && depth == 0) {
                read_ecsv_key(body.substr(start, i - start), ecsv_columns_.back());
                start = i + 1;
            }
        }
    }

    // The header promises these columns; a column line that lacks or reorders them would shift every value.
    void check_ecsv_columns() const {
        if (ecsv_columns_.empty()) return;
        std::string declared, have;
        for (const auto& c : ecsv_columns_) declared += (declared.empty() ? "" : ", ") + c.name;
        for (const auto& h : header_) have += (have.empty() ? "" : ", ") + h;
        for (std::size_t i = 0; i < std::max(ecsv_columns_.size(), header_.size()); ++i) {
            if (i < ecsv_columns_.size() && i < header_.size() && ecsv_columns_[i].name == header_[i]) continue;
            const std::string field = i < ecsv_columns_.size() ? ecsv_columns_[i].name : header_[i];
            throw input_error(
                path_, header_line_, field,
                "the ECSV header declares the columns [" + declared + "] but the column line has [" + have + "]");
        }
    }

    std::string path_;
    csv_options options_;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
    std::unique_ptr<detail::gzip_source> gz_;
    std::vector<char> buffer_;
    std::size_t pos_ = 0, end_ = 0;
    std::size_t chunk_ = 0;
    std::uint64_t mask_ = 0;
    std::uint64_t consumed_ = 0, file_size_ = 0;
    bool eof_ = false;
    bool in_preamble_ = false;
    bool is_ecsv_ = false, in_datatype_ = false;
    std::vector<ecsv_column> ecsv_columns_;
    std::size_t line_ = 1;  // line on which the next record starts
    std::size_t header_line_ = 0;
    std::vector<std::string> header_;
    csv_record record_;
};

/// \brief Why `rec` does not have as many fields as the header of `csv` ("the row has 12 fields but the
/// header has 11"), with the field where a short row ends (empty for a long row); nullopt when it does.
struct field_count_problem {
    std::string field, message;
};
inline std::optional<field_count_problem> field_count_mismatch(const csv_reader& csv, const csv_record& rec) {
    const std::size_t want = csv.header().size();
    if (rec.size() == want) return std::nullopt;
    return field_count_problem{
        rec.size() < want ? csv.header()[rec.size()] : std::string(),
        "the row has " + std::to_string(rec.size()) + " fields but the header has " + std::to_string(want)};
}

/// \brief Throws input_error (file, line, counts) unless `rec` has exactly as many fields as the header: a
/// row with a field too many (a decimal comma, say) would otherwise shift every later column silently.
/// Every reader of a table calls this (or detail::check_field_count, its bad_row_policy form) on every row.
inline void require_field_count(const csv_reader& csv, const csv_record& rec) {
    if (const auto p = field_count_mismatch(csv, rec)) throw input_error(csv.path(), rec.line(), p->field, p->message);
}

// ---------------------------------------------------------------------------------------------------
// Bad rows: throw, or skip and count
// ---------------------------------------------------------------------------------------------------

/// \brief What a reader does with a malformed row: throw ferrum::input_error (default) or skip it and
/// count it in its read_report.
enum class bad_row_policy : unsigned char {
    error,
    skip
};

/// \brief Why a row was not used: the phrase a summary prints, and whether the row is malformed (an error
/// unless the caller asked to skip) or left out by design (always counted, never an error). Reasons are
/// values, so each reader declares its own beside it in `ferrum::skip_reasons` (this header has the ones any
/// table can have; the readers of particular files add theirs); two reasons are the same if their phrases are.
class skip_reason {
public:
    constexpr skip_reason(const char* text, bool malformed) noexcept : text_(text), malformed_(malformed) {}
    constexpr const char* text() const noexcept { return text_; }
    constexpr bool malformed() const noexcept { return malformed_; }
    friend constexpr bool operator==(skip_reason a, skip_reason b) noexcept {
        return std::string_view(a.text_) == std::string_view(b.text_);
    }
    friend constexpr bool operator!=(skip_reason a, skip_reason b) noexcept { return !(a == b); }

private:
    const char* text_;
    bool malformed_;
};

/// \brief A file read star by star (a streaming reader) whose rows of one star are not together: the star comes
/// back after another star began. An input_error naming the line where it came back; a program that can hold
/// the whole file may catch it and read the file with the read-all function, which merges the pieces.
class ungrouped_rows_error : public input_error {
public:
    using input_error::input_error;
};

/// The reasons any delimited table can have; readers add their own to this namespace.
namespace skip_reasons {
inline constexpr skip_reason field_count{"wrong number of fields", true};  ///< more or fewer fields than the header
inline constexpr skip_reason empty_field{"empty required field", true};    ///< a required value is empty
inline constexpr skip_reason not_a_number{"not a number", true};   ///< a numeric or boolean field does not parse
inline constexpr skip_reason not_finite{"NaN or infinity", true};  ///< NaN or infinity
/// a value outside what it can be (beyond a double, a non-positive error, ...)
inline constexpr skip_reason out_of_range{"value out of range", true};
}  // namespace skip_reasons

constexpr bool is_bad_row(skip_reason r) noexcept { return r.malformed(); }
constexpr const char* describe(skip_reason r) noexcept { return r.text(); }

/// \brief What a reader did with the rows of a file: how many it read and used, and per reason how many
/// it left out, with the message of the first bad row of each kind.
struct read_report {
    /// The rows left out for one reason, and the input_error text of the first one when it was a bad row.
    struct skipped_rows {
        skip_reason reason;
        std::size_t count = 0;
        std::string first_example;
    };

    std::string file;
    std::size_t rows = 0;               ///< data rows (header, comments and blank lines excluded)
    std::size_t used = 0;               ///< rows that became points (or catalogue entries)
    std::size_t curves = 0;             ///< light curves / stars returned
    std::size_t empty_curves = 0;       ///< stars with no usable row left, not returned
    std::vector<skipped_rows> skipped;  ///< one entry per reason that occurred, in order of first occurrence

    /// Counts one row left out for `r`; `example` is kept for the first row of each reason.
    void skip(skip_reason r, std::string example = {}) {
        for (auto& s : skipped)
            if (s.reason == r) {
                ++s.count;
                return;
            }
        skipped.push_back({r, 1, std::move(example)});
    }

    /// Adds another file's counts (several files read as one): totals summed, reasons in order of first
    /// occurrence, the first example of each kept. `file` stays.
    void merge(const read_report& other) {
        rows += other.rows;
        used += other.used;
        curves += other.curves;
        empty_curves += other.empty_curves;
        for (const auto& o : other.skipped) {
            auto it = std::find_if(skipped.begin(), skipped.end(),
                                   [&](const skipped_rows& s) { return s.reason == o.reason; });
            if (it == skipped.end()) {
                skipped.push_back(o);
                continue;
            }
            it->count += o.count;
            if (it->first_example.empty()) it->first_example = o.first_example;
        }
    }

    std::size_t count(skip_reason r) const noexcept {
        for (const auto& s : skipped)
            if (s.reason == r) return s.count;
        return 0;
    }

    /// The input_error text of the first row skipped for `r` (empty if none, or if `r` is by design).
    std::string first_example(skip_reason r) const {
        for (const auto& s : skipped)
            if (s.reason == r) return s.first_example;
        return {};
    }

    /// Malformed rows skipped under bad_row_policy::skip.
    std::size_t bad_rows() const noexcept {
        std::size_t n = 0;
        for (const auto& s : skipped)
            if (s.reason.malformed()) n += s.count;
        return n;
    }

    /// A few lines for a log: totals, then one line per reason that occurred, bad rows first.
    std::string summary() const {
        std::string s = file + ": " + std::to_string(rows) + " rows, " + std::to_string(used) + " used, " +
                        std::to_string(curves) + " curves";
        if (empty_curves) s += " (" + std::to_string(empty_curves) + " stars with no usable rows left out)";
        for (const bool malformed : {true, false})
            for (const auto& k : skipped) {
                if (k.reason.malformed() != malformed) continue;
                s += "\n  " + std::to_string(k.count) + " skipped: " + k.reason.text();
                if (!k.first_example.empty()) s += " (first: " + k.first_example + ")";
            }
        return s;
    }
};

namespace detail {

// The one place a bad row turns into an exception or a count, so every reader behaves the same.
inline void bad_row(read_report& report, bad_row_policy policy, std::size_t line, const std::string& field,
                    skip_reason reason, const std::string& message) {
    input_error e(report.file, line, field, message);
    if (policy == bad_row_policy::error) throw e;
    report.skip(reason, e.what());
}

inline skip_reason reason_of(field_status s) noexcept {
    switch (s) {
        case field_status::empty: return skip_reasons::empty_field;
        case field_status::not_finite: return skip_reasons::not_finite;
        case field_status::out_of_range: return skip_reasons::out_of_range;
        default: return skip_reasons::not_a_number;
    }
}

// A field as an error message quotes it: at most its first 64 bytes, so a megabyte cell is not copied into
// every message.
inline std::string excerpt(std::string_view text) {
    if (text.size() <= 64) return std::string(text);
    return std::string(text.substr(0, 64)) + "... (" + std::to_string(text.size()) + " bytes)";
}

inline std::string message_of(field_status s, std::string_view text, const char* expected = "a number") {
    switch (s) {
        case field_status::empty: return "the value is empty";
        case field_status::not_finite:
            return "'" + excerpt(text) + "' is not finite (NaN and infinity are not allowed)";
        case field_status::out_of_range: return "'" + excerpt(text) + "' is out of range";
        default: return "expected " + std::string(expected) + ", found '" + excerpt(text) + "'";
    }
}

// Reports a field that failed to parse; returns false so callers can write `if (!p.ok()) return reject(...)`.
template <class T>
bool reject_field(read_report& report, bad_row_policy policy, const csv_reader& csv, const csv_record& rec,
                  std::size_t column, const parsed_field<T>& p, const char* expected = "a number") {
    bad_row(report, policy, rec.line(), csv.header()[column], reason_of(p.status),
            message_of(p.status, detail::trim(rec[column]), expected));
    return false;
}

// Checks that a row has as many fields as the header, reporting the first missing column otherwise.
inline bool check_field_count(read_report& report, bad_row_policy policy, const csv_reader& csv,
                              const csv_record& rec) {
    const auto p = field_count_mismatch(csv, rec);
    if (!p) return true;
    bad_row(report, policy, rec.line(), p->field, skip_reasons::field_count, p->message);
    return false;
}

// Tracks which star the current rows belong to, for files whose rows are grouped by star. A star that
// comes back after another star began is an input_error unless the caller merges pieces itself.
class group_tracker {
public:
    bool active() const noexcept { return active_; }
    bool same(std::string_view key) const noexcept { return active_ && key == key_; }
    std::size_t first_line() const noexcept { return first_line_; }
    const std::string& key() const noexcept { return key_; }

    /// Ends the current group (at the end of the file).
    void close() noexcept { active_ = false; }

    /// Starts the group `key` on `line`; returns true if it appeared before (only when `allow_return`).
    bool start(std::string_view key, std::size_t line, bool allow_return, const std::string& file,
               const std::string& field) {
        key_.assign(key.data(), key.size());
        first_line_ = line;
        active_ = true;
        const auto [it, inserted] = seen_.emplace(key_, line);
        if (inserted || allow_return) return !inserted;
        throw ungrouped_rows_error(file, line, field,
                                   "'" + key_ + "' appears again after other stars (its rows began on line " +
                                       std::to_string(it->second) +
                                       "); a streaming reader needs each star's rows together: sort the file by "
                                       "star, or use the read-all function, which merges them");
    }

private:
    bool active_ = false;
    std::string key_;
    std::size_t first_line_ = 0;
    std::unordered_map<std::string, std::size_t> seen_;
};

// The loop shared by every reader of files whose rows are grouped by star. `hooks` provides
//   bool valid_key(std::string_view key, const csv_record&)  -- reports a bad key itself
//   void start(std::string_view key, const csv_record&)      -- a new star begins on this row
//   void add(const csv_record&)                              -- one row of the current star
//   std::optional<G> finish()                                -- the star ended; nullopt if it has no rows left
// and this returns the next finished star, or nullopt at the end of the file.
template <class Hooks>
auto next_group(csv_reader& csv, read_report& report, bad_row_policy policy, group_tracker& groups,
                std::size_t key_column, bool allow_return, Hooks& hooks) -> decltype(hooks.finish()) {
    while (const csv_record* rec = csv.next()) {
        ++report.rows;
        if (!check_field_count(report, policy, csv, *rec)) continue;
        const std::string_view key = trim((*rec)[key_column]);
        decltype(hooks.finish()) done;
        if (!groups.same(key)) {
            if (!hooks.valid_key(key, *rec)) continue;
            if (groups.active()) done = hooks.finish();
            groups.start(key, rec->line(), allow_return, csv.path(), csv.header()[key_column]);
            hooks.start(key, *rec);
        }
        hooks.add(*rec);
        if (done) return done;
    }
    if (!groups.active()) return {};
    groups.close();
    return hooks.finish();
}

}  // namespace detail

}  // namespace ferrum
