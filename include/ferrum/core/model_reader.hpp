// Reading ferrum's model files. Every model file is one JSON object in one envelope, {"format": "ferrum.model",
// "version": 2, "kind": ..., ...} (networks in nn/model_io.hpp, the models of models/, the relations of
// relations/), with self-test vectors its loader re-runs. model_reader reads such a document strictly: a
// missing field, an unknown one, a wrong type or a wrong shape is an input_error(file, 0, JSON path, message).
#pragma once

#include <cmath>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"

namespace ferrum {

/// \brief The format and version of the envelope every ferrum model file is written in.
inline constexpr const char* model_file_format = "ferrum.model";
inline constexpr int model_file_version = 2;

namespace detail {

/// Is `j` a document in the envelope (format "ferrum.model")? Compared as JSON, so a "format" that is not a
/// string is no type error here.
inline bool is_model_envelope(const nlohmann::json& j) {
    return j.is_object() && j.contains("format") && j.at("format") == model_file_format;
}

/// "prefix.key" (just "key" at the top level): the JSON path an input_error names.
inline std::string join_path(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
}

inline std::string shape_string(const std::vector<std::size_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

/// Reads a model-file document; every problem becomes ferrum::input_error(file, 0, json path, message).
class model_reader {
public:
    explicit model_reader(std::string file) : file_(std::move(file)) {}

    const std::string& file() const noexcept { return file_; }

    [[noreturn]] void fail(const std::string& path, const std::string& message) const {
        throw input_error(file_, 0, path, message);
    }

    const nlohmann::json& at(const nlohmann::json& j, const std::string& key, const std::string& path) const {
        if (!j.is_object()) fail(path, "expected an object");
        const auto it = j.find(key);
        if (it == j.end()) fail(join_path(path, key), "missing");
        return *it;
    }
    template <class V>
    V get(const nlohmann::json& j, const std::string& key, const std::string& path) const {
        const auto& v = at(j, key, path);
        try {
            return v.get<V>();
        } catch (const nlohmann::json::exception&) {
            fail(join_path(path, key), "has the wrong type (" + std::string(v.type_name()) + ")");
        }
    }
    void allow_only(const nlohmann::json& j, const std::set<std::string>& keys, const std::string& path) const {
        for (auto it = j.begin(); it != j.end(); ++it)
            if (!keys.count(it.key())) fail(join_path(path, it.key()), "unknown field");
    }

    /// The envelope of a version-2 file of `kind`: "format" is "ferrum.model", "version" 2, "kind" `kind`, and
    /// every other field is one of `fields` (each an input_error naming the field otherwise).
    void envelope(const nlohmann::json& j, const std::string& kind, std::set<std::string> fields) const {
        if (!j.is_object()) fail("", "a model file holds one JSON object");
        if (get<std::string>(j, "format", "") != model_file_format)
            fail("format", "is not '" + std::string(model_file_format) + "'");
        const auto& version = at(j, "version", "");
        if (version != model_file_version)
            fail("version", "unsupported version " + version.dump() + " (this build reads version " +
                                std::to_string(model_file_version) + " of " + model_file_format + ")");
        const auto got = get<std::string>(j, "kind", "");
        if (got != kind) fail("kind", "is \"" + got + "\", not \"" + kind + "\"");
        fields.insert({"format", "version", "kind"});
        for (auto it = j.begin(); it != j.end(); ++it)
            if (!fields.count(it.key())) fail(it.key(), "is not a field of a version-2 " + kind + " model file");
    }

    /// Flattens a nested array of numbers, checking that it is rectangular with the expected shape.
    template <class T>
    std::vector<T> tensor(const nlohmann::json& j, const std::vector<std::size_t>& expected,
                          const std::string& path) const {
        std::vector<std::size_t> shape;
        for (const nlohmann::json* p = &j; p->is_array(); p = p->empty() ? nullptr : &(*p)[0]) {
            shape.push_back(p->size());
            if (p->empty()) break;
        }
        if (shape != expected) fail(path, "shape " + shape_string(shape) + " expected " + shape_string(expected));
        std::vector<T> out;
        out.reserve([&] {
            std::size_t n = 1;
            for (auto d : expected) n *= d;
            return n;
        }());
        flatten(j, 0, expected, out, path);
        return out;
    }

private:
    template <class T>
    void flatten(const nlohmann::json& j, std::size_t depth, const std::vector<std::size_t>& shape, std::vector<T>& out,
                 const std::string& path) const {
        if (depth == shape.size()) {
            if (!j.is_number()) fail(path, "holds a non-number");
            const double v = j.get<double>();
            if (!std::isfinite(v)) fail(path, "holds a non-finite number");
            out.push_back(static_cast<T>(v));
            return;
        }
        if (!j.is_array() || j.size() != shape[depth])
            fail(path, "is not a rectangular array of shape " + shape_string(shape));
        for (const auto& e : j) flatten(e, depth + 1, shape, out, path);
    }
    std::string file_;
};

}  // namespace detail
}  // namespace ferrum
