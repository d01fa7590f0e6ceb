// Core utilities: error messages name file/line/field, atomic writes never leave partial files.
#include <catch2/catch.hpp>

#include <ferrum/core.hpp>
#include <ferrum/core/options.hpp>
#include <ferrum/core/parallel.hpp>
#include <ferrum/lightcurve/rrlyrae_catalogue.hpp>
#include <ferrum/stats/standardiser.hpp>
#include <ferrum/train/kfold.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <set>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

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

TEST_CASE("printable: binary bytes quoted from input are escaped, UTF-8 text is kept (issue #13, item 8)", "[core]") {
    using ferrum::printable;
    // each escape written out by hand: ESC [ 2 J (clear the screen), NUL, CR, DEL, a lone continuation byte,
    // a truncated 3-byte sequence, an overlong '/' (c0 af), a UTF-16 surrogate (ed a0 80), U+009B (c2 9b, the
    // 8-bit CSI); kept: tab, "σ" (cf 83), "€" (e2 82 ac), "𝔉" (f0 9d 94 89), U+00A0 (c2 a0)
    CHECK(printable(std::string("a\x1b[2Jb\0c\rd\x7f", 11)) == "a\\x1b[2Jb\\x00c\\x0dd\\x7f");
    CHECK(printable("\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xc2\x9b") ==
          "\\x80|\\xe2\\x82|\\xc0\\xaf|\\xed\\xa0\\x80|\\xc2\\x9b");
    const std::string utf8 = "feh\t\xcf\x83 \xe2\x82\xac \xf0\x9d\x94\x89 \xc2\xa0";
    CHECK(printable(utf8) == utf8);
    CHECK(printable("two\nlines") == "two\\x0alines");
    CHECK(printable("two\nlines", true) == "two\nlines");
    const std::string once = printable("\x1b\xff");
    CHECK(printable(once) == once);  // escaping twice changes nothing
    // input_error escapes what it quotes: file, field and message
    const ferrum::input_error e("bin\x1b.csv", 1, "col\x07", "found '\x01\x02'");
    CHECK(std::string(e.what()) == "bin\\x1b.csv:1: field 'col\\x07': found '\\x01\\x02'");
    CHECK(e.field() == "col\x07");  // the accessor keeps the raw value for programs
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
    {
        std::ofstream out(path);
        out << "{\"a\": 1e400}\n";  // valid JSON, but no double holds it (found by fuzz_nn_model)
    }
    try {
        ferrum::read_json_file(path, "config file");
        FAIL("no exception");
    } catch (const ferrum::input_error& e) {
        CHECK(e.file() == path);
        CHECK_THAT(std::string(e.what()), Catch::Contains("config file cannot be read") && Catch::Contains("1e400"));
    }
    fs::remove_all(dir);
}

TEST_CASE("write_file_atomically replaces the target only on success", "[core]") {
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_atomic";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path target = dir / "out.csv";
    ferrum::write_file_atomically(target, std::string("old\n"));

    CHECK_THROWS_AS(ferrum::write_file_atomically(
                        target,
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
    CHECK_THROWS_AS(ferrum::write_file_atomically(dir / "no" / "such" / "dir.csv", std::string("x")), ferrum::io_error);
    fs::remove_all(dir);
}

namespace {

std::string file_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Hidden files whose name has ".tmp" in it: what write_file_atomically's temporaries look like.
std::vector<std::string> hidden_temporaries(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name[0] == '.' && name.find(".tmp") != std::string::npos) out.push_back(name);
    }
    return out;
}

struct killed_write {
    bool temporary_seen = false;  ///< the child's temporary existed while it was writing
    int status = 0;               ///< waitpid status of the child
};

// A child process starts writing `target`, writes part of it and blocks; the parent sends `sig`.
killed_write kill_during_write(const fs::path& target, int sig) {
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        std::signal(SIGINT, SIG_DFL);  // the child inherits Catch2's handlers: start from the defaults
        std::signal(SIGTERM, SIG_DFL);
        try {
            ferrum::write_file_atomically(target, [&](std::ostream& out) {
                out << std::string(1 << 16, 'x') << std::flush;
                if (write(ready[1], "w", 1) != 1) _exit(4);
                for (;;) pause();
            });
        } catch (...) {
        }
        _exit(3);
    }
    close(ready[1]);
    char c = 0;
    killed_write k;
    const bool writing = read(ready[0], &c, 1) == 1;
    close(ready[0]);
    k.temporary_seen = writing && hidden_temporaries(target.parent_path()).size() == 1;
    kill(pid, sig);
    waitpid(pid, &k.status, 0);
    return k;
}

}  // namespace

TEST_CASE("write_file_atomically: SIGINT or SIGTERM during a write leaves no temporary (issue #13)", "[core]") {
    const fs::path dir = fs::temp_directory_path() / ("ferrum_test_atomic_signal_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path fresh = dir / "new.csv", old = dir / "old.csv";
    ferrum::write_file_atomically(old, std::string("old\n"));
    for (const int sig : {SIGINT, SIGTERM}) {
        CAPTURE(sig);
        for (const auto& target : {fresh, old}) {
            const killed_write k = kill_during_write(target, sig);
            CHECK(k.temporary_seen);
            // the process still ends by the signal, as it would without ferrum's handler
            REQUIRE(WIFSIGNALED(k.status));
            CHECK(WTERMSIG(k.status) == sig);
            CHECK(hidden_temporaries(dir).empty());
        }
        CHECK_FALSE(fs::exists(fresh));
        CHECK(file_text(old) == "old\n");
    }
    // the handlers are the program's again once no write is in flight
    struct sigaction before {};
    REQUIRE(sigaction(SIGINT, nullptr, &before) == 0);
    ferrum::write_file_atomically(fresh, std::string("x"));
    struct sigaction after {};
    REQUIRE(sigaction(SIGINT, nullptr, &after) == 0);
    CHECK(after.sa_handler == before.sa_handler);
    fs::remove_all(dir);
}

TEST_CASE("write_file_atomically: stale temporaries of killed runs are named on stderr, not removed", "[core]") {
    const fs::path dir = fs::temp_directory_path() / ("ferrum_test_atomic_stale_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path stale = dir / ".out.csv.tmp123456789";
    std::ofstream(stale) << "half";
    std::ofstream(dir / ".profile") << "not ours";
    std::ofstream(dir / ".notes.tmpx1") << "not ours";
    std::ostringstream err;
    auto* const saved = std::cerr.rdbuf(err.rdbuf());
    try {
        ferrum::write_file_atomically(dir / "out.csv", std::string("new\n"));
    } catch (...) {
        std::cerr.rdbuf(saved);
        throw;
    }
    std::cerr.rdbuf(saved);
    CHECK_THAT(err.str(), Catch::Contains("warning") && Catch::Contains(stale.string()));
    CHECK_THAT(err.str(), !Catch::Contains(".profile") && !Catch::Contains(".notes.tmpx1"));
    CHECK(fs::exists(stale));
    CHECK(file_text(dir / "out.csv") == "new\n");
    fs::remove_all(dir);
}

TEST_CASE("write_file_atomically refuses a read-only target and keeps the mode of a writable one", "[core]") {
    const fs::path dir = fs::temp_directory_path() / ("ferrum_test_atomic_mode_" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path target = dir / "out.csv";
    ferrum::write_file_atomically(target, std::string("old\n"));
    fs::permissions(target, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);  // 444
    try {
        ferrum::write_file_atomically(target, std::string("new\n"));
        FAIL("a read-only target was replaced");
    } catch (const ferrum::io_error& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains(target.string()) && Catch::Contains("read-only"));
    }
    CHECK(file_text(target) == "old\n");
    CHECK(hidden_temporaries(dir).empty());

    const auto mode_640 = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read;
    fs::permissions(target, mode_640);
    ferrum::write_file_atomically(target, std::string("new\n"));
    CHECK(file_text(target) == "new\n");
    CHECK(fs::status(target).permissions() == mode_640);
    fs::remove_all(dir);
}

TEST_CASE("progress lines give the rate and the ETA with their units, and can be silenced", "[core]") {
    CHECK(ferrum::progress::format_seconds(42.4) == "42 s");
    CHECK(ferrum::progress::format_seconds(62) == "1 min 02 s");
    CHECK(ferrum::progress::format_seconds(3725) == "1 h 02 min 05 s");
    ferrum::progress quiet("epoch", 10, "epochs", false);
    CHECK_FALSE(quiet.enabled());
    quiet.update(5, "loss 1");  // prints nothing
    // 4 of 10 epochs in 8 s: 0.5 epochs/s, 6 left take 12 s
    CHECK(quiet.line(4, 8.0, "loss 1") == "epoch 4/10  loss 1  0.5 epochs/s  ETA 12 s");
    CHECK(quiet.line(10, 125.0) == "epoch 10/10  0.08 epochs/s  elapsed 2 min 05 s");
}

// --- one of each: options, the thread pool, the standardiser, the hold-out, the type parser -------------

namespace core_test {
enum class colour {
    red,
    green
};
inline const char* to_string(colour c) { return c == colour::red ? "red" : "green"; }
inline colour parse_colour(const std::string& s) {
    if (s == "red") return colour::red;
    if (s == "green") return colour::green;
    throw ferrum::value_error("unknown colour '" + s + "'");
}
FERRUM_ENUM_JSON(colour, parse_colour)
struct inner {
    std::size_t n = 3;
    double x = 0.5;
};
FERRUM_OPTIONS(inner, n, x)
struct outer {
    colour c = colour::green;
    std::vector<std::size_t> sizes{20, 16, 8};
    bool flag = true;
    inner in;
};
FERRUM_OPTIONS(outer, c, sizes, flag, in)
// a struct whose sizes are bounded: from_json calls validate() once the fields are read
struct bounded {
    std::size_t steps = 100;
    int epochs = 10;
    void validate() const {
        ferrum::option_range("steps", steps, 1, 1e6);
        ferrum::option_range("epochs", epochs, 0, 1e6);
    }
};
FERRUM_OPTIONS(bounded, steps, epochs)
struct holder {
    bounded b;
};
FERRUM_OPTIONS(holder, b)
}  // namespace core_test

TEST_CASE("FERRUM_OPTIONS: validate() bounds every size, in config and model files alike (issue #13)", "[core]") {
    using namespace core_test;
    auto field_of = [](const char* text) {
        try {
            (void)ferrum::options_from_json<holder>(nlohmann::json::parse(text), "model.json");
            return std::string("(accepted)");
        } catch (const ferrum::input_error& e) {
            CHECK(e.file() == "model.json");
            return e.field() + ": " + std::string(e.what());
        }
    };
    CHECK(field_of(R"({"b":{"steps":5,"epochs":3}})") == "(accepted)");
    CHECK_THAT(field_of(R"({"b":{"steps":100000000000}})"),
               Catch::StartsWith("b.steps: ") && Catch::Contains("must be between 1 and 1000000"));
    CHECK_THAT(field_of(R"({"b":{"steps":0}})"), Catch::StartsWith("b.steps: "));
    CHECK_THAT(field_of(R"({"b":{"steps":-3}})"), Catch::StartsWith("b.steps: ") && Catch::Contains("negative"));
    CHECK_THAT(field_of(R"({"b":{"steps":32.5}})"), Catch::StartsWith("b.steps: ") && Catch::Contains("whole number"));
    CHECK_THAT(field_of(R"({"b":{"epochs":-1}})"), Catch::StartsWith("b.epochs: "));
    CHECK_THROWS_WITH(ferrum::option_range("x", std::nan(""), 0, 1), Catch::Contains("'x'"));  // NaN is never in range
}

TEST_CASE("read_json_object: a model file that is [] or null is an input error naming the file", "[core]") {
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_json_object";
    fs::create_directories(dir);
    for (const char* doc : {"[]", "null", "3"}) {
        const std::string p = (dir / "m.json").string();
        std::ofstream(p) << doc;
        CHECK_THROWS_WITH(ferrum::read_json_object(p, "model file"),
                          Catch::Contains("m.json") && Catch::Contains("one JSON object"));
        CHECK_THROWS_AS(ferrum::read_json_object(p, "model file"), ferrum::input_error);
    }
    std::ofstream((dir / "ok.json").string()) << "{\"a\": 1}";
    CHECK(ferrum::read_json_object((dir / "ok.json").string()).at("a") == 1);
    fs::remove_all(dir);
}

TEST_CASE("FERRUM_OPTIONS: one declaration gives JSON both ways, defaults and strict checks", "[core]") {
    using namespace core_test;
    const nlohmann::json d = outer{};
    CHECK(d == nlohmann::json::parse(R"({"c":"green","sizes":[20,16,8],"flag":true,"in":{"n":3,"x":0.5}})"));
    const auto o = ferrum::options_from_json<outer>(nlohmann::json::parse(R"({"c":"red","in":{"x":2}})"), "cfg.json");
    CHECK(o.c == colour::red);
    CHECK(o.sizes == std::vector<std::size_t>{20, 16, 8});  // missing: the default
    CHECK(o.in.n == 3);
    CHECK(o.in.x == 2.0);
    auto fails = [](const char* text, const std::string& field) {
        try {
            (void)ferrum::options_from_json<outer>(nlohmann::json::parse(text), "cfg.json");
            FAIL("accepted " << text);
        } catch (const ferrum::input_error& e) {
            CHECK(e.file() == "cfg.json");
            CHECK(e.field() == field);
        }
    };
    fails(R"({"colour":"red"})", "colour");       // unknown field
    fails(R"({"c":"blue"})", "c");                // unknown enum text
    fails(R"({"sizes":[20,-1]})", "sizes[1]");    // negative count
    fails(R"({"sizes":[20,16.5]})", "sizes[1]");  // fractional count
    fails(R"({"flag":1})", "flag");               // not a boolean
    fails(R"({"in":{"n":-4}})", "in.n");          // nested path
    fails(R"({"in":{"m":1}})", "in.m");
    CHECK(ferrum::options_help<outer>().find("  sizes = [20,16,8]\n") != std::string::npos);
}

TEST_CASE("parallel_for visits every index once, keeps per-worker state and rethrows", "[core]") {
    for (unsigned threads : {1u, 2u, 7u}) {
        std::vector<int> hits(1000, 0);
        std::atomic<int> states{0};
        ferrum::parallel_for_each_worker(
            hits.size(), {threads, 13},
            [&] {
            ++states;
            return std::vector<int>{};
            },
            [&](std::vector<int>& mine, std::size_t i) {
            mine.push_back(int(i));
            ++hits[i];
        });
        CHECK(std::count(hits.begin(), hits.end(), 1) == 1000);
        CHECK(states.load() == int(ferrum::worker_count(threads, (1000 + 12) / 13)));
        CHECK_THROWS_AS(ferrum::parallel_for(
                            100, {threads},
                            [](std::size_t i) {
            if (i == 57) throw ferrum::value_error("57");
                            }),
                        ferrum::value_error);
    }
    std::vector<std::size_t> order;
    ferrum::ordered_parallel(
        50, 3, [](std::size_t i) { return i * i; },
        [&](std::size_t i, std::size_t v) {
        CHECK(v == i * i);
        order.push_back(i);
        });
    CHECK(order.size() == 50);
    CHECK(std::is_sorted(order.begin(), order.end()));
}

TEST_CASE("standardiser: population z-scores, constant columns pass as 0, clipping, JSON", "[core]") {
    // rows (1, 7, 1e-17 k): means 2.5, 7, 2.5e-17; population sds sqrt(1.25), 0, sqrt(1.25) 1e-17
    std::vector<std::vector<double>> rows{{1, 7, 1e-17}, {2, 7, 2e-17}, {3, 7, 3e-17}, {4, 7, 4e-17}};
    ferrum::standardiser s;
    s.fit(rows);
    CHECK(s.mean[0] == Approx(2.5));
    CHECK(s.scale[0] == Approx(std::sqrt(1.25)));
    CHECK(s.scale[1] == 1.0);                              // constant
    CHECK(s.scale[2] == Approx(std::sqrt(1.25) * 1e-17));  // tiny but not constant (XP fluxes in SI)
    CHECK(s(4, 0) == Approx(1.5 / std::sqrt(1.25)));
    CHECK(s(7, 1) == 0.0);
    s.clip = 1.0;
    CHECK(s(4, 0) == 1.0);
    CHECK(s(-100, 0) == -1.0);
    const auto back = ferrum::standardiser::from_json(s.to_json());
    CHECK(back.clip == 1.0);
    CHECK(back.mean == s.mean);
    CHECK(ferrum::standardiser::from_json(nlohmann::json{{"mean", {0.0}}, {"scale", {2.0}}}, 5.0).clip == 5.0);
    CHECK_THROWS_AS(ferrum::standardiser::from_json(nlohmann::json{{"mean", {0.0}}, {"scale", {-2.0}}}),
                    ferrum::value_error);
    // a scale of 0 would divide by zero at prediction (an empty [Fe/H], issue #13 item 6): refused, naming the field
    for (const double bad : {0.0, -1.0}) {
        const nlohmann::json j{{"mean", {0.0, 1.0}}, {"scale", {1.0, bad}}};
        CHECK_THROWS_WITH(ferrum::standardiser::from_json(j, 0.0, "preprocessing.flux"),
                          Catch::Contains("field 'preprocessing.flux.scale[1]'") &&
                              Catch::Contains("must be a positive finite number"));
    }
}

TEST_CASE("stratified_holdout holds out every k-th sample in target order", "[core]") {
    std::vector<double> y;
    for (int i = 0; i < 100; ++i) y.push_back(double((i * 37) % 100));  // a permutation of 0..99
    std::vector<std::size_t> idx(100);
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    const auto [kept, held] = ferrum::train::stratified_holdout(idx, y, 0.1);
    REQUIRE(held.size() == 10);
    CHECK(kept.size() == 90);
    std::set<double> hy;
    for (auto i : held) hy.insert(y[i]);
    CHECK(hy == std::set<double>{5, 15, 25, 35, 45, 55, 65, 75, 85, 95});  // the middle of each block of 10
    const auto [k2, h2] = ferrum::train::stratified_holdout(idx, y, 0.1, std::uint64_t{3});
    CHECK(h2.size() == 10);
    std::set<int> offsets;
    for (auto i : h2) offsets.insert(int(y[i]) % 10);
    CHECK(offsets.size() == 1);  // one position per block, drawn from the seed
    CHECK_THROWS_AS(ferrum::train::stratified_holdout(idx, y, 0.6), ferrum::value_error);
}

TEST_CASE("parse_rr_type names the bad text; classify_rr_type maps it to unknown", "[core]") {
    CHECK(ferrum::parse_rr_type("RRab") == ferrum::rr_type::rrab);
    CHECK(ferrum::parse_rr_type("rrc") == ferrum::rr_type::rrc);
    CHECK(ferrum::classify_rr_type("ACEP") == ferrum::rr_type::unknown);
    try {
        (void)ferrum::parse_rr_type("RRx");
        FAIL("accepted RRx");
    } catch (const ferrum::value_error& e) {
        CHECK(std::string(e.what()).find("'RRx'") != std::string::npos);
    }
}
