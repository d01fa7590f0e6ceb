// Runs a callable that must throw ferrum::input_error, and returns the error for the caller to inspect
// (its file, line, field and message).
#pragma once

#include <catch2/catch.hpp>

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

}  // namespace ferrum_test
