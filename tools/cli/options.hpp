// One command-line parser for the ferrum-* programs, declarative in the manner of mlpack's PARAM_* bindings:
// each command declares its options once (name, kind, help, default, required) and from that one
// declaration come the parsing, the --help text, the refusal of unknown options and typed, validated
// values. A tool's header, not the library's: programs include it as "cli/options.hpp".
//
//     const cli::program prog{"ferrum-x", "ferrum-x: what it does",
//         {{"fit", "FILE -> model", {cli::path("table", "the input CSV").required(),
//                                    cli::count("steps", "MCMC steps", "2000"),
//                                    cli::choice("scoring", "CV score", {"r2", "rmse"}, "r2"),
//                                    cli::flag("mcmc", "sample instead of Laplace")}}},
//         {cli::flag("quiet", "no progress on stderr")}};
//     const cli::parsed a = prog.parse(argc, argv);          // throws cli::usage_error
//     if (a.help()) { std::fputs(prog.usage(a.command()).c_str(), stdout); return 0; }
//     std::size_t steps = a.count("steps");                  // 2000 unless --steps N (N >= 0) was given
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ferrum/core/csv.hpp>
#include <ferrum/core/error.hpp>

namespace ferrum::cli {

/// \brief A command line the program cannot run: an unknown option or command, a missing or malformed
/// value. The message names the option; programs print it with a pointer to --help.
class usage_error : public value_error {
public:
    using value_error::value_error;
};

/// What an option's value is; the parser validates it before the program sees it.
enum class kind {
    flag,     ///< no value: present or not
    count,    ///< a non-negative integer (sizes, epochs, seeds)
    integer,  ///< a signed integer
    number,   ///< a finite decimal number
    path,     ///< a file or directory name (not empty)
    text,     ///< any text
    choice,   ///< one of a fixed set of words
};

/// What a path option names, for the checks made before a command runs (check_paths): an output never
/// resolves to an input, and its directory exists and is writable.
enum class path_role {
    input,       ///< a file the command reads (every path option unless declared otherwise)
    output,      ///< a file the command writes (replaced atomically)
    output_dir,  ///< a directory the command creates (if need be) and writes files into
};

/// The largest count an option accepts unless its declaration gives a range: counts size loops and
/// memory, so an absurd one is refused rather than run.
inline constexpr long long max_count = 1000000000;

/// \brief One declared option: `--name VALUE` (or `--name=VALUE`), or `--name` for a flag.
struct option {
    std::string name;  ///< without the leading "--"
    cli::kind kind = cli::kind::text;
    std::string help;
    std::optional<std::string> default_value;  ///< as it would be typed; validated like a given value
    bool is_required = false;
    bool is_repeated = false;                     ///< may be given several times (read with parsed::all)
    std::vector<std::string> choices;             ///< the words a choice accepts
    std::string placeholder;                      ///< what --help shows for the value; by kind when empty
    cli::path_role role = cli::path_role::input;  ///< for kind::path: read or written
    /// For count, integer and number: the smallest and largest value accepted. A count is at most
    /// max_count unless its declaration says otherwise (a count sizes memory or time: 1e12 MC samples
    /// would run for ever).
    std::optional<double> min_value, max_value;

    /// Bounds the value (count, integer, number): outside [lo, hi] is a usage_error naming the option.
    option range(double lo, double hi) const {
        option o = *this;
        o.min_value = lo;
        o.max_value = hi;
        return o;
    }

    option required() const {
        option o = *this;
        o.is_required = true;
        return o;
    }
    option repeated() const {
        option o = *this;
        o.is_repeated = true;
        return o;
    }
    /// A path the command writes: checked before the command runs (see check_paths).
    option output() const {
        option o = *this;
        o.role = cli::path_role::output;
        return o;
    }
    /// A directory the command writes files into (created when missing).
    option output_dir() const {
        option o = *this;
        o.role = cli::path_role::output_dir;
        return o;
    }
    option shown_as(std::string value) const {
        option o = *this;
        o.placeholder = std::move(value);
        return o;
    }
    /// The placeholder the usage text shows for the value.
    std::string value_name() const {
        if (!placeholder.empty()) return placeholder;
        switch (kind) {
            case cli::kind::flag: return "";
            case cli::kind::count: return "N";
            case cli::kind::integer: return "INT";
            case cli::kind::number: return "X";
            case cli::kind::path: return "FILE";
            case cli::kind::choice: {
                std::string s;
                for (const auto& c : choices) s += (s.empty() ? "" : "|") + c;
                return s;
            }
            default: return "TEXT";
        }
    }
};

/// A library default as the user would type it, so that --help shows the value the code uses:
/// `cli::count("folds", "...", cli::default_of(options{}.folds))`.
template <class T>
std::string default_of(T v) {
    static_assert(std::is_arithmetic_v<T>, "cli::default_of takes a number");
    if constexpr (std::is_floating_point_v<T>) {
        char b[32];
        std::snprintf(b, sizeof b, "%g", double(v));
        return b;
    } else {
        return std::to_string(v);
    }
}

namespace detail {
inline option declare(std::string name, kind k, std::string help, std::optional<std::string> def = {}) {
    option o;
    o.name = std::move(name);
    o.kind = k;
    o.help = std::move(help);
    o.default_value = std::move(def);
    return o;
}
}  // namespace detail

// The declarations, one per kind; a default is written as the user would type it.
inline option flag(std::string name, std::string help) {
    return detail::declare(std::move(name), kind::flag, std::move(help));
}
inline option count(std::string name, std::string help, std::optional<std::string> def = {}) {
    return detail::declare(std::move(name), kind::count, std::move(help), std::move(def));
}
inline option integer(std::string name, std::string help, std::optional<std::string> def = {}) {
    return detail::declare(std::move(name), kind::integer, std::move(help), std::move(def));
}
inline option number(std::string name, std::string help, std::optional<std::string> def = {}) {
    return detail::declare(std::move(name), kind::number, std::move(help), std::move(def));
}
inline option path(std::string name, std::string help, std::optional<std::string> def = {}) {
    return detail::declare(std::move(name), kind::path, std::move(help), std::move(def));
}
inline option text(std::string name, std::string help, std::optional<std::string> def = {}) {
    return detail::declare(std::move(name), kind::text, std::move(help), std::move(def));
}
inline option choice(std::string name, std::string help, std::vector<std::string> choices,
                     std::optional<std::string> def = {}) {
    option o = detail::declare(std::move(name), kind::choice, std::move(help), std::move(def));
    o.choices = std::move(choices);
    return o;
}

/// \brief A command (`program cmd --option ...`): its name, what it does (free text for --help) and options.
struct command {
    std::string name;
    std::string description;
    std::vector<option> options;
};

namespace detail {

// The typed value of `text` for option `o`, or a usage_error naming the option.
struct value {
    std::string text;
    long long integer = 0;
    double number = 0.0;
};

inline std::string number_text(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.15g", x);
    return b;
}

// Refuses a value below the declared minimum or above `hi`, naming the option and the bounds.
inline void check_range(const option& o, double x, double hi, const std::string& text) {
    const bool low = o.min_value && x < *o.min_value;
    if (!low && !(x > hi)) return;
    std::string bounds;
    if (o.min_value && hi < HUGE_VAL) bounds = "between " + number_text(*o.min_value) + " and " + number_text(hi);
    else if (o.min_value) bounds = "at least " + number_text(*o.min_value);
    else bounds = "at most " + number_text(hi);
    throw usage_error("--" + o.name + " must be " + bounds + ", got '" + text + "'");
}

inline value validate(const option& o, const std::string& text) {
    const std::string name = "--" + o.name;
    value v{text};
    switch (o.kind) {
        case kind::count:
        case kind::integer: {
            const auto p = parse_int64(text);
            const bool negative = o.kind == kind::count && p.ok() && p.value < 0;
            if (!p.ok() || negative)
                throw usage_error(name + " needs " + (o.kind == kind::count ? "a non-negative integer" : "an integer") +
                                  ", got '" + text + "'");
            v.integer = p.value;
            const double hi = o.max_value ? *o.max_value : (o.kind == kind::count ? double(max_count) : 9.3e18);
            check_range(o, double(p.value), hi, text);
            break;
        }
        case kind::number: {
            const auto p = parse_double(text);
            if (!p.ok()) throw usage_error(name + " needs a finite number, got '" + text + "'");
            v.number = p.value;
            check_range(o, p.value, o.max_value ? *o.max_value : HUGE_VAL, text);
            break;
        }
        case kind::path:
            if (text.empty()) throw usage_error(name + " needs a file name, got an empty one");
            break;
        case kind::choice:
            if (std::find(o.choices.begin(), o.choices.end(), text) == o.choices.end()) {
                std::string list;
                for (const auto& c : o.choices) list += (list.empty() ? "" : ", ") + c;
                throw usage_error(name + " must be one of " + list + "; got '" + text + "'");
            }
            break;
        default: break;
    }
    return v;
}

}  // namespace detail

/// \brief A parsed command line: the command, and each option's validated value by name.
class parsed {
public:
    const std::string& command() const noexcept { return command_; }
    /// --help or -h was given (or the command `help`).
    bool help() const noexcept { return help_; }
    /// The option was given on the command line (a declared default does not count).
    bool has(const std::string& name) const { return given_.count(checked(name, nullptr).name) > 0; }

    bool flag(const std::string& name) const { return has_kind(name, kind::flag); }
    std::size_t count(const std::string& name) const { return std::size_t(one(name, kind::count).integer); }
    long long integer(const std::string& name) const { return one(name, kind::integer).integer; }
    double number(const std::string& name) const { return one(name, kind::number).number; }
    const std::string& path(const std::string& name) const { return one(name, kind::path).text; }
    const std::string& text(const std::string& name) const { return one(name, kind::text).text; }
    const std::string& choice(const std::string& name) const { return one(name, kind::choice).text; }
    /// Every value of a repeated option, in command-line order (the default alone when none was given).
    std::vector<std::string> all(const std::string& name) const {
        const option& o = checked(name, nullptr);
        std::vector<std::string> out;
        if (const auto it = given_.find(name); it != given_.end())
            for (const auto& v : it->second) out.push_back(v.text);
        else if (o.default_value) out.push_back(*o.default_value);
        return out;
    }

    /// \brief Every path option given on the command line, with its declaration, in name order (repeated
    /// ones once per value): what check_paths looks at.
    std::vector<std::pair<const option*, std::string>> given_paths() const {
        std::vector<std::pair<const option*, std::string>> out;
        for (const auto& [name, values] : given_) {
            const option& o = declared_.at(name);
            if (o.kind == kind::path)
                for (const auto& v : values) out.emplace_back(&o, v.text);
        }
        return out;
    }

private:
    friend class program;

    // The declaration of `name` (of kind `k` when given): reading an undeclared option, or as another
    // kind, is a bug in the program, not in the command line.
    const option& checked(const std::string& name, const kind* k) const {
        const auto it = declared_.find(name);
        if (it == declared_.end())
            throw std::logic_error("cli: option --" + name + " is not declared for command '" + command_ + "'");
        if (k && it->second.kind != *k) throw std::logic_error("cli: option --" + name + " read as another kind");
        return it->second;
    }
    bool has_kind(const std::string& name, kind k) const {
        checked(name, &k);
        return given_.count(name) > 0;
    }
    const detail::value& one(const std::string& name, kind k) const {
        const option& o = checked(name, &k);
        if (const auto it = given_.find(name); it != given_.end()) return it->second.back();
        const auto d = defaults_.find(name);
        if (d == defaults_.end())
            throw std::logic_error("cli: --" + o.name + " has no default: ask has(\"" + name + "\") first");
        return d->second;
    }

    std::string command_;
    bool help_ = false;
    std::map<std::string, option> declared_;
    std::map<std::string, std::vector<detail::value>> given_;
    std::map<std::string, detail::value> defaults_;
};

/// \brief A program's commands and the options every command takes (--help is always understood).
class program {
public:
    program(std::string name, std::string summary, std::vector<command> commands, std::vector<option> common = {},
            std::string epilogue = {})
        : name_(std::move(name)),
          summary_(std::move(summary)),
          commands_(std::move(commands)),
          common_(std::move(common)),
          epilogue_(std::move(epilogue)) {
        for (const auto& c : commands_)
            for (const auto& o : options_of(c))
                if (o.default_value) detail::validate(o, *o.default_value);  // a bad default is a bug: fail early
    }

    const std::string& name() const noexcept { return name_; }

    /// Parses `program COMMAND [--option [VALUE]] ...`. Without arguments the command is empty; `--help`,
    /// `-h` or `help` in place of the command asks for the whole usage, after a command for that command's.
    parsed parse(int argc, const char* const* argv) const {
        parsed p;
        if (argc < 2) return p;
        const std::string first = argv[1];
        if (first == "--help" || first == "-h" || first == "help") {
            p.help_ = true;
            return p;
        }
        const command* c = find(first);
        if (!c) throw usage_error("unknown command '" + first + "' (" + command_list() + ")");
        p.command_ = c->name;
        for (const auto& o : options_of(*c)) {
            p.declared_[o.name] = o;
            if (o.default_value) p.defaults_[o.name] = detail::validate(o, *o.default_value);
        }
        for (int i = 2; i < argc; ++i) {
            std::string s = argv[i];
            if (s == "--help" || s == "-h") {
                p.help_ = true;
                continue;
            }
            if (s.rfind("--", 0) != 0 || s.size() == 2)
                throw usage_error(c->name + ": unexpected argument '" + s + "'");
            s.erase(0, 2);
            std::optional<std::string> value;
            if (const auto eq = s.find('='); eq != std::string::npos) {
                value = s.substr(eq + 1);
                s.erase(eq);
            }
            const auto it = p.declared_.find(s);
            if (it == p.declared_.end()) throw usage_error(c->name + ": unknown option --" + s);
            const option& o = it->second;
            if (o.kind == kind::flag) {
                if (value) throw usage_error("--" + s + " is a flag and takes no value");
                value = "";
            } else if (!value) {
                if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)
                    throw usage_error("--" + s + " needs a value (" + o.value_name() + ")");
                value = argv[++i];
            }
            auto& slot = p.given_[s];
            if (!slot.empty() && !o.is_repeated) throw usage_error("--" + s + " is given twice");
            slot.push_back(detail::validate(o, *value));
        }
        if (!p.help_)
            for (const auto& o : options_of(*c))
                if (o.is_required && !p.given_.count(o.name))
                    throw usage_error(c->name + ": --" + o.name + " is required");
        return p;
    }

    /// The usage text: every command, or only `command` when named, then the common options.
    std::string usage(const std::string& command = {}) const {
        std::string s = summary_ + "\n";
        for (const auto& c : commands_)
            if (command.empty() || c.name == command) s += "\n" + usage_of(c);
        if (!common_.empty()) {
            s += "\n  Common options:\n";
            for (const auto& o : common_) s += option_line(o);
            s += option_line(flag("help", "this text (after a command: that command's)"));
        }
        if (!epilogue_.empty()) s += "\n" + epilogue_;
        return s;
    }

private:
    const command* find(const std::string& name) const {
        for (const auto& c : commands_)
            if (c.name == name) return &c;
        return nullptr;
    }
    std::vector<option> options_of(const command& c) const {
        std::vector<option> all = c.options;
        all.insert(all.end(), common_.begin(), common_.end());
        return all;
    }
    std::string command_list() const {
        std::string s;
        for (const auto& c : commands_) s += (s.empty() ? "" : ", ") + c.name;
        return s;
    }
    std::string usage_of(const command& c) const {
        std::string s = "  " + name_ + " " + c.name;
        for (const auto& o : c.options)
            if (o.is_required) s += " --" + o.name + " " + o.value_name();
        s += " [options]\n";
        for (std::size_t b = 0; b < c.description.size();) {  // indent each line of the description
            const auto e = std::min(c.description.find('\n', b), c.description.size());
            s += "      " + c.description.substr(b, e - b) + "\n";
            b = e + 1;
        }
        for (const auto& o : c.options) s += option_line(o);
        return s;
    }
    static std::string option_line(const option& o) {
        std::string left = "      --" + o.name + (o.kind == kind::flag ? "" : " " + o.value_name());
        if (o.is_repeated) left += " ...";
        left.resize(std::max<std::size_t>(left.size() + 2, 32), ' ');
        std::string right = o.help;
        if (o.is_required) right += " (required)";
        else if (o.default_value && !o.default_value->empty()) right += " (default " + *o.default_value + ")";
        return left + right + "\n";
    }

    std::string name_, summary_;
    std::vector<command> commands_;
    std::vector<option> common_;
    std::string epilogue_;
};

namespace detail {

// The same file: one inode (symlinks, "./", "..", hard links) when both exist, else the same path once
// made absolute and normal (a file that does not exist yet cannot be another, existing one).
inline bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    namespace fs = std::filesystem;
    std::error_code ea, eb, ec;
    if (fs::exists(a, ea) && fs::exists(b, eb)) {
        const bool same = fs::equivalent(a, b, ec);
        if (!ec) return same;
    }
    const fs::path ca = fs::weakly_canonical(a, ea), cb = fs::weakly_canonical(b, eb);
    return !ea && !eb ? ca == cb : fs::absolute(a).lexically_normal() == fs::absolute(b).lexically_normal();
}

// Refuses, naming the option, an output whose directory is missing, not a directory or not writable.
inline void check_writable_dir(const std::filesystem::path& dir, const std::string& option_name,
                               const std::string& value) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path d = dir.empty() ? fs::path(".") : dir;
    if (!fs::exists(d, ec))
        throw usage_error("--" + option_name + " '" + value + "': the directory '" + d.string() + "' does not exist");
    if (!fs::is_directory(d, ec))
        throw usage_error("--" + option_name + " '" + value + "': '" + d.string() + "' is not a directory");
    if (::access(d.c_str(), W_OK | X_OK) != 0)
        throw usage_error("--" + option_name + " '" + value + "': the directory '" + d.string() +
                          "' is not writable (" + std::strerror(errno) + ")");
}

}  // namespace detail

/// \brief The checks every command gets before it does any work: no output path (declared with
/// option::output or option::output_dir) resolves to an input path or to another output (the same file
/// through symlinks, "./", "..", or a hard link); an output file's directory exists and is writable and the
/// output is not a directory; an output directory is a directory (or can be created: its nearest existing
/// ancestor is a writable directory). A failure is a usage_error naming the options. run_tool calls it.
inline void check_paths(const parsed& a) {
    namespace fs = std::filesystem;
    const auto paths = a.given_paths();
    for (std::size_t i = 0; i < paths.size(); ++i) {
        const option& o = *paths[i].first;
        if (o.role == path_role::input) continue;
        const std::string& value = paths[i].second;
        const fs::path out(value);
        for (std::size_t j = 0; j < paths.size(); ++j) {
            if (j == i || (paths[j].first->role != path_role::input && j < i)) continue;  // each output pair once
            const option& other = *paths[j].first;
            if (!detail::same_file(out, paths[j].second)) continue;
            if (other.role == path_role::input)
                throw usage_error("--" + o.name + " '" + value + "' is the file --" + other.name + " reads ('" +
                                  paths[j].second + "'): an output never replaces an input; write it elsewhere");
            throw usage_error("--" + o.name + " '" + value + "' and --" + other.name + " '" + paths[j].second +
                              "' are the same file: give each output its own");
        }
        std::error_code ec;
        if (o.role == path_role::output) {
            if (fs::is_directory(out, ec))
                throw usage_error("--" + o.name + " '" + value + "' is a directory; it needs a file name");
            detail::check_writable_dir(out.parent_path(), o.name, value);
        } else {
            if (fs::exists(out, ec) && !fs::is_directory(out, ec))
                throw usage_error("--" + o.name + " '" + value + "' exists and is not a directory");
            fs::path d = out;
            while (!d.empty() && !fs::exists(d, ec) && d.has_parent_path() && d.parent_path() != d) d = d.parent_path();
            if (!fs::exists(d, ec)) d = ".";
            if (!fs::is_directory(d, ec))
                throw usage_error("--" + o.name + " '" + value + "': '" + d.string() + "' is not a directory");
            detail::check_writable_dir(d, o.name, value);
        }
    }
}

/// \brief check_paths for an output a command derives from its options rather than takes as one (ferrum-rrl
/// train's default OUT.cv.json): refused when it resolves to a path the command reads, naming `what` and
/// that option. Call it before any work.
inline void check_derived_output(const parsed& a, const std::string& path, const std::string& what) {
    for (const auto& [o, value] : a.given_paths())
        if (o->role == path_role::input && detail::same_file(path, value))
            throw usage_error(what + " '" + path + "' is the file --" + o->name + " reads ('" + value +
                              "'): an output never replaces an input; name the output with its option");
}

/// \brief check_derived_output for the files a command writes into the directory of its output_dir option
/// `option` (ferrum-rrl evaluate's --plots DIR): none of DIR/`names` may resolve to a path the command reads.
inline void check_output_dir_files(const parsed& a, const std::string& option, const std::vector<std::string>& names) {
    if (!a.has(option)) return;
    for (const auto& name : names)
        check_derived_output(a, (std::filesystem::path(a.path(option)) / name).string(),
                             "the file " + name + " that --" + option + " writes into '" + a.path(option) + "'");
}

}  // namespace ferrum::cli
