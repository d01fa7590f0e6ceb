// Options structs declared once: FERRUM_OPTIONS(type, fields...) gives a struct its JSON form (model files,
// config files) and its field list (unknown-field checks, --help), in the manner of nlohmann's
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT, but strict: an unknown field, a number where a text is
// due, a negative or fractional count, or NaN is an error naming the field, never a silent default.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief A bad field in an options object; field() is its dotted path ("input.min_epochs").
class option_error : public value_error {
public:
    option_error(std::string field, std::string message)
        : value_error("field '" + field + "': " + message), field_(std::move(field)), message_(std::move(message)) {}
    const std::string& field() const noexcept { return field_; }
    const std::string& message() const noexcept { return message_; }

private:
    std::string field_, message_;
};

namespace detail {

template <class T>
struct is_std_vector : std::false_type {};
template <class T, class A>
struct is_std_vector<std::vector<T, A>> : std::true_type {};

/// One option value of type T from JSON, checked strictly; `name` is the field path for messages.
template <class T>
T option_convert(const nlohmann::json& v, const std::string& name, const T* current = nullptr) {
    if constexpr (std::is_same_v<T, bool>) {
        if (!v.is_boolean()) throw option_error(name, "must be true or false, got " + v.dump());
        return v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
        if (!v.is_number_integer()) throw option_error(name, "must be a whole number, got " + v.dump());
        if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
                throw option_error(name, "is too large: " + v.dump());
            return static_cast<T>(u);
        }
        const auto s = v.get<std::int64_t>();
        if (std::is_unsigned_v<T> && s < 0) throw option_error(name, "must not be negative, got " + v.dump());
        if (!std::is_unsigned_v<T> && (s < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
                                       s > static_cast<std::int64_t>(std::numeric_limits<T>::max())))
            throw option_error(name, "is out of range: " + v.dump());
        return static_cast<T>(s);
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!v.is_number()) throw option_error(name, "must be a number, got " + v.dump());
        const double x = v.get<double>();
        if (!std::isfinite(x)) throw option_error(name, "must be finite");
        return static_cast<T>(x);
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (!v.is_string()) throw option_error(name, "must be a text, got " + v.dump());
        return v.get<std::string>();
    } else if constexpr (is_std_vector<T>::value) {
        if (!v.is_array()) throw option_error(name, "must be a list, got " + v.dump());
        T out;
        out.reserve(v.size());
        for (std::size_t i = 0; i < v.size(); ++i)
            out.push_back(option_convert<typename T::value_type>(v[i], name + "[" + std::to_string(i) + "]"));
        return out;
    } else {
        // enums (FERRUM_ENUM_JSON) and nested options structs (FERRUM_OPTIONS): their from_json is strict
        try {
            T out = current ? *current : T{};
            v.get_to(out);  // a nested options struct keeps the fields the JSON does not give
            return out;
        } catch (const option_error& e) {
            throw option_error(name + "." + e.field(), e.message());
        } catch (const value_error& e) {
            throw option_error(name, e.what());
        } catch (const nlohmann::json::exception& e) {
            throw option_error(name, e.what());
        }
    }
}

template <class T>
void option_read(const nlohmann::json& j, const char* name, T& field) {
    auto it = j.find(name);
    if (it != j.end()) field = option_convert<T>(*it, name, &field);
}

// An options struct may have `void validate() const` throwing option_error (see option_range): from_json
// calls it once the fields are read, so config files and model files get the same checks, naming the field.
template <class T, class = void>
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(std::declval<const T&>().validate())>> : std::true_type {};

template <class T>
void option_validate(const T& options) {
    if constexpr (has_validate<T>::value) options.validate();
}

inline void option_check_fields(const nlohmann::json& j, const char* type, const std::vector<std::string>& known) {
    if (!j.is_object()) throw option_error(type, "must be a JSON object, got " + j.dump());
    for (auto it = j.begin(); it != j.end(); ++it) {
        bool ok = false;
        for (const auto& k : known) ok = ok || k == it.key();
        if (!ok) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            throw option_error(it.key(), std::string("is not an option of ") + type + " (known: " + list + ")");
        }
    }
}

}  // namespace detail

/// \brief Throws option_error naming `field` unless lo <= value <= hi (NaN is never in range). For the
/// validate() of options structs: a count that sizes memory or a loop (phases, steps, samples, batch) gets
/// an upper bound, so a damaged or hostile file is an error, not a hang or 16 GB.
template <class T>
void option_range(const char* field, T value, double lo, double hi) {
    const double x = static_cast<double>(value);
    if (x >= lo && x <= hi) return;
    char b[96];
    std::snprintf(b, sizeof b, "must be between %.15g and %.15g, got ", lo, hi);
    if constexpr (std::is_floating_point_v<T>) throw option_error(field, b + nlohmann::json(value).dump());
    else throw option_error(field, b + std::to_string(value));
}

/// What options_from_json does with a field the JSON does not give.
enum class missing_option : unsigned char {
    keep_default,  ///< the struct's default (config files: write only what differs)
    error,         ///< an input_error (model files: every field was written, so a missing one is damage)
};

/// \brief Reads options of type T from `j` (strict, see FERRUM_OPTIONS); a bad field becomes an
/// input_error naming `where` (the file) and the field, `prefix` + its name.
template <class T>
T options_from_json(const nlohmann::json& j, const std::string& where,
                    missing_option missing = missing_option::keep_default, const std::string& prefix = "") {
    if (missing == missing_option::error && j.is_object())
        for (const auto& name : option_fields(static_cast<const T*>(nullptr)))
            if (!j.contains(name)) throw input_error(where, 0, prefix + name, "is missing");
    try {
        return j.get<T>();
    } catch (const option_error& e) {
        throw input_error(where, 0, prefix + e.field(), e.message());
    }
}

/// \brief The fields of an options struct and their default values, one per line ("  name = value"), for
/// --help texts.
template <class T>
std::string options_help(const T& defaults = T{}) {
    const nlohmann::json d = defaults;
    std::string out;
    for (const auto& name : option_fields(static_cast<const T*>(nullptr)))
        out += "  " + name + " = " + (d.contains(name) ? d.at(name).dump() : std::string("?")) + "\n";
    return out;
}

}  // namespace ferrum

#define FERRUM_DETAIL_OPTION_TO(v1) nlohmann_json_j[#v1] = nlohmann_json_t.v1;
#define FERRUM_DETAIL_OPTION_FROM(v1) ::ferrum::detail::option_read(nlohmann_json_j, #v1, nlohmann_json_t.v1);
#define FERRUM_DETAIL_OPTION_NAME(v1) #v1,

/// \brief Declares an options struct's fields once: to_json, a strict from_json (unknown fields and
/// ill-typed values are option_errors; missing fields keep the struct's defaults; then the struct's
/// `validate() const`, when it has one) and option_fields(const Type*). Use at namespace scope, in the
/// struct's namespace.
#define FERRUM_OPTIONS(Type, ...)                                                                                      \
  inline const std::vector<std::string>& option_fields(const Type*) {                                                  \
    static const std::vector<std::string> names{                                                                       \
        NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FERRUM_DETAIL_OPTION_NAME, __VA_ARGS__))};                            \
    return names;                                                                                                      \
  }                                                                                                                    \
  /* templates on the JSON type (only nlohmann::json): compiled only where they are used (compile cost) */           \
  template <class Json, std::enable_if_t<std::is_same_v<Json, nlohmann::json>, int> = 0>                               \
  void to_json(Json& nlohmann_json_j, const Type& nlohmann_json_t) {                                                   \
    nlohmann_json_j = Json::object();                                                                                  \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FERRUM_DETAIL_OPTION_TO, __VA_ARGS__))                                    \
  }                                                                                                                    \
  template <class Json, std::enable_if_t<std::is_same_v<Json, nlohmann::json>, int> = 0>                               \
  void from_json(const Json& nlohmann_json_j, Type& nlohmann_json_t) {                                                 \
    ::ferrum::detail::option_check_fields(nlohmann_json_j, #Type, option_fields(static_cast<const Type*>(nullptr)));   \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(FERRUM_DETAIL_OPTION_FROM, __VA_ARGS__))                                  \
    ::ferrum::detail::option_validate(nlohmann_json_t);                                                                \
  }

/// \brief JSON for an enum through its to_string(Enum) and a parser that throws value_error on unknown
/// text (NLOHMANN_JSON_SERIALIZE_ENUM would silently map unknown text to the first value).
#define FERRUM_ENUM_JSON(Enum, parse)                                                                                  \
  inline void to_json(nlohmann::json& j, const Enum& e) { j = to_string(e); }                                          \
  inline void from_json(const nlohmann::json& j, Enum& e) {                                                            \
    if (!j.is_string()) throw ::ferrum::value_error("must be a text, got " + j.dump());                                \
    e = parse(j.get<std::string>());                                                                                   \
  }
