// The one exception family of ferrum. Every error a user can cause derives from ferrum::error and
// says what to fix: input errors name the file, the line and the field.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace ferrum {

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
        std::string s = file.empty() ? std::string("<input>") : file;
        if (line > 0) s += ":" + std::to_string(line);
        if (!field.empty()) s += ": field '" + field + "'";
        return s + ": " + message;
    }

    std::string file_;
    std::size_t line_;
    std::string field_;
};

}  // namespace ferrum
