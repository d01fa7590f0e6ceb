// gzip (RFC 1952) streamed through zlib, for the Gaia archive's bulk downloads (EpochPhotometry_*.csv.gz,
// VariRrlyrae_*.csv.gz): an inflating byte source for csv_reader, recognised by the magic bytes 1f 8b and
// never unpacked to disk, and a deflating sink for writers (ferrum-rrl simulate --format dr3-bulk).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include <zlib.h>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief True when `data` starts with the gzip magic bytes 1f 8b (whatever the file is called).
constexpr bool is_gzip_magic(const char* data, std::size_t n) noexcept {
    return n >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
}

namespace detail {

// Inflates a gzip file read from `file` (not owned) into the caller's buffer. Concatenated members (what
// `cat a.gz b.gz` and parallel gzip writers give) are read as one stream. A stream that ends before its
// trailer (a truncated download) or whose data do not decode is an input_error naming the file and the
// line the text had reached; the caller passes that line, since only it counts lines.
class gzip_source {
public:
    /// `prefix`: bytes already read from `file` (the magic bytes that identified it).
    gzip_source(std::FILE* file, std::string path, const char* prefix = nullptr, std::size_t prefix_size = 0,
                std::size_t in_size = std::size_t(1) << 18)
        : file_(file), path_(std::move(path)), in_(std::max(in_size, prefix_size)) {
        std::memset(&z_, 0, sizeof z_);
        if (inflateInit2(&z_, 15 + 16) != Z_OK) throw io_error("zlib could not start inflating '" + path_ + "'");
        if (prefix_size) std::memcpy(in_.data(), prefix, prefix_size);
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(prefix_size);
        read_ = prefix_size;
    }
    gzip_source(const gzip_source&) = delete;
    gzip_source& operator=(const gzip_source&) = delete;
    ~gzip_source() { inflateEnd(&z_); }

    /// Up to `n` uncompressed bytes into `out`; 0 only at the clean end of the last member.
    std::size_t read(char* out, std::size_t n, std::size_t line) {
        z_.next_out = reinterpret_cast<Bytef*>(out);
        z_.avail_out = static_cast<uInt>(n);
        while (z_.avail_out == n && !done_) {
            if (z_.avail_in == 0 && !refill()) {
                if (!in_member_) {  // ended cleanly between members (or the file was empty after one)
                    done_ = true;
                    break;
                }
                throw input_error(path_, line, "",
                                  "the gzip stream ends before its end marker (a truncated or partial download?) "
                                  "after " +
                                      std::to_string(z_.total_out) +
                                      " bytes of text of the current member; download the file again");
            }
            in_member_ = true;
            const int rc = inflate(&z_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                in_member_ = false;
                // Another member may follow; trailing zero bytes (tape padding) are ignored as gzip does.
                if (z_.avail_in == 0 && !refill()) {
                    done_ = true;
                    break;
                }
                if (static_cast<unsigned char>(*z_.next_in) == 0) {
                    done_ = true;
                    break;
                }
                if (inflateReset(&z_) != Z_OK) throw io_error("zlib could not restart on '" + path_ + "'");
                continue;
            }
            if (rc == Z_BUF_ERROR) continue;  // needs more input: refill on the next turn
            if (rc != Z_OK)
                throw input_error(path_, line, "",
                                  std::string("the gzip data are corrupt (zlib: ") +
                                      (z_.msg ? z_.msg : "error " + std::to_string(rc)) + ")");
        }
        return n - z_.avail_out;
    }

    /// Compressed bytes read from the file so far (for progress against the file's size).
    std::uint64_t compressed_consumed() const noexcept { return read_ - z_.avail_in; }

private:
    bool refill() {
        const std::size_t got = std::fread(in_.data(), 1, in_.size(), file_);
        if (got == 0 && std::ferror(file_)) throw io_error("reading '" + path_ + "' failed: " + std::strerror(errno));
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(got);
        read_ += got;
        return got > 0;
    }

    std::FILE* file_;
    std::string path_;
    std::vector<char> in_;
    z_stream z_;
    std::uint64_t read_ = 0;
    bool in_member_ = false, done_ = false;
};

}  // namespace detail

/// \brief Writes gzip to an ostream as data arrive (one member; `finish()` writes the trailer). Used
/// inside write_file_atomically, so a failure leaves no half-written file behind.
class gzip_writer {
public:
    explicit gzip_writer(std::ostream& out, int level = 6) : out_(out), buf_(std::size_t(1) << 18) {
        std::memset(&z_, 0, sizeof z_);
        if (deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw value_error("zlib could not start deflating (level " + std::to_string(level) + ")");
    }
    gzip_writer(const gzip_writer&) = delete;
    gzip_writer& operator=(const gzip_writer&) = delete;
    ~gzip_writer() { deflateEnd(&z_); }

    void write(const char* data, std::size_t n) { pump(data, n, Z_NO_FLUSH); }
    void write(const std::string& s) { write(s.data(), s.size()); }
    /// Flushes the compressor and writes the gzip trailer; call once, after the last write.
    void finish() { pump(nullptr, 0, Z_FINISH); }

private:
    void pump(const char* data, std::size_t n, int flush) {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
        z_.avail_in = static_cast<uInt>(n);
        for (;;) {
            z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
            z_.avail_out = static_cast<uInt>(buf_.size());
            const int rc = deflate(&z_, flush);
            if (rc == Z_STREAM_ERROR) throw io_error("zlib failed while compressing");
            out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size() - z_.avail_out));
            if (!out_) throw io_error("writing compressed output failed (disk full?)");
            if (flush == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) break;
        }
    }

    std::ostream& out_;
    std::vector<char> buf_;
    z_stream z_;
};

}  // namespace ferrum
