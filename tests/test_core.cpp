// Core utilities: error messages name file/line/field, atomic writes never leave partial files.
#include <catch2/catch.hpp>

#include <ferrum/core.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

TEST_CASE("input_error names file, line and field", "[core]") {
    const ferrum::input_error e("stars.csv", 12, "mag", "not a number: 'abc'");
    CHECK(std::string(e.what()) == "stars.csv:12: field 'mag': not a number: 'abc'");
    CHECK(e.line() == 12);
    CHECK(e.field() == "mag");
    const ferrum::error& base = e;  // one exception family
    CHECK(std::string(base.what()).find("stars.csv") == 0);
}

TEST_CASE("read_json_file: a missing file is an io_error, broken JSON an input_error with its line", "[core]") {
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_json_file";
    fs::create_directories(dir);
    CHECK_THROWS_AS(ferrum::read_json_file((dir / "absent.json").string()), ferrum::io_error);
    const auto path = (dir / "cfg.json").string();
    {
        std::ofstream out(path);
        out << "{\n  \"a\": 1,\n  \"b\": ]\n}\n";  // the error is on line 3
    }
    try {
        ferrum::read_json_file(path, "config file");
        FAIL("no exception");
    } catch (const ferrum::input_error& e) {
        CHECK(e.file() == path);
        CHECK(e.line() == 3);
        CHECK_THAT(std::string(e.what()), Catch::Contains("config file is not valid JSON"));
    }
    {
        std::ofstream out(path);
        out << "{\n  \"a\": 1\n}\n";
    }
    CHECK(ferrum::read_json_file(path)["a"] == 1);
    fs::remove_all(dir);
}

TEST_CASE("write_file_atomically replaces the target only on success", "[core]") {
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_atomic";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path target = dir / "out.csv";
    ferrum::write_file_atomically(target, std::string("old\n"));

    CHECK_THROWS_AS(ferrum::write_file_atomically(target,
                                                  [](std::ostream& out) {
                                                      out << "half a file";
                                                      throw ferrum::value_error("stop");
                                                  }),
                    ferrum::value_error);
    std::ifstream in(target);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK(ss.str() == "old\n");
    // no temporary file left behind
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);

    ferrum::write_file_atomically(target, std::string("new\n"));
    std::ifstream in2(target);
    std::stringstream ss2;
    ss2 << in2.rdbuf();
    CHECK(ss2.str() == "new\n");
    CHECK_THROWS_AS(ferrum::write_file_atomically(dir / "no" / "such" / "dir.csv", std::string("x")),
                    ferrum::io_error);
    fs::remove_all(dir);
}

TEST_CASE("progress formats an ETA and can be silenced", "[core]") {
    CHECK(ferrum::progress::format_seconds(62) == "1:02");
    CHECK(ferrum::progress::format_seconds(3725) == "1:02:05");
    ferrum::progress quiet("epoch", 10, false);
    CHECK_FALSE(quiet.enabled());
    quiet.update(5, "loss 1");  // prints nothing
}
