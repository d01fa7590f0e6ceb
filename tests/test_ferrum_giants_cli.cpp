// ferrum-giants end to end on a tiny simulated set: simulate -> train (UA-CSNet on XP spectra, the two-stage
// colour model) -> predict -> evaluate; one prediction row per star; options a command does not take, bad
// catalogue rows (file, line, field), a misplaced --mc-samples and malformed option values (negative or
// fractional counts, non-numbers, missing values, unknown options) are refused without writing outputs.
// Continuous XP input (the archive's coefficients, calibrated with GaiaXPy's config folder) predicts what
// GaiaXPy's own sampled spectra of the same sources predict.
// Finds the program through $FERRUM_GIANTS_EXE or next to this test (../tools/ferrum-giants); skips if absent.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <ferrum/models/detail/giants_common.hpp>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "reference.hpp"

namespace fs = std::filesystem;

namespace {

using ferrum_test::fresh_dir;
using ferrum_test::slurp;

std::string exe() { return ferrum_test::tool_exe("FERRUM_GIANTS_EXE", "ferrum-giants"); }

ferrum_test::run_result run(const std::string& args, const fs::path& dir) {
    return ferrum_test::run_program(exe(), args, dir, "FERRUM_QUIET=1 ");
}

std::size_t lines_of(const fs::path& p) {
    std::ifstream in(p);
    std::size_t n = 0;
    for (std::string l; std::getline(in, l);) n += !l.empty();
    return n;
}

// source_id, feh and feh_sigma of every row of a predictions CSV, in order.
/// True when two predictions files have the same rows, flags and empty cells, and numbers equal to float
/// precision (the network runs in float: a different batch size may change the 6th printed digit).
bool same_predictions(const fs::path& a, const fs::path& b) {
    std::ifstream ia(a), ib(b);
    std::string la, lb;
    while (true) {
        const bool ga = bool(std::getline(ia, la)), gb = bool(std::getline(ib, lb));
        if (ga != gb) return false;
        if (!ga) return true;
        if (la == lb) continue;
        std::istringstream sa(la), sb(lb);
        std::string ca, cb;
        while (std::getline(sa, ca, ',')) {
            if (!std::getline(sb, cb, ',')) return false;
            if (ca == cb) continue;
            if (ca.empty() || cb.empty()) return false;
            const double x = std::stod(ca), y = std::stod(cb);
            if (!(std::abs(x - y) <= 2e-5 * std::max(std::abs(x), std::abs(y)))) return false;
        }
        if (std::getline(sb, cb, ',')) return false;
    }
}

/// `src` (a predictions CSV) with its rows sorted by source_id, written to `dst` (the test's own sort).
void sorted_copy(const fs::path& src, const fs::path& dst) {
    std::ifstream in(src);
    std::string header, line;
    std::getline(in, header);
    std::vector<std::string> rows;
    while (std::getline(in, line)) rows.push_back(line);
    std::sort(rows.begin(), rows.end(), [](const std::string& a, const std::string& b) {
        return std::stoll(a.substr(0, a.find(','))) < std::stoll(b.substr(0, b.find(',')));
    });
    std::ofstream out(dst);
    out << header << "\n";
    for (const auto& r : rows) out << r << "\n";
}

/// Predicts with `predict` (the arguments before --out) as N shards (--shard k/N, N in `arrays`) and merges
/// them; then under mpirun -np N (N in `ranks`) where ferrum-giants has MPI. Checks each against `want`
/// (the unsharded rows sorted by source_id).
void check_shards(const std::string& predict, const fs::path& dir, const std::string& out, const fs::path& want,
                  const std::vector<int>& arrays, const std::vector<int>& ranks) {
    const std::string d = dir.string();
    for (int n : arrays) {
        const std::string o = out + std::to_string(n) + ".csv";
        for (int k = 0; k < n; ++k)
            REQUIRE(
                run(predict + " --out " + d + "/" + o + " --shard " + std::to_string(k) + "/" + std::to_string(n), dir)
                    .status == 0);
        REQUIRE(run("merge --shards " + std::to_string(n) + " --out " + d + "/" + o, dir).status == 0);
        CHECK(same_predictions(dir / o, want));
        // a rerun skips the finished shard
        const auto again = run(predict + " --out " + d + "/" + o + " --shard 1/" + std::to_string(n), dir);
        CHECK(again.err.find("is finished and its inputs are unchanged") != std::string::npos);
    }
    if (ranks.empty()) return;
#ifdef FERRUM_GIANTS_WITH_MPI
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
        WARN("mpirun not found (Debian: openmpi-bin): the mpirun tests are skipped");
        return;
    }
    for (int n : ranks) {
        const std::string o = out + "_mpi" + std::to_string(n) + ".csv";
        const auto r = ferrum_test::run_program("mpirun",
                                                "--oversubscribe --allow-run-as-root -np " + std::to_string(n) + " " +
                                                    exe() + " " + predict + " --threads 1 --out " + d + "/" + o,
                                                dir, "FERRUM_QUIET=1 ");
        INFO("mpirun -np " << n << ": " << r.err);
        REQUIRE(r.status == 0);
        CHECK(same_predictions(dir / o, want));
    }
#else
    (void)ranks;
    WARN("ferrum-giants built without MPI (no ferrum::mpi): the mpirun tests are skipped");
#endif
}

std::vector<double> first_columns(const fs::path& p) {
    std::ifstream in(p);
    std::vector<double> out;
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        std::istringstream s(line);
        std::string cell;
        for (int k = 0; k < 3 && std::getline(s, cell, ','); ++k) out.push_back(std::stod(cell));
    }
    return out;
}

}  // namespace

TEST_CASE("ferrum-giants: simulate, train both models, predict, evaluate; bad input refused", "[giants][cli]") {
    if (exe().empty()) {
        WARN("ferrum-giants not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_giants_cli");
    const std::string d = dir.string();

    REQUIRE(run("simulate --n 400 --seed 3 --out " + d + "/train", dir).status == 0);
    REQUIRE(run("simulate --n 150 --seed 4 --out " + d + "/test", dir).status == 0);
    REQUIRE(lines_of(dir / "test" / "catalogue.csv") == 151);

    SECTION("UA-CSNet on XP spectra") {
        auto r = run("train --model ua_csnet --xp " + d + "/train/xp_spectra.csv --catalogue " + d +
                         "/train/catalogue.csv --out " + d + "/ua.json --max-epochs 4",
                     dir);
        REQUIRE(r.status == 0);
        r = run("predict --model " + d + "/ua.json --xp " + d + "/test/xp_spectra.csv --catalogue " + d +
                    "/test/catalogue.csv --out " + d + "/ua.csv",
                dir);
        REQUIRE(r.status == 0);
        CHECK(lines_of(dir / "ua.csv") == 151);  // header + one row per star
        // streamed: read, sampled and predicted 7 spectra at a time, the same predictions
        r = run(
            "predict --model " + d + "/ua.json --xp " + d + "/test/xp_spectra.csv --batch 7 --out " + d + "/ua_b7.csv",
            dir);
        REQUIRE(r.status == 0);
        CHECK(same_predictions(dir / "ua_b7.csv", dir / "ua.csv"));
        // sharded by source_id (job array, mpirun): the merged rows are the unsharded ones, sorted
        sorted_copy(dir / "ua.csv", dir / "ua_sorted.csv");
        check_shards("predict --model " + d + "/ua.json --xp " + d + "/test/xp_spectra.csv --batch 7", dir, "ua_s",
                     dir / "ua_sorted.csv", {2}, {});
        r = run("evaluate --predictions " + d + "/ua.csv --catalogue " + d + "/test/catalogue.csv", dir);
        REQUIRE(r.status == 0);
        const auto j = nlohmann::json::parse(r.out);
        CHECK(j["all"]["n"] == 150);
        CHECK(j["all"]["within_1sigma"].get<double>() > 0.0);
        CHECK(j["all"]["within_2sigma"].get<double>() >= j["all"]["within_1sigma"].get<double>());
        // UA-CSNet's sigma is not MC dropout: the option is refused and nothing is written
        r = run("predict --model " + d + "/ua.json --xp " + d + "/test/xp_spectra.csv --catalogue " + d +
                    "/test/catalogue.csv --out " + d + "/ua_mc.csv --mc-samples 5",
                dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("--mc-samples"));
        CHECK_FALSE(fs::exists(dir / "ua_mc.csv"));
    }

    SECTION("two-stage colour model, with and without the eq. 11 weights") {
        for (const std::string extra : {"", " --no-costs"}) {
            auto r = run("train --model bnn --catalogue " + d + "/train/catalogue.csv --out " + d +
                             "/bnn.json --max-epochs 3 --folds 2 --mc-samples 4" + extra,
                         dir);
            REQUIRE(r.status == 0);
        }
        auto r = run("predict --model " + d + "/bnn.json --catalogue " + d + "/test/catalogue.csv --out " + d +
                         "/bnn.csv --mc-samples 6",
                     dir);
        REQUIRE(r.status == 0);
        CHECK(lines_of(dir / "bnn.csv") == 151);
        // each star's MC-dropout masks are keyed by its source_id: another --batch gives its rows again, and
        // so do shards (job array, mpirun), merged and sorted
        r = run("predict --model " + d + "/bnn.json --catalogue " + d + "/test/catalogue.csv --out " + d +
                    "/bnn_b7.csv --mc-samples 6 --batch 7",
                dir);
        REQUIRE(r.status == 0);
        CHECK(same_predictions(dir / "bnn_b7.csv", dir / "bnn.csv"));
        sorted_copy(dir / "bnn.csv", dir / "bnn_sorted.csv");
        check_shards(
            "predict --model " + d + "/bnn.json --catalogue " + d + "/test/catalogue.csv --mc-samples 6 --batch 7", dir,
            "bnn_s", dir / "bnn_sorted.csv", {2, 3}, {3});
        r = run("evaluate --predictions " + d + "/bnn.csv --catalogue " + d + "/test/catalogue.csv", dir);
        REQUIRE(r.status == 0);
        const auto j = nlohmann::json::parse(r.out);
        CHECK(j["all"]["n"].get<int>() + j["unpredicted"].get<int>() == 150);  // flagged stars carry no number
    }

    SECTION("options a command does not take and broken rows are errors; no output is written") {
        auto r = run("train --model bnn --catalogue " + d + "/train/catalogue.csv --out " + d + "/x.json --max-epoch 3",
                     dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("unknown option --max-epoch"));
        CHECK_FALSE(fs::exists(dir / "x.json"));

        // a catalogue row with text where a label belongs: file, line and field named
        std::ifstream in(dir / "test" / "catalogue.csv");
        std::ofstream out(dir / "bad.csv");
        std::string line;
        for (int k = 0; std::getline(in, line); ++k) {
            if (k == 3)
                line = line.substr(0, line.find(',')) + ",abc" + line.substr(line.find(',', line.find(',') + 1));
            out << line << "\n";
        }
        out.close();
        r = run("evaluate --predictions " + d + "/test/catalogue.csv --catalogue " + d + "/bad.csv", dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("bad.csv:4") && Catch::Contains("'feh'"));
    }
    fs::remove_all(dir);
}

TEST_CASE("ferrum-giants: malformed option values are refused naming the option, before any work", "[giants][cli]") {
    if (exe().empty()) {
        WARN("ferrum-giants not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_giants_cli_options");
    const std::string out = (dir / "sim").string();
    struct refusal {
        std::string args, message;
    };
    const refusal cases[] = {
        {"simulate --n -5 --out " + out, "--n needs a non-negative integer, got '-5'"},
        {"simulate --n 2.5 --out " + out, "--n needs a non-negative integer, got '2.5'"},
        {"simulate --n 0 --out " + out, "--n must be positive"},
        {"simulate --n 10 --tail-fraction abc --out " + out, "--tail-fraction needs a finite number, got 'abc'"},
        {"simulate --n 10 --tail-fraction nan --out " + out, "--tail-fraction needs a finite number, got 'nan'"},
        {"simulate --n 10 --out", "--out needs a value"},
        {"simulate --n --out " + out, "--n needs a value"},
        {"simulate --n 10", "simulate: --out is required"},
        {"simulate --n 10 --seed 1 --seed 2 --out " + out, "--seed is given twice"},
        {"simulate --n 10 --no-spectra=yes --out " + out, "--no-spectra is a flag and takes no value"},
        {"simulate --n 10 --no-costs --out " + out, "simulate: unknown option --no-costs"},
        {"simulate --n 10 --threads -1 --out " + out, "--threads needs a non-negative integer, got '-1'"},
        {"simulate 10 --out " + out, "unexpected argument '10'"},
        {"train --model svm --catalogue c.csv --out " + out, "--model must be one of ua_csnet, bnn; got 'svm'"},
        {"train --model bnn --catalogue c.csv --out " + out + " --max-epochs 1e3",
         "--max-epochs needs a non-negative integer, got '1e3'"},
        {"fly --n 3", "unknown command 'fly'"},
    };
    for (const auto& c : cases) {
        INFO(c.args);
        const auto r = run(c.args, dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains(c.message) && Catch::Contains("--help"));
        CHECK_FALSE(fs::exists(out));
    }
    // the usage text comes from the same declarations: every option of a command, with its default
    const auto h = run("train --help", dir);
    CHECK(h.status == 0);
    CHECK_THAT(h.out, Catch::Contains("--folds N") && Catch::Contains("(default 8)") &&
                          Catch::Contains("--model ua_csnet|bnn") && !Catch::Contains("--tail-fraction"));
    CHECK(run("", dir).status == 2);  // no command: the usage, and a failure status
    fs::remove_all(dir);
}

TEST_CASE("ferrum-giants under hostile input (issue #13): nothing lost, nothing silent", "[giants][cli]") {
    if (exe().empty()) {
        WARN("ferrum-giants not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_giants_hostile");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n 300 --seed 5 --no-spectra --out " + d + "/sim", dir).status == 0);
    const std::string cat = d + "/sim/catalogue.csv";
    const std::string original = slurp(cat);

    // item 1: a row with one field too many (a decimal comma) is refused naming file, line and counts
    {
        std::istringstream in(original);
        std::ofstream out(dir / "long.csv");
        std::string line;
        for (int k = 0; std::getline(in, line); ++k) {
            if (k == 2) line.insert(line.find(',', line.find(',') + 1), ",5");
            out << line << "\n";
        }
    }
    auto r = run("train --model bnn --catalogue " + d + "/long.csv --out " + d + "/m.json --max-epochs 1", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("long.csv:3") && Catch::Contains("fields but the header has"));
    CHECK_FALSE(fs::exists(dir / "m.json"));
    r = run("evaluate --predictions " + cat + " --catalogue " + d + "/long.csv --error-column none", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("long.csv:3") && Catch::Contains("fields but the header has"));

    // item 2: no output on top of an input, however it is spelled; refused before any work
    fs::create_symlink(cat, dir / "link.csv");
    fs::create_hard_link(cat, dir / "hard.csv");
    for (const std::string& out : {cat, d + "/link.csv", d + "/hard.csv", d + "/sim/../sim/./catalogue.csv"}) {
        INFO(out);
        r = run("train --model bnn --catalogue " + cat + " --out " + out + " --max-epochs 1", dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err,
                   Catch::Contains("--out") && Catch::Contains("--catalogue") && Catch::Contains("never replaces"));
        CHECK(slurp(cat) == original);
    }
    // item 5: an output directory that does not exist fails at once, not after training
    r = run("train --model bnn --catalogue " + cat + " --out " + d + "/nodir/m.json", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("nodir") && Catch::Contains("does not exist"));
    CHECK_FALSE(fs::exists(dir / "nodir"));
    r = run("simulate --n 3 --out " + cat, dir);  // an existing regular file is no output directory
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("exists and is not a directory"));
    CHECK(slurp(cat) == original);

    // item 3: counts are bounded, from the command line and from model files
    const std::string pred = "predict --model " + d + "/m.json --catalogue " + cat + " --out " + d + "/p.csv";
    r = run(pred + " --mc-samples 1000000", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("--mc-samples must be between 0 and 100000"));
    r = run(pred + " --threads 0", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("--threads must be between 1 and 1024, got '0'"));
    r = run("train --model bnn --catalogue " + cat + " --out " + d + "/m.json --folds 1", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("--folds must be between 2 and 1000"));
    REQUIRE(
        run("train --model bnn --catalogue " + cat + " --out " + d + "/m.json --max-epochs 1 --folds 2 --mc-samples 2",
            dir)
            .status == 0);
    auto model = nlohmann::json::parse(slurp(dir / "m.json"));
    for (const int bad : {-3, 100000000}) {
        model["options"]["mc_samples"] = bad;
        std::ofstream(dir / "bad.json") << model.dump();
        r = run("predict --model " + d + "/bad.json --catalogue " + cat + " --out " + d + "/p.csv", dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("bad.json") && Catch::Contains("options.mc_samples"));
        CHECK_FALSE(fs::exists(dir / "p.csv"));
    }
    // item 8: a model file that is not a JSON object is an input error naming the file
    for (const char* doc : {"[]", "null"}) {
        std::ofstream(dir / "empty.json") << doc;
        r = run("predict --model " + d + "/empty.json --catalogue " + cat + " --out " + d + "/p.csv", dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("empty.json") && Catch::Contains("one JSON object") &&
                              !Catch::Contains("unexpected"));
    }
    // a full stdout is a failure, not exit 0
    REQUIRE(run(pred, dir).status == 0);
    if (fs::exists("/dev/full")) {
        const int s = std::system((exe() + " evaluate --predictions " + d + "/p.csv --catalogue " + cat +
                                   " > /dev/full 2> " + d + "/full.txt")
                                      .c_str());
        CHECK(WEXITSTATUS(s) == 1);
        CHECK_THAT(slurp(dir / "full.txt"), Catch::Contains("cannot write to standard output"));
    }

    // item 9: a header-only catalogue or predictions file is an input error naming it, not an empty output
    std::ofstream(dir / "header.csv") << original.substr(0, original.find('\n') + 1);
    const std::string header = d + "/header.csv", pheader = d + "/pheader.csv";
    const std::string predicted = slurp(dir / "p.csv");
    std::ofstream(pheader) << predicted.substr(0, predicted.find('\n') + 1);
    fs::remove(dir / "p.csv");
    for (const std::string& args :
         {"predict --model " + d + "/m.json --catalogue " + header + " --out " + d + "/p.csv",
          "train --model bnn --catalogue " + header + " --out " + d + "/m2.json --max-epochs 1",
          "evaluate --predictions " + pheader + " --catalogue " + cat + " --error-column none",
          "evaluate --predictions " + d + "/m.json --catalogue " + header + " --error-column none"}) {
        INFO(args);
        r = run(args, dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains(": the file has no data rows") &&
                              (Catch::Contains(header) || Catch::Contains(pheader)));
        CHECK_FALSE(fs::exists(dir / "p.csv"));
        CHECK_FALSE(fs::exists(dir / "m2.json"));
    }

    // item 6: a scale of 0 (or below) in a model's standardisation is refused at load, naming the field; it
    // used to give an empty [Fe/H] with no flag
    for (const double bad : {0.0, -1.0}) {
        auto m = model;
        m["options"]["mc_samples"] = 2;
        m["network"]["feh"]["preprocessing"]["features"]["scale"][0] = bad;
        std::ofstream(dir / "bad.json") << m.dump();
        r = run("predict --model " + d + "/bad.json --catalogue " + cat + " --out " + d + "/p.csv", dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("bad.json") && Catch::Contains("preprocessing.features.scale[0]") &&
                              Catch::Contains("must be a positive finite number"));
        CHECK_FALSE(fs::exists(dir / "p.csv"));
    }

    // item 6: impossible photometry or parallaxes get a flag and no number (G = -99 gave [Fe/H] = +17, a
    // parallax error of 0 or below was silently ignored); an empty [Fe/H] always comes with a flag
    {
        std::istringstream in(original);
        std::ofstream out(dir / "absurd.csv");
        std::string line;
        std::getline(in, line);
        out << line << "\n";
        std::vector<std::string> names;
        for (std::istringstream h(line); std::getline(h, line, ',');) names.push_back(line);
        const auto col = [&](const std::string& n) {
            return std::size_t(std::find(names.begin(), names.end(), n) - names.begin());
        };
        const std::vector<std::pair<std::string, std::string>> edits{
            {"phot_g_mean_mag", "-99"}, {"phot_bp_mean_mag", "99"},   {"parallax_error", "0"},
            {"parallax_error", "-1"},   {"parallax_error", "1e-300"}, {"parallax", "1e300"}};
        for (std::size_t k = 0; std::getline(in, line); ++k) {
            if (k < edits.size()) {
                std::vector<std::string> f;
                for (std::istringstream row(line); std::getline(row, line, ',');) f.push_back(line);
                REQUIRE(col(edits[k].first) < f.size());
                f[col(edits[k].first)] = edits[k].second;
                line.clear();
                for (const auto& x : f) line += (line.empty() ? "" : ",") + x;
            }
            out << line << "\n";
        }
    }
    r = run("predict --model " + d + "/m.json --catalogue " + d + "/absurd.csv --out " + d + "/p.csv", dir);
    REQUIRE(r.status == 0);
    {
        std::ifstream in(dir / "p.csv");
        std::string line;
        std::getline(in, line);
        const char* expected[] = {"implausible_magnitude: G=-99",       "implausible_magnitude: BP=99",
                                  "implausible_parallax_error: 0 mas",  "implausible_parallax_error: -1 mas",
                                  "implausible_parallax_error: 1e-300", "implausible_parallax: 1e+300 mas"};
        std::size_t k = 0, rows = 0;
        while (std::getline(in, line)) {
            ++rows;
            const std::string feh = line.substr(line.find(',') + 1,
                                                line.find(',', line.find(',') + 1) - line.find(',') - 1);
            const std::string flag = line.substr(line.find('"'));
            INFO(line);
            if (k < std::size(expected)) {
                CHECK(feh.empty());
                CHECK_THAT(flag, Catch::Contains(expected[k]));
            }
            if (feh.empty()) CHECK(flag != "\"\"");  // never an empty number without a reason
            ++k;
        }
        CHECK(rows == 300);
    }

    // item 8: a label of 1e300 is refused where it is read, not turned into metrics that overflow
    {
        std::istringstream in(original);
        std::ofstream out(dir / "huge.csv");
        std::string line;
        for (int k = 0; std::getline(in, line); ++k) {
            if (k == 2)
                line.replace(line.find(',') + 1, line.find(',', line.find(',') + 1) - line.find(',') - 1, "1e300");
            out << line << "\n";
        }
    }
    REQUIRE(original.substr(0, 14) == "source_id,feh,");
    REQUIRE(run(pred, dir).status == 0);
    r = run("evaluate --predictions " + d + "/p.csv --catalogue " + d + "/huge.csv --error-column none", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("huge.csv:3: field 'feh'") && Catch::Contains("plausible [Fe/H]"));
    CHECK_THAT(r.out, !Catch::Contains("null"));
    fs::remove_all(dir);
}

TEST_CASE("ferrum-giants predict reads the archive's XP coefficients: the same as GaiaXPy's sampled spectra",
          "[giants][cli][xp_continuous]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (exe().empty() || data.empty() || !fs::is_directory(data + "/gaiaxpy")) {
        WARN("ferrum-giants not built or ../shared/data/gaiaxpy absent: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_giants_xp_continuous");
    const std::string d = dir.string(), gx = data + "/gaiaxpy";
    REQUIRE(run("simulate --n 300 --seed 3 --out " + d + "/train", dir).status == 0);
    REQUIRE(run("train --model ua_csnet --xp " + d + "/train/xp_spectra.csv --catalogue " + d +
                    "/train/catalogue.csv --out " + d + "/ua.json --max-epochs 2",
                dir)
                .status == 0);
    // GaiaXPy's own calibrate output for the same two sources, its "(...)" lists as the sampled reader's "[...]"
    std::string sampled = slurp(gx + "/test_files/calibrator_solution/calibrator_solution_default.csv");
    for (char& c : sampled) c = c == '(' ? '[' : c == ')' ? ']' : c;
    std::ofstream(dir / "gaiaxpy_sampled.csv") << sampled;
    auto r = run("predict --model " + d + "/ua.json --xp " + d + "/gaiaxpy_sampled.csv --out " + d + "/sampled.csv",
                 dir);
    REQUIRE(r.status == 0);
    const std::string config = " --gaiaxpy-config " + gx + "/config";
    for (const std::string input : {"XP_CONTINUOUS_RAW.csv", "XP_CONTINUOUS_RAW.ecsv"}) {
        INFO(input);
        r = run("predict --model " + d + "/ua.json --xp " + gx + "/test_files/xp_continuous/" + input + config +
                    " --out " + d + "/continuous.csv",
                dir);
        REQUIRE(r.status == 0);
        const auto got = first_columns(dir / "continuous.csv"), want = first_columns(dir / "sampled.csv");
        REQUIRE(got.size() == 2 * 3);
        REQUIRE(want.size() == got.size());
        for (std::size_t k = 0; k < got.size(); ++k)  // source_id, feh, feh_sigma; printed with 6 digits
            CHECK(std::abs(got[k] - want[k]) <= 2e-5 * std::abs(want[k]));
    }
    // $GAIAXPY_CONFIG works as the option does; a source without BP is listed with a flag, not predicted
    r = ferrum_test::run_program(exe(),
                                 "predict --model " + d + "/ua.json --xp " + gx +
                                     "/test_files/xp_continuous/XP_CONTINUOUS_RAW_with_missing_BP.ecsv --out " + d +
                                     "/missing.csv",
                                 dir, "FERRUM_QUIET=1 GAIAXPY_CONFIG=" + gx + "/config ");
    REQUIRE(r.status == 0);
    CHECK(lines_of(dir / "missing.csv") == 4);
    // one source at a time: the unusable one keeps its place in the stream
    r = ferrum_test::run_program(
        exe(),
        "predict --model " + d + "/ua.json --xp " + gx +
            "/test_files/xp_continuous/XP_CONTINUOUS_RAW_with_missing_BP.ecsv --batch 1 --out " + d + "/missing_b1.csv",
        dir, "FERRUM_QUIET=1 GAIAXPY_CONFIG=" + gx + "/config ");
    REQUIRE(r.status == 0);
    CHECK(same_predictions(dir / "missing_b1.csv", dir / "missing.csv"));
    CHECK_THAT(slurp(dir / "missing.csv"), Catch::Contains("5405570973190252288,,,,,,,,\"no BP spectrum\""));
    // continuous input without the configuration: refused, nothing written
    r = ferrum_test::run_program(exe(),
                                 "predict --model " + d + "/ua.json --xp " + gx +
                                     "/test_files/xp_continuous/XP_CONTINUOUS_RAW.csv --out " + d + "/none.csv",
                                 dir, "env -u GAIAXPY_CONFIG FERRUM_QUIET=1 ");
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("--gaiaxpy-config"));
    CHECK_FALSE(fs::exists(dir / "none.csv"));
}

TEST_CASE("ferrum-giants evaluate joins through temporary files: the in-memory JSON, the same errors, nothing left",
          "[giants][cli]") {
    if (exe().empty()) {
        WARN("ferrum-giants not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_giants_cli_evaluate_external");
    const std::string d = dir.string();
    fs::create_directories(dir / "tmp");
    std::mt19937_64 rng(21);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const auto number = [](double v) {
        char b[40];
        std::snprintf(b, sizeof b, "%.17g", v);
        return std::string(b);
    };
    // 500 stars: labels in [-4.5, 1) (every bin, and some outside all bins), label errors, predictions with
    // repeated sigmas; the catalogue lacks every 7th star and has 40 more, every 11th prediction is empty
    const std::size_t n = 500;
    std::vector<double> y(n), e(n), p(n), s(n);
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = -4.5 + 5.4 * u(rng);
        e[i] = 0.05 + 0.2 * u(rng);
        p[i] = y[i] + 0.5 * (u(rng) - 0.5);
        s[i] = 0.1 + 0.02 * std::floor(10 * u(rng));
    }
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    {
        std::ofstream c(dir / "cat.csv");
        c << "source_id,feh,feh_error\n";
        for (int i = 0; i < 40; ++i) c << 900000 + i << ",-1,0.1\n";
        for (std::size_t i : order)
            if (i % 7 != 2) c << 4000 + 3 * i << "," << number(y[i]) << "," << number(e[i]) << "\n";
        std::ofstream o(dir / "pred.csv");
        o << "source_id,feh,feh_sigma\n";
        for (std::size_t i = 0; i < n; ++i)
            o << 4000 + 3 * i << "," << (i % 11 == 5 ? "" : number(p[i])) << "," << number(s[i]) << "\n";
    }
    // the oracle: models::calibration on the matched stars in prediction order, as the in-memory join computed it
    std::vector<double> yy, ee;
    std::vector<ferrum::models::giant_prediction> pp;
    std::size_t unmatched = 0, unpredicted = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 7 == 2) ++unmatched;
        else if (i % 11 == 5) ++unpredicted;
        else {
            ferrum::models::giant_prediction g;
            g.value = p[i];
            g.sigma = s[i];
            pp.push_back(g);
            yy.push_back(y[i]);
            ee.push_back(e[i]);
        }
    }
    const auto to_json = [](const ferrum::models::calibration_result& c) {
        return nlohmann::json{
            {"n", c.n},     {"within_1sigma", c.within_1sigma}, {"within_2sigma", c.within_2sigma}, {"bias", c.bias},
            {"rms", c.rms}, {"median_sigma", c.median_sigma}};
    };
    nlohmann::json expected{{"all", to_json(ferrum::models::calibration(yy, pp, ee))},
                            {"unmatched", unmatched},
                            {"unpredicted", unpredicted},
                            {"bins", nlohmann::json::array()}};
    for (double lo : {-4.0, -2.0, -1.5, -1.0, -0.5, 0.0}) {
        const double hi = lo == 0.0 ? 1.0 : (lo == -4.0 ? -2.0 : lo + 0.5);
        std::vector<std::size_t> idx;
        for (std::size_t i = 0; i < yy.size(); ++i)
            if (yy[i] >= lo && yy[i] < hi) idx.push_back(i);
        REQUIRE(!idx.empty());
        auto b = to_json(ferrum::models::calibration(yy, pp, ee, idx));
        b["feh_min"] = lo;
        b["feh_max"] = hi;
        expected["bins"].push_back(b);
    }

    const std::string args = "evaluate --predictions " + d + "/pred.csv --catalogue " + d + "/cat.csv";
    const auto in_memory = ferrum_test::run_program(exe(), args, dir, "TMPDIR=" + d + "/tmp ");
    REQUIRE(in_memory.status == 0);
    CHECK(nlohmann::json::parse(in_memory.out) == expected);
    for (const char* run_bytes : {"64", "1000"}) {
        const auto external = ferrum_test::run_program(
            exe(), args, dir, "TMPDIR=" + d + "/tmp FERRUM_EVALUATE_RUN_BYTES=" + run_bytes + " ");
        REQUIRE(external.status == 0);
        CHECK(external.out == in_memory.out);
        CHECK(fs::is_empty(dir / "tmp"));
    }

    // a repeated source_id is an error at its second row, unless an earlier row's error comes first; a row whose
    // value is bad but whose id repeats an earlier one reports the repeat, as the in-memory reader did
    const auto with_rows = [&](const fs::path& from, const fs::path& to, std::map<std::size_t, std::string> rows) {
        std::istringstream in(slurp(from));
        std::ofstream o(to);
        std::size_t line = 0;
        for (std::string l; std::getline(in, l);) {
            ++line;
            o << (rows.count(line) ? rows[line] : l) << "\n";
        }
    };
    const auto external_error = [&](const std::string& a) {
        const auto r = ferrum_test::run_program(exe(), a, dir, "TMPDIR=" + d + "/tmp FERRUM_EVALUATE_RUN_BYTES=64 ");
        CHECK(r.status == 1);
        CHECK(fs::is_empty(dir / "tmp"));
        return r.err;
    };
    with_rows(dir / "pred.csv", dir / "p_dup.csv", {{300, "4003,-1,0.1"}, {400, "17,-1,x"}});
    CHECK_THAT(external_error("evaluate --predictions " + d + "/p_dup.csv --catalogue " + d + "/cat.csv"),
               Catch::Contains("p_dup.csv:300: field 'source_id': duplicate source_id 4003"));
    with_rows(dir / "pred.csv", dir / "p_dup2.csv", {{300, "4003,-1,x"}});
    CHECK_THAT(external_error("evaluate --predictions " + d + "/p_dup2.csv --catalogue " + d + "/cat.csv"),
               Catch::Contains("p_dup2.csv:300: field 'source_id': duplicate source_id 4003"));
    with_rows(dir / "cat.csv", dir / "c_bad.csv", {{100, "5,-1,x"}, {200, "900001,-1,0.1"}});
    CHECK_THAT(external_error("evaluate --predictions " + d + "/pred.csv --catalogue " + d + "/c_bad.csv"),
               Catch::Contains("c_bad.csv:100: field 'feh_error'"));
    fs::remove_all(dir);
}

TEST_CASE("ferrum-giants train --model ua_csnet keeps an index of the catalogue, not its rows: the model of the "
          "spectra's own rows, the same errors, nothing left (issue #13)",
          "[giants][cli]") {
    if (exe().empty()) {
        WARN("ferrum-giants not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_giants_cli_train_join");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n 120 --seed 5 --out " + d + "/set", dir).status == 0);
    std::vector<std::string> lines;
    {
        std::ifstream in(dir / "set" / "catalogue.csv");
        for (std::string l; std::getline(in, l);) lines.push_back(l);
    }
    std::vector<std::string> header;
    {
        std::istringstream h(lines[0]);
        for (std::string c; std::getline(h, c, ',');) header.push_back(c);
    }
    const std::size_t cf = std::size_t(std::find(header.begin(), header.end(), "feh") - header.begin());
    REQUIRE(cf < header.size());
    const auto fields = [](const std::string& line) {
        std::vector<std::string> f;
        std::istringstream s(line);
        for (std::string c; std::getline(s, c, ',');) f.push_back(c);
        if (!line.empty() && line.back() == ',') f.emplace_back();
        return f;
    };
    // a survey's catalogue: the 120 stars of the spectra and 3,000 stars without a spectrum, shuffled
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 1; i < lines.size(); ++i) rows.push_back(fields(lines[i]));
    const std::size_t own = rows.size();
    for (std::size_t k = 0; k < 3000; ++k) {
        auto f = rows[k % own];
        f[0] = std::to_string(7000000 + 3 * k);
        rows.push_back(f);
    }
    std::shuffle(rows.begin(), rows.end(), std::mt19937_64(9));
    const auto write = [&](const std::vector<std::vector<std::string>>& r, const std::string& name) {
        std::ofstream o(dir / name);
        o << lines[0] << "\n";
        for (const auto& f : r) {
            for (std::size_t k = 0; k < f.size(); ++k) o << (k ? "," : "") << f[k];
            o << "\n";
        }
    };
    write(rows, "big.csv");
    fs::create_directories(dir / "out");
    const auto train = [&](const std::string& catalogue, const std::string& out, const std::string& run_bytes) {
        const std::string env =
            "FERRUM_QUIET=1 " + (run_bytes.empty() ? std::string() : "FERRUM_PREDICT_RUN_BYTES=" + run_bytes + " ");
        const auto r = ferrum_test::run_program(exe(),
                                                "train --model ua_csnet --xp " + d + "/set/xp_spectra.csv --catalogue " +
                                                    catalogue + " --max-epochs 1 --threads 1 --out " + d + "/out/" + out,
                                                dir, env);
        std::size_t temporaries = 0;
        for (const auto& e : fs::directory_iterator(dir / "out"))
            temporaries += e.path().filename().string().rfind(".ferrum-sort-", 0) == 0;
        CHECK(temporaries == 0);
        return r;
    };
    // the oracle: the model trained with the simulated catalogue, which holds the spectra's stars only
    REQUIRE(train(d + "/set/catalogue.csv", "ref.json", "").status == 0);
    const std::string expected = slurp(dir / "out" / "ref.json");
    for (const char* run_bytes : {"", "64", "2000"}) {  // in memory, one row per run, a few dozen
        REQUIRE(train(d + "/big.csv", "big.json", run_bytes).status == 0);
        CHECK(slurp(dir / "out" / "big.json") == expected);
    }
    // a repeated source_id among the rows without a spectrum is still refused, at its line; a bad row before it
    // is its own error; no model is written
    const auto refused = [&](const std::string& name, const std::string& what) {
        for (const char* run_bytes : {"", "64"}) {
            const auto r = train(d + "/" + name, "bad.json", run_bytes);
            CHECK(r.status == 1);
            CHECK_THAT(r.err, Catch::Contains(what));
            CHECK_FALSE(fs::exists(dir / "out" / "bad.json"));
        }
    };
    auto dup = rows;
    dup[2500][0] = dup[1000][0];
    dup[2800][cf] = "rich";  // a bad row after the repeat
    write(dup, "dup.csv");
    refused("dup.csv", "dup.csv:2502: field 'source_id': duplicate source_id " + dup[1000][0]);
    auto bad = dup;
    bad[2000][cf] = "poor";  // a bad row before the repeat
    write(bad, "bad.csv");
    refused("bad.csv", "bad.csv:2002: field 'feh': not a finite number");
    fs::remove_all(dir);
}
