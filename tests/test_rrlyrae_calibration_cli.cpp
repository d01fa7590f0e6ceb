// ferrum-rrl calibrate end to end on a tiny simulated set: a ridge model (no raw sigma: a floor-only fit)
// recalibrated on other stars by the coverage method; the method, the stars and the replaced calibration
// in the new file; the networks untouched (the same feh); --out that is the model or an input refused,
// the input left as it was; --calibration-feh-bins (ranges of the prediction in the file, the feh unchanged; 1, 21
// and a config's calibration_feh_bins 1 refused naming the option or field). Finds the program through $FERRUM_RRL_EXE or next to this test; skips if absent.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"

namespace fs = std::filesystem;

namespace calibration_cli {

std::string exe() { return ferrum_test::tool_exe("FERRUM_RRL_EXE", "ferrum-rrl"); }

ferrum_test::run_result run(const std::string& args, const fs::path& dir) {
    return ferrum_test::run_program(exe(), args, dir);
}

/// The feh column of a predictions CSV, one string per row.
std::string feh_column(const fs::path& csv) {
    std::istringstream in(ferrum_test::slurp(csv));
    std::string line, out;
    std::getline(in, line);
    while (std::getline(in, line)) {
        std::size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
        out += line.substr(b + 1, c - b - 1) + '\n';
    }
    return out;
}

TEST_CASE("ferrum-rrl calibrate: a new sigma calibration of a trained model", "[cli][calibration]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built next to the tests and FERRUM_RRL_EXE unset: skipped");
        return;
    }
    const fs::path dir = ferrum_test::fresh_dir("ferrum_test_rrl_calibrate");
    const std::string d = dir.string();
    for (const char* s : {"train 1", "cal 2 160", "cal3 3 260"}) {
        std::istringstream w(s);
        std::string name, seed, n = "160";
        w >> name >> seed >> n;
        REQUIRE(run("simulate --n-rrab " + n + " --n-rrc 0 --seed " + seed + " --min-epochs 30 --out " + d + "/" + name +
                        " --quiet",
                    dir)
                    .status == 0);
    }
    const auto in = [&d](const std::string& set) {
        return " --epoch-photometry " + d + "/" + set + "/epoch_photometry.csv --catalogue " + d + "/" + set +
               "/vari_rrlyrae.csv --labels " + d + "/" + set + "/labels.csv --label-column feh_true --error-column none";
    };
    REQUIRE(run("train" + in("train") + " --architecture fourier_linear --folds 0 --out " + d + "/m.json --quiet", dir)
                .status == 0);
    const std::string before = ferrum_test::slurp(dir / "m.json");

    auto r = run("calibrate --model " + d + "/m.json" + in("cal") + " --method coverage --out " + d + "/m2.json", dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("after (coverage)") != std::string::npos);
    const auto j = nlohmann::json::parse(ferrum_test::slurp(dir / "m2.json"));
    const auto& cal = j.at("models").at(0).at("calibration");
    CHECK(cal.at("method") == "coverage");
    CHECK(cal.at("fitted_on").at("labels") == "labels.csv");
    CHECK(cal.at("fitted_on").at("n").get<int>() > 100);
    CHECK(cal.at("fitted_on").at("replaced").at("method") == "likelihood");
    for (const auto& b : cal.at("bins")) {
        CHECK(b.at("scale").get<double>() > 0);  // the ridge model has no raw sigma: scale 1, floor fitted
        CHECK(b.at("floor").get<double>() > 0);
    }
    // the fit reached the coverage goal on its own stars, or said how close it came
    CHECK(std::abs(cal.at("fitted_on").at("coverage_1sigma").get<double>() - 0.683) < 0.03);

    // same network: the same feh from both files, a different sigma
    const std::string p = " --epoch-photometry " + d + "/cal/epoch_photometry.csv --catalogue " + d +
                          "/cal/vari_rrlyrae.csv --mc-samples 0 --quiet";
    REQUIRE(run("predict --model " + d + "/m.json --out " + d + "/p1.csv" + p, dir).status == 0);
    REQUIRE(run("predict --model " + d + "/m2.json --out " + d + "/p2.csv" + p, dir).status == 0);
    CHECK(feh_column(dir / "p1.csv") == feh_column(dir / "p2.csv"));
    CHECK(ferrum_test::slurp(dir / "p1.csv") != ferrum_test::slurp(dir / "p2.csv"));

    // an output never replaces an input
    r = run("calibrate --model " + d + "/m.json" + in("cal") + " --out " + d + "/m.json", dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("--out") != std::string::npos);
    CHECK(ferrum_test::slurp(dir / "m.json") == before);
    r = run("calibrate --model " + d + "/m.json" + in("cal") + " --out " + d + "/cal/labels.csv", dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("labels") != std::string::npos);

    // the prediction-dependent factor: 260 stars, ranges of at least 100 (calibration_min_per_bin): 2
    r = run("calibrate --model " + d + "/m.json" + in("cal3") + " --calibration-feh-bins 5 --out " + d + "/m3.json",
            dir);
    REQUIRE(r.status == 0);
    const auto j3 = nlohmann::json::parse(ferrum_test::slurp(dir / "m3.json"));
    const auto& cal3 = j3.at("models").at(0).at("calibration");
    REQUIRE(cal3.contains("feh_bins"));
    CHECK(cal3.at("feh_bins").size() == 2);
    CHECK(cal3.at("fitted_on").at("feh_bins") == 2);
    CHECK_FALSE(cal.contains("feh_bins"));  // m2.json: none asked for, none written
    REQUIRE(run("predict --model " + d + "/m3.json --out " + d + "/p3.csv" + p, dir).status == 0);
    CHECK(feh_column(dir / "p1.csv") == feh_column(dir / "p3.csv"));
    for (const char* k : {"1", "21"}) {
        r = run("calibrate --model " + d + "/m.json" + in("cal") + " --calibration-feh-bins " + k + " --out " + d +
                    "/m4.json",
                dir);
        CHECK(r.status != 0);
        CHECK(r.err.find("--calibration-feh-bins") != std::string::npos);
        CHECK_FALSE(fs::exists(dir / "m4.json"));
    }
    {
        std::ofstream(dir / "bad.json") << R"({"calibration_feh_bins": 1})";
    }
    r = run("train" + in("train") + " --architecture fourier_linear --folds 0 --config " + d + "/bad.json --out " + d +
                "/m5.json --quiet",
            dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("calibration_feh_bins") != std::string::npos);
    CHECK(r.err.find("bad.json") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "m5.json"));
}

}  // namespace calibration_cli (the test cases inside it: the file shares a unity build with the other CLI tests)
