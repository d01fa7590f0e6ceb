// Runs a callable that must throw ferrum::input_error, and returns the error for the caller to inspect
// (its file, line, field and message); and the same for a list of edits of a good model document, each of
// which its loader must refuse naming the field.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ferrum/core/error.hpp>

namespace ferrum_test {

template <class F>
ferrum::input_error expect_input_error(F&& f) {
    try {
        f();
    } catch (const ferrum::input_error& e) {
        return e;
    }
    FAIL("expected ferrum::input_error");
    return ferrum::input_error("", 0, "", "");
}

/// One edit of a JSON document: the value at JSON pointer `at` replaced by `value` (removed when `value` is
/// discarded, see `removed`), and the field the loader's input_error must name.
struct document_edit {
    std::string at;
    nlohmann::json value;
    std::string field;
};
inline const nlohmann::json removed(nlohmann::json::value_t::discarded);

/// Each edit applied to a copy of `good`; `load(document)` must throw an input_error naming `file` and the
/// edit's field.
template <class Load>
void expect_edits_refused(const nlohmann::json& good, const std::vector<document_edit>& edits, const std::string& file,
                          Load&& load) {
    for (const auto& e : edits) {
        INFO("edit " << e.at << " = " << e.value.dump());
        nlohmann::json doc = good;
        const nlohmann::json::json_pointer at(e.at);
        if (e.value.is_discarded()) doc[at.parent_pointer()].erase(at.back());
        else doc[at] = e.value;
        const auto err = expect_input_error([&] { load(doc); });
        CHECK(err.field() == e.field);
        CHECK(err.file() == file);
    }
}

}  // namespace ferrum_test
