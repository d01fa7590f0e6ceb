// ferrum-rrl end to end on a tiny simulated set: simulate -> train (CV report) -> predict -> evaluate (plots),
// config files with unknown fields refused, bad input reported with file/line/field, flagged stars unpredicted;
// tune's best.json (one per type) is a config train accepts, with the best Hyperband trial's values.
// Finds the program through $FERRUM_RRL_EXE or next to this test (../tools/ferrum-rrl); skips if absent.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <ferrum/core/external_sort.hpp>
#include <ferrum/core/shards.hpp>
#include <ferrum/models/rrlyrae_metrics_streamed.hpp>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "reference.hpp"
#include "well_formed_xml.hpp"

namespace fs = std::filesystem;

namespace {

using ferrum_test::fresh_dir;
using ferrum_test::slurp;

std::string exe() { return ferrum_test::tool_exe("FERRUM_RRL_EXE", "ferrum-rrl"); }

ferrum_test::run_result run(const std::string& args, const fs::path& dir) {
    return ferrum_test::run_program(exe(), args, dir);
}

/// Whether the mpirun tests can run here (ferrum-rrl built with MPI, mpirun installed); says why not.
bool mpirun_tests_can_run() {
#ifndef FERRUM_RRL_WITH_MPI
    WARN("ferrum-rrl built without MPI (no ferrum::mpi): the mpirun tests are skipped");
    return false;
#else
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return false;
    }
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
        WARN("mpirun not found (Debian: openmpi-bin): the mpirun tests are skipped");
        return false;
    }
    return true;
#endif
}

}  // namespace

TEST_CASE("ferrum-rrl: simulate, train, predict, evaluate on a tiny set", "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built next to the tests and FERRUM_RRL_EXE unset: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_rrl_cli");
    const std::string d = dir.string();

    auto r = run("--help", dir);
    CHECK(r.status == 0);
    CHECK(r.out.find("ferrum-rrl train") != std::string::npos);

    r = run("simulate --n-rrab 150 --n-rrc 80 --seed 4 --min-epochs 30 --out " + d + "/set --quiet", dir);
    REQUIRE(r.status == 0);
    for (const char* f : {"epoch_photometry.csv", "vari_rrlyrae.csv", "labels.csv"}) CHECK(fs::exists(dir / "set" / f));
    const std::string in = "--epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                           "/set/vari_rrlyrae.csv";

    // a config with an unknown field is refused, naming the file and the field
    {
        std::ofstream c(dir / "bad.json");
        c << R"({"learning_rate": 0.01, "lerning_rate": 0.1})";
    }
    r = run(
        "train " + in + " --labels " + d + "/set/labels.csv --out " + d + "/m.json --config " + d + "/bad.json --quiet",
        dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("lerning_rate") != std::string::npos);
    CHECK(r.err.find("bad.json") != std::string::npos);
    CHECK(!fs::exists(dir / "m.json"));
    // and so is a field of the wrong type (no silent conversion or default)
    {
        std::ofstream c(dir / "typed.json");
        c << R"({"batch_size": "64"})";
    }
    r = run("train " + in + " --labels " + d + "/set/labels.csv --out " + d + "/m.json --config " + d +
                "/typed.json --quiet",
            dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("batch_size") != std::string::npos);
    CHECK(r.err.find("typed.json") != std::string::npos);
    CHECK(!fs::exists(dir / "m.json"));

    {
        std::ofstream c(dir / "cfg.json");
        c << R"({"architecture": "gru_fourier", "gru_sizes": [6, 6], "dropout": [0.1, 0.1], "max_epochs": 3,
                 "batch_size": 64, "folds": 3})";
    }
    r = run("train " + in + " --labels " + d + "/set/labels.csv --out " + d + "/m.json --config " + d + "/cfg.json",
            dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("epoch") != std::string::npos);  // progress on stderr
    const auto report = nlohmann::json::parse(slurp(dir / "m.json.cv.json"));
    CHECK(report.at("architecture") == "gru_fourier");
    for (const char* t : {"RRab", "RRc"}) {
        const auto& m = report.at("models").at(t);
        CHECK(m.at("per_fold").size() == 3);
        CHECK(m.at("out_of_fold").at("all").at("n").get<int>() > 50);
        CHECK(m.at("out_of_fold").at("all").contains("wrmse"));
    }
    CHECK(fs::exists(dir / "m.json.oof.csv"));

    // predict: one row per star; a star whose epochs are removed is flagged with no number
    {
        std::ifstream ep(dir / "set" / "epoch_photometry.csv");
        std::ofstream out(dir / "cut.csv");
        std::string line, first_id;
        std::getline(ep, line);
        out << line << '\n';
        int kept = 0;
        while (std::getline(ep, line)) {
            const std::string id = line.substr(0, line.find(','));
            if (first_id.empty()) first_id = id;
            if (id == first_id && ++kept > 5) continue;  // star 0 keeps 5 epochs: too few
            out << line << '\n';
        }
    }
    r = run("predict --model " + d + "/m.json --epoch-photometry " + d + "/cut.csv --catalogue " + d +
                "/set/vari_rrlyrae.csv --out " + d + "/pred.csv --mc-samples 5 --quiet",
            dir);
    REQUIRE(r.status == 0);
    std::istringstream pred(slurp(dir / "pred.csv"));
    std::string line;
    std::getline(pred, line);
    CHECK(line == "source_id,type,feh,feh_sigma,n_epochs,flag");
    std::getline(pred, line);
    CHECK(line.find(",RRab,,,") != std::string::npos);  // no feh, no sigma
    CHECK(line.find(",too_few_epochs") != std::string::npos);
    int rows = 1;
    while (std::getline(pred, line)) ++rows;
    CHECK(rows == 230);

    r = run("evaluate --predictions " + d + "/pred.csv --labels " + d + "/set/labels.csv --plots " + d + "/plots", dir);
    REQUIRE(r.status == 0);
    const auto ev = nlohmann::json::parse(r.out);
    CHECK(ev.at("n_unpredicted") == 1);
    CHECK(ev.at("n_scored") == 229);
    CHECK(ev.at("per_type").contains("RRc"));
    CHECK(ev.contains("by_blazhko"));
    const std::string svg = slurp(dir / "plots" / "pred_vs_true.svg");
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(fs::exists(dir / "plots" / "residual_vs_epochs.svg"));
    // the model's sigma is calibrated (on the 3-fold out-of-fold residuals): evaluate reports its coverage
    // and draws the reliability plot
    for (const char* t : {"RRab", "RRc"}) {
        const auto& m = ev.at("per_type").at(t);
        REQUIRE(m.contains("coverage_1sigma"));
        CHECK(m.at("coverage_1sigma").get<double>() > 0.3);
        CHECK(m.at("coverage_2sigma").get<double>() >= m.at("coverage_1sigma").get<double>());
    }
    CHECK(fs::exists(dir / "plots" / "reliability.svg"));
    CHECK(nlohmann::json::parse(slurp(dir / "m.json")).at("models").at(0).contains("calibration"));
    CHECK(report.at("final").at("RRab").at("calibrated_on") == "out-of-fold residuals");

    // without --model, predict uses the pretrained model: FERRUM_MODEL_DIR first
    fs::create_directories(dir / "pretrained");
    fs::copy_file(dir / "m.json", dir / "pretrained" / "rrlyrae_default.json");
    r = ferrum_test::run_program(exe(), "predict " + in + " --out " + d + "/pred_default.csv --mc-samples 2 --quiet",
                                 dir, "FERRUM_MODEL_DIR=" + d + "/pretrained ");
    CHECK(r.status == 0);
    CHECK(r.err.find("pretrained") != std::string::npos);
    CHECK(fs::exists(dir / "pred_default.csv"));

    // bad input: a label that is not a number is reported with file, line and field
    {
        std::ofstream l(dir / "labels_bad.csv");
        l << "source_id,feh,feh_error\n9000000000000000000,-1.5,0.3\n9000000000000000001,abc,0.3\n";
    }
    r = run("evaluate --predictions " + d + "/pred.csv --labels " + d + "/labels_bad.csv", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("labels_bad.csv") != std::string::npos);
    CHECK(r.err.find(":3") != std::string::npos);
    CHECK(r.err.find("feh") != std::string::npos);

    r = run("predict --model " + d + "/nonexistent.json " + in + " --out " + d + "/x.csv", dir);
    CHECK(r.status == 1);
    CHECK(!fs::exists(dir / "x.csv"));

    // issue #13, item 3: a size in a model file is bounded: a huge or negative n_phases_rrab is an error
    // naming the file and the field, not 16 GB or std::length_error
    {
        const auto model = nlohmann::json::parse(slurp(dir / "m.json"));
        for (const long long bad : {1000000000000LL, -5LL}) {
            auto j = model;
            std::function<void(nlohmann::json&)> set = [&](nlohmann::json& v) {
                if (!v.is_structured()) return;
                if (v.is_object() && v.contains("n_phases_rrab")) v["n_phases_rrab"] = bad;
                for (auto& e : v) set(e);
            };
            set(j);
            std::ofstream(dir / "huge.json") << j.dump();
            r = run("predict --model " + d + "/huge.json " + in + " --out " + d + "/x.csv", dir);
            CHECK(r.status == 1);
            CHECK(r.err.find("huge.json") != std::string::npos);
            CHECK(r.err.find("n_phases_rrab") != std::string::npos);
            CHECK(!fs::exists(dir / "x.csv"));
        }
    }
    fs::remove_all(dir);
}

TEST_CASE("ferrum-rrl under hostile input (issue #13): no output on an input, counts bounded", "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_hostile");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 4 --n-rrc 2 --seed 2 --out " + d + "/set --quiet", dir).status == 0);
    const std::string ep = d + "/set/epoch_photometry.csv", cat = d + "/set/vari_rrlyrae.csv",
                      labels = d + "/set/labels.csv";
    const std::string in = "--epoch-photometry " + ep + " --catalogue " + cat;
    const std::string ep0 = slurp(ep), cat0 = slurp(cat), labels0 = slurp(labels);
    auto unchanged = [&] { return slurp(ep) == ep0 && slurp(cat) == cat0 && slurp(labels) == labels0; };
    fs::create_symlink(labels, dir / "link.csv");
    fs::create_hard_link(cat, dir / "hard.csv");
    struct refusal {
        std::string args, says;
    };
    const refusal cases[] = {
        // item 2: outputs that resolve to an input (the model need not exist: refused before any work)
        {"predict --model " + d + "/m.json " + in + " --out " + ep,
         "--out '" + ep + "' is the file --epoch-photometry"},
        {"predict --model " + d + "/m.json " + in + " --out " + d + "/hard.csv", "is the file --catalogue"},
        {"classical " + in + " --out " + d + "/set/../set/./vari_rrlyrae.csv", "is the file --catalogue"},
        {"train " + in + " --labels " + labels + " --out " + d + "/m.json --report " + d + "/link.csv",
         "--report '" + d + "/link.csv' is the file --labels"},
        {"train " + in + " --labels " + labels + " --out " + d + "/m.json --oof " + d + "/m.json", "are the same file"},
        {"predict --model " + labels + " " + in + " --out " + labels, "is the file --model"},
        // item 5: an output directory that does not exist fails before training
        {"train " + in + " --labels " + labels + " --out " + d + "/nodir/m.json", "does not exist"},
        {"simulate --n-rrab 1 --n-rrc 1 --out " + ep, "exists and is not a directory"},
        // item 3: counts bounded on the command line
        {"train " + in + " --labels " + labels + " --out " + d + "/m.json --threads 0",
         "--threads must be between 1 and 1024, got '0'"},
        {"train " + in + " --labels " + labels + " --out " + d + "/m.json --repeats 0",
         "--repeats must be between 1 and 1000"},
        {"train " + in + " --labels " + labels + " --out " + d + "/m.json --folds 99999999999",
         "--folds must be between 0 and 1000"},
        {"predict --model " + d + "/m.json " + in + " --out " + d + "/p.csv --mc-samples 1000000000",
         "--mc-samples must be between 0 and 100000"},
        {"tune " + in + " --labels " + labels + " --out " + d + "/m.json --max-epochs -1",
         "--max-epochs must be between 1 and 1000000, got '-1'"},
        {"tune " + in + " --labels " + labels + " --out " + d + "/m.json --eta 1", "--eta must be between"},
        {"train " + in + " --labels " + labels + " --out " + d + "/m.json --seed 10000000000000",
         "--seed must be at most 1000000000"},
    };
    for (const auto& c : cases) {
        INFO(c.args);
        const auto r = run(c.args, dir);
        CHECK(r.status == 1);
        CHECK(r.err.find(c.says) != std::string::npos);
        CHECK(unchanged());
        CHECK(!fs::exists(dir / "m.json"));
        CHECK(!fs::exists(dir / "p.csv"));
    }
    // an output train derives from --out (OUT.cv.json) is no more allowed on an input than --out itself
    fs::copy_file(labels, dir / "m.json.cv.json");
    {
        const std::string derived0 = slurp(dir / "m.json.cv.json");
        const auto r = run("train " + in + " --labels " + d + "/m.json.cv.json --out " + d + "/m.json", dir);
        CHECK(r.status == 1);
        CHECK(r.err.find("the CV report (OUT.cv.json)") != std::string::npos);
        CHECK(r.err.find("--labels") != std::string::npos);
        CHECK(slurp(dir / "m.json.cv.json") == derived0);
        CHECK(!fs::exists(dir / "m.json"));
    }
    // and so are tune's per-type outputs and trials files
    fs::copy_file(labels, dir / "best.RRab.json");
    {
        const std::string derived0 = slurp(dir / "best.RRab.json");
        const auto r = run("tune " + in + " --labels " + d + "/best.RRab.json --out " + d + "/best.json", dir);
        CHECK(r.status == 1);
        CHECK(r.err.find("the per-type output") != std::string::npos);
        CHECK(r.err.find("--labels") != std::string::npos);
        CHECK(slurp(dir / "best.RRab.json") == derived0);
        CHECK(!fs::exists(dir / "best.json"));
    }
    // item 3: counts bounded in config files, naming the file and the field
    for (const std::string cfg :
         {R"({"batch_size": -1})", R"({"batch_size": 32.5})", R"({"batch_size": 100000000})", R"({"max_epochs": -1})",
          R"({"n_phases_rrab": 1000000000000})", R"({"repeats": 0})"}) {
        INFO(cfg);
        std::ofstream(dir / "cfg.json") << cfg;
        const auto r = run(
            "train " + in + " --labels " + labels + " --out " + d + "/m.json --config " + d + "/cfg.json", dir);
        CHECK(r.status == 1);
        CHECK(r.err.find("cfg.json") != std::string::npos);
        CHECK(r.err.find(nlohmann::json::parse(cfg).begin().key()) != std::string::npos);
        CHECK(!fs::exists(dir / "m.json"));
    }
    CHECK(unchanged());

    // item 9: a header-only input, or one whose every row is left out, is an input error naming the file (it
    // used to give an empty output, or every star flagged, and exit 0)
    const auto header_only = [&](const std::string& from, const std::string& name) {
        std::ifstream src(from);
        std::string line;
        std::getline(src, line);
        std::ofstream(dir / name) << line << "\n";
        return d + "/" + name;
    };
    const std::string ep_h = header_only(ep, "ep_header.csv"), cat_h = header_only(cat, "cat_header.csv"),
                      labels_h = header_only(labels, "labels_header.csv");
    const std::string ep_rejected = d + "/ep_rejected.csv";  // every epoch rejected by the variability pipeline
    {
        std::istringstream src(ep0);
        std::ofstream out(ep_rejected);
        std::string line;
        std::getline(src, line);
        out << line << "\n";
        std::vector<std::string> names;
        for (std::istringstream h(line); std::getline(h, line, ',');) names.push_back(line);
        const auto rv = std::size_t(std::find(names.begin(), names.end(), "rejected_by_variability") - names.begin());
        REQUIRE(rv < names.size());
        while (std::getline(src, line)) {
            std::vector<std::string> f;
            for (std::istringstream row(line); std::getline(row, line, ',');) f.push_back(line);
            REQUIRE(f.size() == names.size());
            f[rv] = "true";
            for (std::size_t k = 0; k < f.size(); ++k) out << (k ? "," : "") << f[k];
            out << "\n";
        }
    }
    REQUIRE(run("classical " + in + " --out " + d + "/c.csv", dir).status == 0);
    const refusal nothing[] = {
        {"classical --epoch-photometry " + ep_h + " --catalogue " + cat + " --out " + d + "/p.csv",
         ep_h + ": the file has no data rows"},
        {"classical --epoch-photometry " + ep + " --catalogue " + cat_h + " --out " + d + "/p.csv",
         cat_h + ": the file has no data rows"},
        {"classical --epoch-photometry " + ep_rejected + " --catalogue " + cat + " --out " + d + "/p.csv",
         "ep_rejected.csv: none of its"},
        {"classical --epoch-photometry " + ep_rejected + " --catalogue " + cat + " --out " + d + "/p.csv",
         "left out: rejected by the variability pipeline"},
        {"classical --epoch-photometry " + ep_h + " --catalogue " + cat + " --batch 1 --out " + d + "/p.csv",
         ep_h + ": the file has no data rows"},
        {"train " + in + " --labels " + labels_h + " --out " + d + "/m.json --folds 0",
         labels_h + ": the file has no data rows"},
        {"evaluate --predictions " + d + "/c.csv --labels " + labels_h, labels_h + ": the file has no data rows"},
        {"evaluate --predictions " + header_only(d + "/c.csv", "c_header.csv") + " --labels " + labels,
         "c_header.csv: the file has no data rows"},
    };
    for (const auto& c : nothing) {
        INFO(c.args);
        const auto r = run(c.args, dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains(c.says));
        CHECK(!fs::exists(dir / "m.json"));
        CHECK(!fs::exists(dir / "p.csv"));
    }

    // item 2: a file written into an output directory (evaluate's --plots DIR) never replaces an input, however
    // the directory is spelled: the labels or the predictions saved under a plot's name are refused, unchanged
    fs::create_directories(dir / "plots");
    fs::copy_file(labels, dir / "plots" / "reliability.svg");
    fs::copy_file(d + "/c.csv", dir / "plots" / "pred_vs_true.svg");
    fs::create_symlink(dir / "plots", dir / "plots_link");
    const refusal into_dir[] = {
        {"evaluate --predictions " + d + "/c.csv --labels " + d + "/plots/reliability.svg --plots " + d + "/plots",
         "the file reliability.svg that --plots writes"},
        {"evaluate --predictions " + d + "/plots/pred_vs_true.svg --labels " + labels + " --plots " + d +
             "/set/../plots_link/.",
         "the file pred_vs_true.svg that --plots writes"},
    };
    for (const auto& c : into_dir) {
        INFO(c.args);
        const auto r = run(c.args, dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains(c.says) && Catch::Contains("is the file --"));
        CHECK(slurp(dir / "plots" / "reliability.svg") == labels0);
        CHECK(slurp(dir / "plots" / "pred_vs_true.svg") == slurp(dir / "c.csv"));
        CHECK(!fs::exists(dir / "plots" / "residual_vs_epochs.svg"));
    }
    REQUIRE(run("evaluate --predictions " + d + "/c.csv --labels " + labels + " --plots " + d + "/plots", dir).status ==
            0);
    CHECK(slurp(dir / "plots" / "pred_vs_true.svg").find("<svg") != std::string::npos);  // no longer an input

    // item 8: a label of 1e300 is refused where it is read (file, line, field), not written as "rmse": null
    {
        std::istringstream src(labels0);
        std::ofstream out(dir / "labels_huge.csv");
        std::string line, header;
        std::getline(src, header);
        out << header << "\n";
        REQUIRE(header.rfind("source_id,type,feh,", 0) == 0);
        for (int k = 0; std::getline(src, line); ++k) {
            if (k == 1) {  // the third field (feh) of line 3
                const auto a = line.find(',', line.find(',') + 1), b = line.find(',', a + 1);
                line.replace(a + 1, b - a - 1, "1e300");
            }
            out << line << "\n";
        }
    }
    auto r = run("evaluate --predictions " + d + "/c.csv --labels " + d + "/labels_huge.csv", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("labels_huge.csv:3: field 'feh'") && Catch::Contains("plausible [Fe/H]"));
    CHECK_THAT(r.out, !Catch::Contains("null"));
    r = run("train " + in + " --labels " + d + "/labels_huge.csv --label-column feh --out " + d + "/m.json --folds 0",
            dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("labels_huge.csv:3: field 'feh'"));
    CHECK(!fs::exists(dir / "m.json"));

    // item 8: bytes of a binary header are escaped, not sent to the terminal raw
    std::ofstream(dir / "binary.csv", std::ios::binary) << "source_id,\x1b[2J\x07\xff\n1,2\n";
    r = run("evaluate --predictions " + d + "/c.csv --labels " + d + "/binary.csv", dir);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("\\x1b[2J\\x07\\xff") && Catch::Contains("required column 'feh'"));
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK(r.err.find('\xff') == std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("ferrum-rrl tune: Hyperband writes a config that train accepts, one search per type", "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built next to the tests and FERRUM_RRL_EXE unset: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_rrl_cli_tune");
    const std::string d = dir.string();
    auto r = run("--help", dir);
    CHECK(r.out.find("ferrum-rrl tune") != std::string::npos);

    REQUIRE(run("simulate --n-rrab 120 --n-rrc 0 --seed 6 --min-epochs 30 --out " + d + "/ab --quiet", dir).status ==
            0);
    REQUIRE(
        run("simulate --n-rrab 110 --n-rrc 110 --seed 7 --min-epochs 30 --out " + d + "/both --quiet", dir).status ==
        0);
    auto input = [&](const std::string& set) {
        return "--epoch-photometry " + d + "/" + set + "/epoch_photometry.csv --catalogue " + d + "/" + set +
               "/vari_rrlyrae.csv --labels " + d + "/" + set + "/labels.csv";
    };
    {
        std::ofstream c(dir / "base.json");
        c << R"({"gru_sizes": [4], "dropout": [0.3], "patience": 30, "folds": 2})";
    }

    // one type: best.json is a train config carrying the best trial's values; the trials beside it
    r = run("tune " + input("ab") + " --out " + d + "/best.json --config " + d + "/base.json --max-epochs 3 --seed 3",
            dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("hyperband") != std::string::npos);  // progress on stderr
    CHECK(r.out.find("best.json") != std::string::npos);
    const auto best = nlohmann::json::parse(slurp(dir / "best.json"));
    const auto trials = nlohmann::json::parse(slurp(dir / "best.json.trials.json"));
    // R = 3, eta = 3 (Li et al. 2018, Algorithm 1): 3 configurations at 1 epoch, the best at 3, then 2 at 3
    REQUIRE(trials.at("trials").size() == 6);
    double lowest = 1e300;
    for (const auto& t : trials.at("trials")) lowest = std::min(lowest, t.at("score").get<double>());
    const auto& b = trials.at("best");
    CHECK(b.at("score").get<double>() == lowest);
    const auto& hp = b.at("config");
    CHECK(best.at("learning_rate") == hp.at("learning_rate"));
    CHECK(best.at("batch_size").get<double>() == hp.at("batch_size").get<double>());
    CHECK(best.at("kernel_l1") == hp.at("l1"));
    CHECK(best.at("kernel_l2") == hp.at("l2"));
    CHECK(best.at("dropout") == nlohmann::json::array({hp.at("dropout")}));
    CHECK(best.at("max_epochs").get<double>() == b.at("resource").get<double>());
    CHECK(best.at("gru_sizes") == nlohmann::json::array({4}));  // the base config's other fields kept
    CHECK(best.at("patience") == 30);
    CHECK(best.at("seed") == 3);

    r = run("train " + input("ab") + " --out " + d + "/m.json --config " + d + "/best.json --quiet", dir);
    REQUIRE(r.status == 0);
    const auto report = nlohmann::json::parse(slurp(dir / "m.json.cv.json"));
    CHECK(report.at("max_epochs") == best.at("max_epochs"));
    CHECK(report.at("folds") == 2);

    // two types: one search and one config per type, named after it
    r = run("tune " + input("both") + " --out " + d + "/two.json --config " + d + "/base.json --max-epochs 3 --quiet",
            dir);
    REQUIRE(r.status == 0);
    for (const char* t : {"RRab", "RRc"}) {
        const std::string f = std::string("two.") + t + ".json";
        CHECK(fs::exists(dir / f));
        CHECK(fs::exists(dir / (f + ".trials.json")));
        CHECK(r.out.find(f) != std::string::npos);
        CHECK(nlohmann::json::parse(slurp(dir / (f + ".trials.json"))).at("model") == t);
    }
    CHECK(!fs::exists(dir / "two.json"));

    // mistakes: an unknown flag, a base config with an unknown field, an architecture without epochs
    r = run("tune " + input("ab") + " --out " + d + "/x.json --max-epoch 3", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("--max-epoch") != std::string::npos);
    {
        std::ofstream c(dir / "bad.json");
        c << R"({"drop_out": [0.1]})";
    }
    r = run("tune " + input("ab") + " --out " + d + "/x.json --config " + d + "/bad.json", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("drop_out") != std::string::npos);
    CHECK(r.err.find("bad.json") != std::string::npos);
    r = run("tune " + input("ab") + " --out " + d + "/x.json --architecture fourier_linear", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("fourier_linear") != std::string::npos);
    CHECK(!fs::exists(dir / "x.json"));
    fs::remove_all(dir);
}

TEST_CASE("ferrum-rrl: every option is declared once, typed and validated; nothing is written on a refusal", "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_options");
    auto refused = [&](const std::string& args, const std::string& says) {
        const auto r = run(args, dir);
        CHECK(r.status == 1);
        CHECK(r.err.find(says) != std::string::npos);
        CHECK(!fs::exists(dir / "out.json"));
    };
    const std::string in = "--folded x.csv --labels l.csv --out " + (dir / "out.json").string();
    refused("train " + in + " --folds -1", "--folds needs a non-negative integer, got '-1'");
    refused("train " + in + " --max-epochs 2.5", "--max-epochs needs a non-negative integer, got '2.5'");
    refused("train " + in + " --architecture informer", "--architecture must be one of");
    refused("train " + in + " --max-epoch 5", "train: unknown option --max-epoch");
    refused("train " + in + " --threads -4", "--threads needs a non-negative integer");
    refused("predict --folded x.csv --model m.json --out " + (dir / "out.json").string() + " --mc-samples -1",
            "--mc-samples needs a non-negative integer, got '-1'");
    refused("evaluate --predictions p.csv", "evaluate: --labels is required");
    refused("transmogrify --out x", "unknown command 'transmogrify'");
    // --help comes from the same declarations, with the library's defaults and the config fields
    const auto h = run("train --help", dir);
    CHECK(h.status == 0);
    CHECK(h.out.find("--folds") != std::string::npos);
    CHECK(h.out.find("--label-column") != std::string::npos);
    const auto all = run("--help", dir);
    CHECK(all.out.find("learning_rate") != std::string::npos);  // the --config fields (FERRUM_OPTIONS)
    CHECK(all.out.find("evaluate") != std::string::npos);
}

TEST_CASE("ferrum-rrl simulate --family: the family's conventions, its name in labels.csv, the names in --help",
          "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_family");
    const std::string d = dir.string();
    const auto h = run("simulate --help", dir);
    CHECK(h.status == 0);
    for (const char* f : {"ferrum", "bic", "heavy", "dense", "spectro", "--intrinsic-scatter"})
        CHECK(h.out.find(f) != std::string::npos);

    auto r = run(
        "simulate --family spectro --intrinsic-scatter 0.3 --n-rrab 8 --n-rrc 4 --seed 2 --out " + d + "/set --quiet",
        dir);
    REQUIRE(r.status == 0);
    std::istringstream labels(slurp(dir / "set" / "labels.csv"));
    std::string line;
    std::getline(labels, line);
    CHECK(line.substr(line.rfind(',') + 1) == "family");
    int rows = 0;
    while (std::getline(labels, line)) {
        CHECK(line.substr(line.rfind(',') + 1) == "spectro");
        ++rows;
    }
    CHECK(rows == 12);

    r = run("simulate --family nope --n-rrab 1 --n-rrc 1 --out " + d + "/bad", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("ferrum, bic, heavy, dense, spectro") != std::string::npos);
    CHECK(!fs::exists(dir / "bad"));
    r = run("simulate --intrinsic-scatter -1 --n-rrab 1 --n-rrc 1 --out " + d + "/bad", dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("feh_intrinsic_scatter") != std::string::npos);
}

TEST_CASE("ferrum-rrl transfer: leave-one-family-out over simulate directories", "[cli][transfer]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built next to the tests and FERRUM_RRL_EXE unset: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_test_rrl_transfer");
    const std::string d = dir.string();
    for (const char* f : {"ferrum", "bic"}) {
        const auto r = run(std::string("simulate --family ") + f + " --n-rrab 60 --n-rrc 40 --seed 3 --out " + d + "/" +
                               f + " --quiet",
                           dir);
        REQUIRE(r.status == 0);
    }
    {
        std::ofstream c(dir / "lin.json");
        c << R"({"architecture": "fourier_linear"})";
    }
    auto r = run(
        "transfer --sets " + d + "/ferrum," + d + "/bic --config " + d + "/lin.json --out " + d + "/t.json --quiet",
        dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("| held-out family |") != std::string::npos);
    CHECK(r.out.find("| bic | RRc |") != std::string::npos);
    const auto j = nlohmann::json::parse(slurp(dir / "t.json"));
    REQUIRE(j.at("folds").size() == 2);
    CHECK(j.at("folds").at(0).at("held_out") == "ferrum");
    CHECK(j.at("folds").at(0).at("trained_on").at(0) == "bic");
    const auto& m = j.at("folds").at(1).at("model_vs_truth").at("per_type").at("RRab");
    const auto& c = j.at("folds").at(1).at("classical_vs_truth").at("per_type").at("RRab");
    CHECK(m.at("n") == c.at("n"));  // the same stars
    CHECK(m.contains("coverage_1sigma"));
    // the report never lands on a file of a set (an input), however the path is spelled
    const std::string before = slurp(dir / "bic" / "labels.csv");
    r = run("transfer --sets " + d + "/ferrum," + d + "/bic --config " + d + "/lin.json --out " + d +
                "/bic/./labels.csv --quiet",
            dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("labels.csv") != std::string::npos);
    CHECK(slurp(dir / "bic" / "labels.csv") == before);
    // --test-sets: each held-out family scored on other stars of it (here all with >= 100 epochs), never
    // trained on; --combine-classical adds the inverse-variance combination's rows and metrics
    for (const char* f : {"ferrum", "bic"}) {
        const auto rs = run(std::string("simulate --family ") + f +
                                " --n-rrab 30 --n-rrc 20 --seed 9 --min-epochs 100" + " --out " + d + "/many_" + f +
                                " --quiet",
                            dir);
        REQUIRE(rs.status == 0);
    }
    r = run("transfer --sets " + d + "/ferrum," + d + "/bic --test-sets " + d + "/many_ferrum," + d +
                "/many_bic --combine-classical --config " + d + "/lin.json --out " + d + "/th.json --quiet",
            dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("| bic | RRab + classical |") != std::string::npos);
    const auto jh = nlohmann::json::parse(slurp(dir / "th.json"));
    REQUIRE(jh.at("folds").size() == 2);
    for (std::size_t k = 0; k < 2; ++k) {
        const auto& fold = jh.at("folds").at(k);
        CHECK(fold.at("n_train") == j.at("folds").at(k).at("n_train"));  // the same training stars, no test star
        const auto& by = fold.at("model_vs_truth").at("by_n_epochs");
        REQUIRE(!by.empty());  // every scored star of the test sets has >= 100 epochs: only the last bin has any
        for (std::size_t b = 0; b < by.size(); ++b)
            CHECK(by.at(b).at("n").get<std::size_t>() ==
                  (by.at(b).at("n_epochs").at(0) == 100.0
                       ? fold.at("model_vs_truth").at("all").at("n").get<std::size_t>()
                       : 0u));
        CHECK(fold.at("combined_vs_truth").at("per_type").at("RRab").at("n") ==
              fold.at("model_vs_truth").at("per_type").at("RRab").at("n"));
    }
    r = run("transfer --sets " + d + "/ferrum," + d + "/bic --test-sets " + d + "/many_ferrum --config " + d +
                "/lin.json --out " + d + "/t2.json --quiet",
            dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("one per family") != std::string::npos);
    // one family is not a protocol
    r = run("transfer --sets " + d + "/ferrum --config " + d + "/lin.json --out " + d + "/t1.json --quiet", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("two families") != std::string::npos);
}

TEST_CASE("ferrum-rrl simulate --format dr3-bulk: predict gives the same predictions as on the long format",
          "[cli][dr3]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_dr3_bulk");
    const std::string d = dir.string();
    const std::string sim = "simulate --n-rrab 12 --n-rrc 6 --seed 9 --min-epochs 30 --quiet --out ";
    REQUIRE(run(sim + d + "/long", dir).status == 0);
    REQUIRE(run(sim + d + "/bulk --format dr3-bulk", dir).status == 0);
    CHECK(fs::exists(dir / "bulk" / "epoch_photometry.csv.gz"));
    CHECK(fs::exists(dir / "bulk" / "vari_rrlyrae.csv.gz"));
    CHECK(!fs::exists(dir / "bulk" / "epoch_photometry.csv"));
    // gzip magic bytes: the file really is compressed
    CHECK(slurp(dir / "bulk" / "epoch_photometry.csv.gz").substr(0, 2) == "\x1f\x8b");
    CHECK(slurp(dir / "bulk" / "labels.csv") == slurp(dir / "long" / "labels.csv"));
    const auto predict = [&](const std::string& set, const char* ep, const char* cat) {
        return run("predict --epoch-photometry " + d + "/" + set + "/" + ep + " --catalogue " + d + "/" + set + "/" +
                       cat + " --out " + d + "/" + set + ".pred.csv --mc-samples 4 --seed 3",
                   dir);
    };
    const auto a = predict("long", "epoch_photometry.csv", "vari_rrlyrae.csv");
    REQUIRE(a.status == 0);
    const auto b = predict("bulk", "epoch_photometry.csv.gz", "vari_rrlyrae.csv.gz");
    REQUIRE(b.status == 0);
    CHECK(b.err.find("18 light curves in the catalogue, 0 not in it; 0 catalogue stars without a light curve") !=
          std::string::npos);
    const std::string pa = slurp(dir / "long.pred.csv"), pb = slurp(dir / "bulk.pred.csv");
    CHECK(std::count(pa.begin(), pa.end(), '\n') == 19);
    CHECK(pb == pa);
}

TEST_CASE("ferrum-rrl predictions as ECSV: astropy reads them with their units; the rows equal the CSV's",
          "[cli][ecsv]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_ecsv");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 10 --n-rrc 5 --seed 2 --min-epochs 30 --quiet --out " + d + "/set", dir).status ==
            0);
    const std::string in = "--epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                           "/set/vari_rrlyrae.csv --quiet ";
    REQUIRE(run("classical " + in + "--out " + d + "/c.csv", dir).status == 0);
    REQUIRE(run("classical " + in + "--out " + d + "/c.ecsv", dir).status == 0);
    const std::string csv = slurp(dir / "c.csv"), ecsv = slurp(dir / "c.ecsv");
    CHECK(ecsv.rfind("# %ECSV 1.0\n", 0) == 0);
    // below the commented YAML header, the same table byte for byte
    CHECK(ecsv.substr(ecsv.find("\nsource_id,") + 1) == csv);

    if (std::system("/usr/bin/python3 -c 'import astropy' >/dev/null 2>&1") != 0) {
        WARN("python3-astropy is not installed: the astropy half of this test is skipped");
        return;
    }
    const std::string py =
        "from astropy.table import Table\n"
        "t = Table.read('" +
        d +
        "/c.ecsv', format='ascii.ecsv')\n"
        "print(t['source_id'].dtype, t['feh'].unit, t['feh_sigma'].unit, len(t))\n"
        "print(t.meta['software'])\n";
    { std::ofstream(dir / "read.py") << py; }
    const auto r = ferrum_test::run_program("/usr/bin/python3", (dir / "read.py").string(), dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("int64 dex dex 15") != std::string::npos);
    CHECK(r.out.find("ferrum-rrl classical") != std::string::npos);
}

TEST_CASE("ferrum-rrl without a star table: a period search per curve gives the catalogue's answer on real CRTS RRab",
          "[cli][period]") {
    const std::string data = ferrum_test::shared_data_dir();
    if (exe().empty() || data.empty()) {
        WARN("ferrum-rrl not built or ../shared/data absent: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_period_search");
    const std::string d = dir.string(), crts = data + "/crts_sdss_rrab_v/";
    // the first 40 stars of the real CRTS set (raw V photometry, SDSS [Fe/H]), to keep the test short
    std::ifstream in(crts + "lightcurves.csv");
    std::ofstream out(dir / "lc.csv");
    std::string line, last;
    std::size_t stars = 0;
    std::getline(in, line);
    out << line << '\n';
    while (std::getline(in, line)) {
        const std::string id = line.substr(0, line.find(','));
        if (id != last && ++stars > 40) break;
        last = id;
        out << line << '\n';
    }
    out.close();
    auto r = run(
        "classical --light-curves " + d + "/lc.csv --stars " + crts + "stars.csv --out " + d + "/catalogue.csv --quiet",
        dir);
    REQUIRE(r.status == 0);
    r = run("classical --light-curves " + d + "/lc.csv --type auto --out " + d + "/searched.csv", dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("period search 40/40") != std::string::npos);
    CHECK(r.err.find(" stars/s") != std::string::npos);
    const auto table = [](const fs::path& p) {
        std::map<std::string, std::pair<std::string, std::string>> t;  // id -> (type, feh)
        std::istringstream s(slurp(p));
        std::string row;
        std::getline(s, row);
        while (std::getline(s, row)) {
            std::vector<std::string> f;
            std::istringstream rs(row);
            for (std::string x; std::getline(rs, x, ',');) f.push_back(x);
            t[f.at(0)] = {f.at(1), f.at(2)};
        }
        return t;
    };
    const auto cat = table(dir / "catalogue.csv"), found = table(dir / "searched.csv");
    REQUIRE(cat.size() == 40);
    REQUIRE(found.size() == 40);
    std::vector<double> diff;
    for (const auto& [id, v] : found) {
        CHECK(v.first == "RRab");  // every CRTS star is an RRab: "auto" types them from the period found
        if (!v.second.empty() && !cat.at(id).second.empty())
            diff.push_back(std::abs(std::stod(v.second) - std::stod(cat.at(id).second)));
    }
    CHECK(diff.size() >= 38);  // a period found for (nearly) every star
    std::sort(diff.begin(), diff.end());
    // phi31 does not depend on the epoch: with the same period the classical [Fe/H] is the same, up to how
    // sharply a period is known over an 8-year baseline
    CHECK(diff[diff.size() / 2] < 0.05);
}

TEST_CASE("shard_of: the partition of sources is the fixed splitmix64 mix, the same on every machine", "[cli][shard]") {
    using ferrum::shard_of;
    // expected shards for N = 2, 3, 4, 7 from a pure-Python splitmix64 and FNV-1a (tools/make_shard_reference.py)
    const auto shard_lists = [](const auto& id) {
        std::vector<std::size_t> v;
        for (std::size_t n : {2, 3, 4, 7}) v.push_back(shard_of(id, n));
        return v;
    };
    CHECK(shard_lists(std::int64_t(1)) == std::vector<std::size_t>{1, 2, 1, 2});
    CHECK(shard_lists(std::int64_t(4295806720)) == std::vector<std::size_t>{1, 0, 1, 0});
    CHECK(shard_lists(std::int64_t(5937173300407375616)) == std::vector<std::size_t>{0, 2, 0, 1});
    CHECK(shard_lists(std::int64_t(1000000000000000003)) == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(shard_lists(std::int64_t(-1)) == std::vector<std::size_t>{0, 2, 0, 0});
    CHECK(shard_lists(std::string("CSS_J154124.2-002225")) == std::vector<std::size_t>{1, 0, 1, 5});
    CHECK(shard_lists(std::string("V1")) == std::vector<std::size_t>{0, 1, 0, 6});
    CHECK(shard_of(std::string("4295806720"), 4) == shard_of(std::int64_t(4295806720), 4));  // an id as text
    CHECK(ferrum::parse_shard_spec("2/3").index == 2);
    CHECK(ferrum::parse_shard_spec("2/3").count == 3);
    for (const char* bad : {"3/3", "1/0", "-1/2", "1", "a/2", "1/2x", ""})
        CHECK_THROWS_AS(ferrum::parse_shard_spec(bad), ferrum::value_error);
}

namespace {

/// The rows of a predictions CSV (header dropped) sorted by source_id: the test's own sort, not ferrum's.
std::vector<std::string> sorted_rows(const std::string& csv) {
    std::vector<std::string> rows;
    std::istringstream in(csv);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) rows.push_back(line);
    std::sort(rows.begin(), rows.end(), [](const std::string& a, const std::string& b) {
        return std::stoll(a.substr(0, a.find(','))) < std::stoll(b.substr(0, b.find(',')));
    });
    return rows;
}

std::string header_line(const std::string& csv) { return csv.substr(0, csv.find('\n') + 1); }

std::string joined(const std::vector<std::string>& rows) {
    std::string s;
    for (const auto& r : rows) s += r + '\n';
    return s;
}

}  // namespace

TEST_CASE(
    "ferrum-rrl predict --shard k/N: the union of the shards is the unsharded output (N = 1..4, any --batch, "
    "MC-dropout sigma included); merge refuses a missing or stale shard; a restart skips the finished shards",
    "[cli][shard]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_shards");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 30 --n-rrc 15 --seed 21 --min-epochs 30 --quiet --out " + d + "/set", dir).status ==
            0);
    // the same flags for every run, MC dropout on (3 passes of the pretrained model's dropout); several
    // batches per shard (--batch 4, and 7 below)
    const std::string in = "predict --epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                           "/set/vari_rrlyrae.csv --mc-samples 3 --batch 4 --quiet --out " + d + "/";
    REQUIRE(run(in + "whole.csv", dir).status == 0);
    const std::string whole = slurp(dir / "whole.csv");
    const auto rows = sorted_rows(whole);
    REQUIRE(rows.size() == 45);
    const std::string expected = header_line(whole) + joined(rows);
    // a star's MC-dropout masks are keyed by its source_id: another --batch (other batch neighbours and
    // positions) gives the same rows, feh_sigma included
    const auto with = [&](const std::string& from, const std::string& to) {  // `in` with one option changed
        return in.substr(0, in.find(from)) + to + in.substr(in.find(from) + from.size());
    };
    const std::string in7 = with("--batch 4", "--batch 7");
    REQUIRE(run(in7 + "whole7.csv", dir).status == 0);
    CHECK(slurp(dir / "whole7.csv") == whole);
    // and the MC passes do count: without them feh_sigma is another number (the test is not vacuous)
    REQUIRE(run(with("--mc-samples 3", "--mc-samples 0") + "nomc.csv", dir).status == 0);
    CHECK(sorted_rows(slurp(dir / "nomc.csv")) != rows);

    // a shard's file is named from --out: when that name is an input (here the catalogue), it is refused
    // before any work and the input is left as it was
    fs::copy_file(dir / "set" / "vari_rrlyrae.csv", dir / "cat.csv.shard-0-of-2");
    const std::string cat_before = slurp(dir / "cat.csv.shard-0-of-2");
    const auto clash = run("predict --epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                               "/cat.csv.shard-0-of-2 --mc-samples 0 --quiet --out " + d + "/cat.csv --shard 0/2",
                           dir);
    CHECK(clash.status != 0);
    CHECK_THAT(clash.err, Catch::Contains("an output never replaces an input"));
    CHECK(slurp(dir / "cat.csv.shard-0-of-2") == cat_before);

    for (int n = 1; n <= 4; ++n) {
        const std::string out = "s" + std::to_string(n) + ".csv";
        std::set<std::string> seen;
        std::size_t total = 0;
        for (int k = 0; k < n; ++k) {
            // odd N with --batch 4, even N with --batch 7: shards hold other batches than the unsharded run
            const auto r = run((n % 2 ? in : in7) + out + " --shard " + std::to_string(k) + "/" + std::to_string(n), dir);
            REQUIRE(r.status == 0);
            const std::string shard = out + ".shard-" + std::to_string(k) + "-of-" + std::to_string(n);
            const auto manifest = nlohmann::json::parse(slurp(dir / (shard + ".json")));
            const auto shard_rows = sorted_rows(slurp(dir / shard));
            CHECK(manifest["shard"]["index"] == k);
            CHECK(manifest["shard"]["count"] == n);
            CHECK(manifest["output"]["rows"] == shard_rows.size());
            CHECK(manifest["inputs"].size() == 3);                                 // epoch photometry, catalogue, model
            CHECK(slurp(dir / shard) == header_line(whole) + joined(shard_rows));  // written sorted
            for (const auto& row : shard_rows) CHECK(seen.insert(row).second);     // in one shard only
            total += shard_rows.size();
        }
        CHECK(total == rows.size());
        const auto m = run("merge --shards " + std::to_string(n) + " --out " + d + "/" + out, dir);
        REQUIRE(m.status == 0);
        CHECK(slurp(dir / out) == expected);
    }
    // with 4 shards of 45 stars each shard holds some
    for (int k = 0; k < 4; ++k)
        CHECK(sorted_rows(slurp(dir / ("s4.csv.shard-" + std::to_string(k) + "-of-4"))).size() >= 3);

    // restart: shards 0 and 1 of 3 finished, then the run "crashed"; merge refuses the missing shard 2
    for (int k = 0; k < 2; ++k) REQUIRE(run(in + "r.csv --shard " + std::to_string(k) + "/3", dir).status == 0);
    auto m = run("merge --shards 3 --out " + d + "/r.csv", dir);
    CHECK(m.status == 1);
    CHECK(m.err.find("shard 2 of 3 is missing") != std::string::npos);
    CHECK(!fs::exists(dir / "r.csv"));
    // rerun every shard: 0 and 1 are skipped (said on stderr), 2 is computed; the result is the uninterrupted one
    for (int k = 0; k < 3; ++k) {
        const auto r = run(in + "r.csv --shard " + std::to_string(k) + "/3", dir);
        REQUIRE(r.status == 0);
        CHECK((r.err.find("skipped") != std::string::npos) == (k < 2));
    }
    REQUIRE(run("merge --shards 3 --out " + d + "/r.csv", dir).status == 0);
    CHECK(slurp(dir / "r.csv") == expected);
    CHECK(slurp(dir / "r.csv") == slurp(dir / "s3.csv"));

    // other settings (here --seed) are not the finished shard's: it is recomputed, not skipped
    auto r = run(in + "r.csv --shard 0/3 --seed 7", dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("skipped") == std::string::npos);

    // a shard output altered after its manifest was written is stale too
    {
        std::ofstream f(dir / "s2.csv.shard-1-of-2", std::ios::app);
        f << "1,RRab,-1.00000,0.10000,40,\n";
    }
    m = run("merge --shards 2 --out " + d + "/s2.csv", dir);
    CHECK(m.status == 1);
    CHECK(m.err.find("s2.csv.shard-1-of-2 is missing or changed") != std::string::npos);

    // an input changed since: merge refuses the stale shards and keeps the old output; a rerun recomputes them
    fs::last_write_time(dir / "set" / "vari_rrlyrae.csv",
                        fs::last_write_time(dir / "set" / "vari_rrlyrae.csv") + std::chrono::seconds(5));
    m = run("merge --shards 3 --out " + d + "/s3.csv", dir);
    CHECK(m.status == 1);
    CHECK(m.err.find("stale") != std::string::npos);
    CHECK(m.err.find("vari_rrlyrae.csv changed") != std::string::npos);
    CHECK(slurp(dir / "s3.csv") == expected);
    r = run(in + "s3.csv --shard 1/3", dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("skipped") == std::string::npos);

    // --shard needs the streamed archive input
    r = run("predict --folded " + d + "/none.csv --out " + d + "/f.csv --shard 0/2", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("--shard") != std::string::npos);
}

TEST_CASE(
    "ferrum-rrl predict under mpirun -np 1..4: rank r takes shard r, rank 0 merges; the same output for "
    "every N; a failed rank leaves no merged output; the rerun completes it",
    "[cli][mpi]") {
    if (!mpirun_tests_can_run()) return;
    const fs::path dir = fresh_dir("ferrum_rrl_cli_mpi");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 30 --n-rrc 15 --seed 22 --min-epochs 30 --quiet --out " + d + "/set", dir).status ==
            0);
    const std::string args = "predict --epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                             "/set/vari_rrlyrae.csv --mc-samples 3 --batch 4 --threads 1 --quiet --out " + d + "/";
    REQUIRE(run(args + "whole.csv", dir).status == 0);  // no launcher: MPI is not initialised
    const std::string whole = slurp(dir / "whole.csv");
    const std::string expected = header_line(whole) + joined(sorted_rows(whole));
    const auto mpirun = [&](int n, const std::string& out) {
        return ferrum_test::run_program(
            "mpirun", "--oversubscribe --allow-run-as-root -np " + std::to_string(n) + " " + exe() + " " + args + out,
            dir);
    };
    for (int n = 1; n <= 4; ++n) {
        const std::string out = "mpi" + std::to_string(n) + ".csv";
        const auto r = mpirun(n, out);
        INFO("mpirun -np " << n << ": " << r.err);
        REQUIRE(r.status == 0);
        CHECK(slurp(dir / out) == expected);
        CHECK(fs::exists(dir / (out + ".shard-" + std::to_string(n - 1) + "-of-" + std::to_string(n) + ".json")));
    }
    // rank 1's shard cannot be written (a directory in the way): the job fails, says which rank, merges nothing
    fs::create_directories(dir / "fail.csv.shard-1-of-2");
    auto r = mpirun(2, "fail.csv");
    CHECK(r.status != 0);
    CHECK(r.err.find("rank 1 of 2") != std::string::npos);
    CHECK(r.err.find("no merged output") != std::string::npos);
    CHECK(!fs::exists(dir / "fail.csv"));
    // the cause removed, the same command completes the job: rank 0's finished shard is skipped
    fs::remove_all(dir / "fail.csv.shard-1-of-2");
    r = mpirun(2, "fail.csv");
    REQUIRE(r.status == 0);
    CHECK(r.err.find("shard 0 of 2 is finished") != std::string::npos);
    CHECK(slurp(dir / "fail.csv") == expected);
    // bad input fails every rank: a clear error, no merged output
    r = ferrum_test::run_program("mpirun",
                                 "--oversubscribe --allow-run-as-root -np 2 " + exe() + " predict --epoch-photometry " +
                                     d + "/set/labels.csv --catalogue " + d + "/set/vari_rrlyrae.csv --quiet --out " +
                                     d + "/bad.csv",
                                 dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("labels.csv") != std::string::npos);
    CHECK(!fs::exists(dir / "bad.csv"));
    // only predict, train and tune run under mpirun with several ranks
    r = ferrum_test::run_program(
        "mpirun", "--oversubscribe --allow-run-as-root -np 2 " + exe() + " merge --shards 2 --out " + d + "/mpi2.csv",
        dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("only predict, train and tune run under mpirun") != std::string::npos);
}

TEST_CASE(
    "ferrum-rrl train under mpirun -np 1, 2: data-parallel training gives the one-process model file bit for bit "
    "(dropout, an empty share, early stopping, CV, CV folds across ranks), tune's trials across ranks; a failing "
    "rank ends the job with no output",
    "[cli][mpi]") {
    if (!mpirun_tests_can_run()) return;
    const fs::path dir = fresh_dir("ferrum_rrl_cli_mpi_train");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 170 --n-rrc 0 --seed 5 --min-epochs 30 --quiet --out " + d + "/set", dir).status ==
            0);
    {
        // 153 training stars in batches of 128: the 25-star last batch is one chunk of 64, so with 2 ranks
        // rank 0's share of it is empty (its dropout draws must still advance); dropout masks are drawn
        // per position in the whole batch; reduce-on-plateau and early stopping read the validation loss
        // (17 stars: rank 1 computes all of it)
        std::ofstream c(dir / "cfg.json");
        c << R"({"architecture": "gru_fourier", "gru_sizes": [6, 6], "dropout": [0.2, 0.2], "max_epochs": 3,
                 "batch_size": 128, "patience": 1, "reduce_lr_patience": 1, "folds": 0})";
    }
    const std::string args = "train --epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                             "/set/vari_rrlyrae.csv --labels " + d + "/set/labels.csv --config " + d +
                             "/cfg.json --threads 1 --quiet ";
    const auto mpirun = [&](int n, const std::string& rest) {
        return ferrum_test::run_program(
            "mpirun", "--oversubscribe --allow-run-as-root -np " + std::to_string(n) + " " + exe() + " " + args + rest,
            dir);
    };
    REQUIRE(run(args + "--out " + d + "/plain.json", dir).status == 0);  // no launcher: one process
    const std::string plain = slurp(dir / "plain.json");
    const auto weights = [](const std::string& model_file) {
        return nlohmann::json::parse(model_file).at("models").at(0).at("network").dump();
    };
    REQUIRE(!weights(plain).empty());
    for (int n = 1; n <= 2; ++n) {  // -np 3 and 4 give the same file too (docs/scaling.md); CI time is short
        const std::string out = "np" + std::to_string(n) + ".json";
        const auto r = mpirun(n, "--out " + d + "/" + out);
        INFO("mpirun -np " << n << ": " << r.err);
        REQUIRE(r.status == 0);
        // the determinism bound is zero: the chunk gradients are summed in the one process's order
        CHECK(weights(slurp(dir / out)) == weights(plain));
        CHECK(slurp(dir / out) == plain);
        CHECK(r.err.find(n == 1 ? "on 1 rank (no communication)" : "on " + std::to_string(n) + " ranks, ") !=
              std::string::npos);
    }
    // K-fold CV: every fold is trained across the ranks; the out-of-fold predictions are the same
    REQUIRE(run(args + "--folds 2 --out " + d + "/cv.json", dir).status == 0);
    auto r = mpirun(2, "--folds 2 --out " + d + "/cv2.json");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(dir / "cv2.json.oof.csv") == slurp(dir / "cv.json.oof.csv"));
    CHECK(slurp(dir / "cv2.json") == slurp(dir / "cv.json"));
    // --folds-across-ranks: fold k is trained by rank k mod N alone, the results gathered (with 3 ranks and
    // 2 folds rank 2 trains none); the same out-of-fold file, CV report and model file
    for (int n : {2, 3}) {
        const std::string out = d + "/cvf" + std::to_string(n) + ".json";
        r = mpirun(n, "--folds 2 --folds-across-ranks --out " + out);
        INFO("mpirun -np " << n << " --folds-across-ranks: " << r.err);
        REQUIRE(r.status == 0);
        CHECK(slurp(out + ".oof.csv") == slurp(dir / "cv.json.oof.csv"));
        CHECK(slurp(out + ".cv.json") == slurp(dir / "cv.json.cv.json"));
        CHECK(slurp(out) == slurp(dir / "cv.json"));
    }
    // tune: the trials of each Hyperband round dealt across the ranks (R = 3, eta = 3: rounds of 3, 1 and 2
    // trials, so with 3 ranks some rounds leave ranks idle); the same best config and trials file
    const std::string tune = exe() + " tune --epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                             "/set/vari_rrlyrae.csv --labels " + d + "/set/labels.csv --config " + d +
                             "/cfg.json --threads 1 --quiet --max-epochs 3 --seed 4 --out ";
    REQUIRE(ferrum_test::run_program(exe(), tune.substr(exe().size() + 1) + d + "/tune1.json", dir).status == 0);
    for (int n : {2, 3}) {
        const std::string out = d + "/tune" + std::to_string(n) + "ranks.json";
        r = ferrum_test::run_program(
            "mpirun", "--oversubscribe --allow-run-as-root -np " + std::to_string(n) + " " + tune + out, dir);
        INFO("mpirun -np " << n << " tune: " << r.err);
        REQUIRE(r.status == 0);
        CHECK(slurp(out) == slurp(dir / "tune1.json"));
        auto trials = nlohmann::json::parse(slurp(out + ".trials.json"));
        auto trials1 = nlohmann::json::parse(slurp(dir / "tune1.json.trials.json"));
        CHECK(trials.at("config") == out);  // the one field that names the output
        trials.erase("config");
        trials1.erase("config");
        CHECK(trials.dump() == trials1.dump());
    }
    // a rank that fails ends the job, says which rank and why, and nothing is written
    r = ferrum_test::run_program("mpirun",
                                 "--oversubscribe --allow-run-as-root -np 2 " + exe() + " train --epoch-photometry " +
                                     d + "/set/labels.csv --catalogue " + d + "/set/vari_rrlyrae.csv --labels " + d +
                                     "/set/labels.csv --config " + d + "/cfg.json --quiet --out " + d + "/bad.json",
                                 dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("of 2:") != std::string::npos);
    CHECK(r.err.find("labels.csv") != std::string::npos);
    CHECK(!fs::exists(dir / "bad.json"));
}

TEST_CASE("ferrum-rrl predict on many bulk files: a glob of 3 files predicts byte for byte as the one file",
          "[cli][dr3][files]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_dr3_files");
    const std::string d = dir.string();
    const std::string sim = "simulate --n-rrab 14 --n-rrc 7 --seed 4 --min-epochs 30 --format dr3-bulk --quiet --out ";
    REQUIRE(run(sim + d + "/one", dir).status == 0);
    REQUIRE(run(sim + d + "/three --files 3", dir).status == 0);
    CHECK(fs::exists(dir / "three" / "EpochPhotometry_000000-000006.csv.gz"));
    CHECK(fs::exists(dir / "three" / "EpochPhotometry_000014-000020.csv.gz"));
    CHECK(!fs::exists(dir / "three" / "epoch_photometry.csv.gz"));
    CHECK(slurp(dir / "three" / "labels.csv") == slurp(dir / "one" / "labels.csv"));
    // --batch 5 and MC dropout: batches straddle the files, and each batch's dropout masks must be the same
    const auto predict = [&](const std::string& epochs, const std::string& out, const std::string& more = "") {
        return run("predict --epoch-photometry " + epochs + " --catalogue " + d + "/one/vari_rrlyrae.csv.gz --out " +
                       d + "/" + out + " --mc-samples 3 --seed 2 --batch 5 " + more,
                   dir);
    };
    const auto a = predict(d + "/one/epoch_photometry.csv.gz", "one.csv");
    REQUIRE(a.status == 0);
    const std::string want = slurp(dir / "one.csv");
    CHECK(std::count(want.begin(), want.end(), '\n') == 22);
    const std::string f0 = d + "/three/EpochPhotometry_000000-000006.csv.gz",
                      f1 = d + "/three/EpochPhotometry_000007-000013.csv.gz",
                      f2 = d + "/three/EpochPhotometry_000014-000020.csv.gz";
    for (const char* threads : {"1", "3"}) {
        const auto b = predict("'" + d + "/three/EpochPhotometry_*.csv.gz'", "glob.csv",
                               std::string("--threads ") + threads);
        REQUIRE(b.status == 0);
        CHECK(b.err.find("21 light curves in the catalogue, 0 not in it; 0 catalogue stars without a light curve") !=
              std::string::npos);
        CHECK(slurp(dir / "glob.csv") == want);
    }
    // a comma-separated list, and the option repeated
    REQUIRE(predict(f0 + "," + f1, "list.csv", "--epoch-photometry " + f2).status == 0);
    CHECK(slurp(dir / "list.csv") == want);
    // a pattern that matches nothing: named, nothing written
    const auto none = predict("'" + d + "/three/Epoch_*.csv.gz'", "none.csv");
    CHECK(none.status != 0);
    CHECK(none.err.find("Epoch_*.csv.gz") != std::string::npos);
    CHECK(none.err.find("matches no file") != std::string::npos);
    CHECK(!fs::exists(dir / "none.csv"));
    // a truncated .gz among several: that file named, no output
    const std::string whole = slurp(f1);
    const std::string cut = (dir / "EpochPhotometry_000007-000013.csv.gz").string();
    std::ofstream(cut, std::ios::binary) << whole.substr(0, whole.size() * 2 / 3);
    const auto t = predict(f0 + "," + cut + "," + f2, "cut.csv", "--threads 3");
    CHECK(t.status != 0);
    CHECK(t.err.find(cut) != std::string::npos);
    CHECK(t.err.find("truncated") != std::string::npos);
    CHECK(!fs::exists(dir / "cut.csv"));
    // transfer reads a --sets directory of bulk files (the archive's names)
    fs::copy_file(dir / "one" / "vari_rrlyrae.csv.gz", dir / "three" / "VariRrlyrae_000000-000020.csv.gz");
    fs::remove(dir / "three" / "vari_rrlyrae.csv.gz");
    fs::create_directories(dir / "empty");
    const auto tr = run("transfer --sets " + d + "/three," + d + "/empty --out " + d + "/t.json --quiet", dir);
    CHECK(tr.status != 0);
    CHECK(tr.err.find("EpochPhotometry_*.csv.gz") != std::string::npos);  // the empty set, not the bulk one
    CHECK(tr.err.find(d + "/empty") != std::string::npos);
}

TEST_CASE(
    "ferrum-rrl predict --per-file: one shard per input file, in a job array and dealt to mpirun -np 1..4; the "
    "merge is the one-process output; a restart skips the finished files; a source in two files is refused",
    "[cli][dr3][files][shard][mpi]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_per_file");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 14 --n-rrc 7 --seed 6 --min-epochs 30 --format dr3-bulk --files 3 --quiet --out " +
                    d + "/three",
                dir)
                .status == 0);
    const std::string glob = "'" + d + "/three/EpochPhotometry_*.csv.gz'";
    const std::string args = "predict --catalogue " + d + "/three/vari_rrlyrae.csv.gz --mc-samples 3 --batch 4 " +
                             "--threads 1 --quiet --epoch-photometry ";
    REQUIRE(run(args + glob + " --out " + d + "/one.csv", dir).status == 0);  // one process, no shards
    const std::string one = slurp(dir / "one.csv");
    const std::string want = header_line(one) + joined(sorted_rows(one));
    REQUIRE(sorted_rows(one).size() == 21);

    // by hand: every file a shard (OUT.shard-i-of-3, manifest naming its file first), then merged
    auto r = run(args + glob + " --per-file --out " + d + "/all.csv", dir);
    REQUIRE(r.status == 0);
    CHECK(slurp(dir / "all.csv") == want);
    const auto m1 = nlohmann::json::parse(slurp(dir / "all.csv.shard-1-of-3.json"));
    CHECK(m1["partition"] == "one shard per input file");
    CHECK(m1["own_inputs"] == 1);
    CHECK(m1["inputs"][0]["path"].get<std::string>().find("EpochPhotometry_000007-000013.csv.gz") != std::string::npos);
    CHECK(sorted_rows(slurp(dir / "all.csv.shard-1-of-3")).size() == 7);

    // a job array of 2 tasks over 3 files: task 0 takes files 0 and 2, task 1 file 1; merge --shards 3
    for (int k = 0; k < 2; ++k)
        REQUIRE(
            run(args + glob + " --per-file --shard " + std::to_string(k) + "/2 --out " + d + "/ja.csv", dir).status ==
            0);
    CHECK(fs::exists(dir / "ja.csv.shard-2-of-3.json"));
    REQUIRE(run("merge --shards 3 --out " + d + "/ja.csv", dir).status == 0);
    CHECK(slurp(dir / "ja.csv") == want);

    // a source in two files (file 0 given twice, as another file): the merge refuses it, naming both files
    fs::copy_file(dir / "three" / "EpochPhotometry_000000-000006.csv.gz", dir / "copy.csv.gz");
    r = run(args + glob + "," + d + "/copy.csv.gz --per-file --out " + d + "/dup.csv", dir);
    CHECK(r.status != 0);
    CHECK(r.err.find("a source belongs in one input file") != std::string::npos);
    CHECK(r.err.find("copy.csv.gz") != std::string::npos);
    CHECK(!fs::exists(dir / "dup.csv"));

    if (!mpirun_tests_can_run()) return;
    const auto mpirun = [&](int n, const std::string& out) {
        return ferrum_test::run_program("mpirun",
                                        "--oversubscribe --allow-run-as-root -np " + std::to_string(n) + " " + exe() +
                                            " " + args + glob + " --per-file --out " + d + "/" + out,
                                        dir);
    };
    for (int n = 1; n <= 4; ++n) {  // -np 4: more ranks than files, one takes none
        const std::string out = "mpi" + std::to_string(n) + ".csv";
        r = mpirun(n, out);
        INFO("mpirun -np " << n << ": " << r.err);
        REQUIRE(r.status == 0);
        CHECK(slurp(dir / out) == want);
        CHECK(fs::exists(dir / (out + ".shard-2-of-3.json")));
    }
    // restart: file 1's shard was never finished (no manifest); the rerun skips files 0 and 2 and merges
    fs::remove(dir / "mpi2.csv.shard-1-of-3.json");
    fs::remove(dir / "mpi2.csv");
    r = mpirun(2, "mpi2.csv");
    REQUIRE(r.status == 0);
    CHECK(r.err.find("shard 0 of 3 is finished") != std::string::npos);
    CHECK(r.err.find("shard 2 of 3 is finished") != std::string::npos);
    CHECK(r.err.find("shard 1 of 3 is finished") == std::string::npos);
    CHECK(slurp(dir / "mpi2.csv") == want);
}

namespace {

// The fields of one CSV line (no quoting: the simulator writes none).
std::vector<std::string> stream_fields(const std::string& line) {
    std::vector<std::string> f;
    std::istringstream s(line);
    for (std::string x; std::getline(s, x, ',');) f.push_back(x);
    if (!line.empty() && line.back() == ',') f.emplace_back();
    return f;
}

// The per-star tables --light-curves, --stars and --folded made from a simulate directory's long epoch photometry
// and catalogue (G epochs the pipeline kept; mag_err from the flux error). `name` renames the stars (e.g.
// "star_" gives star_0, star_1, ...), for ids that are not Gaia source_ids; `split` writes the first star's rows
// in two pieces, the second after the next star's rows.
void stream_write_tables(const fs::path& set, const fs::path& out, const std::string& name = {}, bool split = false) {
    std::ifstream cat(set / "vari_rrlyrae.csv"), ep(set / "epoch_photometry.csv");
    std::string line;
    std::getline(cat, line);
    std::map<std::string, std::pair<double, double>> eph;  // period, epoch
    std::map<std::string, std::string> id_of;
    std::ofstream stars(out / "stars.csv");
    stars << "id,period,t0_mjd,type\n";
    while (std::getline(cat, line)) {
        const auto f = stream_fields(line);
        const std::string period = f.at(1) == "RRab" ? f.at(2) : f.at(3);
        const std::string id = name.empty() ? f.at(0) : name + std::to_string(id_of.size());
        id_of[f.at(0)] = id;
        eph[f.at(0)] = {std::stod(period), std::stod(f.at(4))};
        stars << id << ',' << period << ',' << f.at(4) << ',' << f.at(1) << '\n';
    }
    std::getline(ep, line);
    std::vector<std::pair<std::string, std::string>> lc, folded;  // (source_id, row)
    while (std::getline(ep, line)) {
        const auto f = stream_fields(line);
        if (f.at(2) != "G" || f.at(9) != "false" || f.at(4).empty()) continue;
        const double t = std::stod(f.at(3)), err = 1.0857362047581294 * std::stod(f.at(6)) / std::stod(f.at(5));
        const auto& [period, epoch] = eph.at(f.at(0));
        double phase = std::fmod((t - epoch) / period, 1.0);
        if (phase < 0) phase += 1.0;
        if (phase >= 1.0) phase = 0.0;
        char b[160];
        std::snprintf(b, sizeof b, "%s,%.9f,%s,%.6g\n", id_of.at(f.at(0)).c_str(), phase, f.at(4).c_str(), err);
        folded.emplace_back(f.at(0), b);
        std::snprintf(b, sizeof b, "%s,%s,%s,%.6g\n", id_of.at(f.at(0)).c_str(), f.at(3).c_str(), f.at(4).c_str(), err);
        lc.emplace_back(f.at(0), b);
    }
    const auto write =
        [&](const std::vector<std::pair<std::string, std::string>>& rows, const fs::path& p, const char* header) {
        std::ofstream o(p);
        o << header;
        std::string late;  // the first star's second half, written after the second star
        const std::string first = rows.front().first;
        std::size_t n_first = 0, k = 0;
        for (const auto& r : rows) n_first += r.first == first;
        bool second_done = false;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& r = rows[i];
            if (split && r.first == first && ++k > n_first / 2) {
                late += r.second;
                continue;
            }
            if (split && !late.empty() && r.first != first && !second_done &&
                (i + 1 == rows.size() || rows[i + 1].first != r.first)) {
                o << r.second << late;
                second_done = true;
                continue;
            }
            o << r.second;
        }
    };
    write(lc, out / "lc.csv", "id,time,mag,mag_err\n");
    write(folded, out / "folded.csv", "id,phase,mag,mag_err\n");
}

// Two predictions tables have the same header and rows: every field equal, but feh (the third) within
// `feh_tol` and feh_sigma (the fourth) within `sigma_tol`, both empty or both numbers.
bool stream_same_rows(const std::string& a, const std::string& b, double feh_tol, double sigma_tol) {
    std::istringstream sa(a), sb(b);
    std::string la, lb;
    bool header = true;
    while (true) {
        const bool more_a = bool(std::getline(sa, la)), more_b = bool(std::getline(sb, lb));
        if (more_a != more_b) return false;
        if (!more_a) return true;
        if (header || la.rfind('#', 0) == 0) {  // the ECSV header, then the column names
            if (la != lb) return false;
            header = la.rfind('#', 0) == 0;
            continue;
        }
        const auto fa = stream_fields(la), fb = stream_fields(lb);
        if (fa.size() != fb.size() || fa.size() < 4) return false;
        for (std::size_t k = 0; k < fa.size(); ++k) {
            if (fa[k] == fb[k]) continue;
            if ((k != 2 && k != 3) || fa[k].empty() || fb[k].empty()) return false;
            if (!(std::abs(std::stod(fa[k]) - std::stod(fb[k])) <= (k == 2 ? feh_tol : sigma_tol))) return false;
        }
    }
}

}  // namespace

TEST_CASE(
    "ferrum-rrl predict and classical stream --light-curves and --folded: any --batch gives the same rows "
    "(issue #13, item 7)",
    "[cli][stream]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_stream_tables");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 10 --n-rrc 6 --seed 5 --min-epochs 30 --quiet --out " + d + "/set", dir).status ==
            0);
    for (const char* sub : {"ids", "named", "split"}) fs::create_directories(dir / sub);
    stream_write_tables(dir / "set", dir / "ids");
    stream_write_tables(dir / "set", dir / "named", "star_");
    stream_write_tables(dir / "set", dir / "split", "", true);
    REQUIRE(slurp(dir / "split" / "lc.csv") != slurp(dir / "ids" / "lc.csv"));
    // a model without periods, for --folded (the pretrained model needs them)
    std::ofstream(dir / "np.json.cfg") << R"({"architecture": "gru_fourier", "gru_sizes": [4, 4],
        "dropout": [0.1, 0.1], "max_epochs": 2, "folds": 0})";
    REQUIRE(run("train --epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d +
                    "/set/vari_rrlyrae.csv --labels " + d + "/set/labels.csv --no-period --config " + d +
                    "/np.json.cfg --unified --out " + d + "/np.json --quiet",
                dir)
                .status == 0);

    // each input, run whole (the default --batch 1024 holds all 16 stars) and in batches of 1 and 5: the same rows.
    // On the 70,000 stars of docs/reliability.md the files are the same bytes; here a network's batched float sums
    // may round the fifth decimal of feh the other way (one of the 16 folded curves, whose features lie far
    // outside the tiny model's training domain), so the numbers are compared to 2e-5
    const std::string lc = "--light-curves " + d + "/ids/lc.csv --stars " + d + "/ids/stars.csv";
    const std::string folded = "--folded " + d + "/ids/folded.csv --model " + d + "/np.json";
    struct variant {
        std::string command, out;
    };
    const variant variants[] = {
        {"predict " + lc + " --mc-samples 0", "p_lc.csv"},
        {"predict " + lc + " --mc-samples 5 --seed 3", "p_lc_mc.csv"},
        {"classical " + lc, "c_lc.csv"},
        {"predict " + folded + " --mc-samples 0", "p_folded.csv"},
        {"predict --light-curves " + d + "/named/lc.csv --stars " + d + "/named/stars.csv --mc-samples 0",
         "p_named.ecsv"},
        {"predict " + lc + " --mc-samples 0", "p_lc.ecsv"},
    };
    for (const auto& v : variants) {
        INFO(v.command);
        REQUIRE(run(v.command + " --quiet --out " + d + "/" + v.out, dir).status == 0);
        const std::string whole = slurp(dir / v.out);
        CHECK(std::count(whole.begin(), whole.end(), '\n') >= 17);
        const std::string b = "b" + fs::path(v.out).extension().string();
        for (const char* batch : {"1", "5"}) {
            const auto r = run(v.command + " --batch " + batch + " --quiet --out " + d + "/" + b, dir);
            REQUIRE(r.status == 0);
            CHECK(r.err.find("warning") == std::string::npos);
            // with MC dropout each batch draws its own masks (as with --epoch-photometry): feh_sigma differs,
            // every other column is the same; the classical pipeline has no network: the same bytes
            if (v.out == "c_lc.csv") CHECK(slurp(dir / b) == whole);
            else CHECK(stream_same_rows(slurp(dir / b), whole, 2e-5, v.out == "p_lc_mc.csv" ? 10.0 : 2e-5));
        }
    }
    // the rows have numbers, and the ECSV header types the ids as the table has them
    CHECK(slurp(dir / "p_lc.csv").find(",RRc,-") != std::string::npos);
    CHECK(slurp(dir / "p_folded.csv").find(",RRab,-") != std::string::npos);
    CHECK(slurp(dir / "p_named.ecsv").find("{name: 'source_id', datatype: string") != std::string::npos);
    CHECK(slurp(dir / "p_named.ecsv").find("\nstar_15,") != std::string::npos);
    CHECK(slurp(dir / "p_lc.ecsv").find("{name: 'source_id', datatype: int64") != std::string::npos);

    // without --stars, a period search per curve, batch by batch (its progress says which stars)
    auto r = run("classical --light-curves " + d + "/ids/lc.csv --type auto --batch 10 --out " + d + "/c_auto.csv",
                 dir);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("period search 10/10") != std::string::npos);
    CHECK(r.err.find("period search (stars from 11) 6/6") != std::string::npos);
    REQUIRE(run("classical --light-curves " + d + "/ids/lc.csv --type auto --quiet --out " + d + "/c_auto1.csv", dir)
                .status == 0);
    CHECK(slurp(dir / "c_auto.csv") == slurp(dir / "c_auto1.csv"));

    // a star whose rows are split in two: not streamable, so the table is read whole (its pieces merged) with a
    // warning, and the rows are those of the grouped table
    r = run("predict --light-curves " + d + "/split/lc.csv --stars " + d + "/ids/stars.csv --mc-samples 0 --batch 2 " +
                "--quiet --out " + d + "/p_split.csv",
            dir);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains("appears again after other stars") &&
                          Catch::Contains("read whole instead of in batches"));
    CHECK(slurp(dir / "p_split.csv") == slurp(dir / "p_lc.csv"));
    r = run("classical --folded " + d + "/split/folded.csv --batch 3 --quiet --out " + d + "/c_split.csv", dir);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.err, Catch::Contains("read whole instead of in batches"));

    // a header-only table is an input error, streamed as read whole: no output
    std::ofstream(dir / "lc_header.csv") << "id,time,mag,mag_err\n";
    for (const char* batch : {"1", "1024"}) {
        r = run("classical --light-curves " + d + "/lc_header.csv --stars " + d + "/ids/stars.csv --batch " + batch +
                    " --out " + d + "/none.csv",
                dir);
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::Contains("lc_header.csv: the file has no data rows"));
        CHECK(!fs::exists(dir / "none.csv"));
    }
    fs::remove_all(dir);
}

// --- evaluate in bounded memory (issue #13, item 7) ------------------------------------------------------------

namespace {

/// Random scored stars: both types, every epoch and mean-G bin, Blazhko known or not, sigmas (some repeated).
std::vector<ferrum::models::rrl_scored_star> eval_random_stars(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<ferrum::models::rrl_scored_star> s(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto& x = s[i];
        x.id = "s" + std::to_string(i);
        x.type = u(rng) < 0.7 ? ferrum::rr_type::rrab : ferrum::rr_type::rrc;
        x.truth = -3.0 + 2.8 * u(rng);
        x.label_sigma = 0.05 + 0.3 * u(rng);
        x.feh = x.truth + 0.4 * (u(rng) - 0.5);
        x.n_epochs = std::size_t(20 + 150 * u(rng));
        x.mean_g = 14.0 + 7.0 * u(rng);
        x.blazhko = u(rng) < 0.3 ? 1 : 0;
        x.sigma = 0.1 + 0.01 * std::floor(20 * u(rng));  // ties, as a model's rounded sigmas have
    }
    return s;
}

std::string eval_csv_number(double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

}  // namespace

TEST_CASE("evaluate_rrlyrae_streamed gives evaluate_rrlyrae's JSON bit for bit; selection is exact", "[cli]") {
    using ferrum::models::rrl_scored_star;
    for (const bool label_errors : {true, false}) {
        auto stars = eval_random_stars(701, 7);
        if (!label_errors) stars[3].label_sigma = 0;                // one star without a label error: unweighted forms
        stars[5].sigma = std::numeric_limits<double>::quiet_NaN();  // a group without sigmas everywhere
        const auto streamed = ferrum::models::evaluate_rrlyrae_streamed(
            [&](auto&& visit) {
            for (const auto& x : stars) visit(x);
            },
            4);
        CHECK(streamed.dump() == ferrum::models::evaluate_rrlyrae(stars, 4).dump());
    }
    // ranks in several groups, candidates held at most 3 at a time: histogram passes down to the last bits
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<std::pair<std::size_t, double>> values;
    for (int i = 0; i < 5000; ++i) values.emplace_back(std::size_t(i % 3), i % 7 == 0 ? 0.25 : g(rng) * 1e3);
    values.emplace_back(0, -0.0);
    std::vector<std::vector<double>> by_group(3);
    for (const auto& [k, v] : values) by_group[k].push_back(v);
    std::vector<std::uint64_t> rank, count;
    for (const auto& v : by_group) count.push_back(v.size()), rank.push_back(v.size() / 3);
    rank[2] = std::numeric_limits<std::uint64_t>::max();  // skipped
    const auto got = ferrum::streamed_kth_smallest(
        rank, count,
        [&](auto&& visit) {
        for (const auto& [k, v] : values) visit(k, v);
        },
        3);
    for (std::size_t k = 0; k < 2; ++k) {
        auto v = by_group[k];
        std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(rank[k]), v.end());
        CHECK(got[k] == v[rank[k]]);
    }
    CHECK(std::isnan(got[2]));
}

TEST_CASE("external_sorter and sorted_lookup: runs of a few records, merged in several rounds", "[cli]") {
    const fs::path dir = fresh_dir("ferrum_rrl_cli_external_sort");
    ferrum::external_sort_options o;
    o.run_bytes = 200;  // two or three records a run
    o.fan_in = 3;       // merged in rounds
    o.directory = dir;
    std::mt19937_64 rng(11);
    std::vector<std::pair<std::string, int>> rows;
    for (int i = 0; i < 400; ++i) rows.emplace_back("k" + std::to_string(rng() % 300), i);
    {
        ferrum::external_sorter<int> s(o);
        for (const auto& [k, v] : rows) s.push(k, v);
        CHECK(s.spilled());
        auto expected = rows;
        std::stable_sort(expected.begin(), expected.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (int pass = 0; pass < 2; ++pass) {  // read twice
            auto in = s.stream();
            std::size_t i = 0;
            bool same = true;
            while (const auto* r = in.next())
                same = same && i < expected.size() && r->key == expected[i].first && r->value == expected[i].second &&
                       r->seq == std::uint64_t(r->value),
                ++i;
            CHECK(same);
            CHECK(i == rows.size());
        }
        // the first row (in push order) whose key an earlier row has
        std::set<std::string> seen;
        int first_repeat = -1;
        for (const auto& [k, v] : rows)
            if (!seen.insert(k).second) {
                first_repeat = v;
                break;
            }
        const auto rep = ferrum::first_repeated_key(s);
        REQUIRE(rep);
        CHECK(rep->value == first_repeat);
        CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) > 0);
    }
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 0);  // temporaries removed

    ferrum::sorted_lookup<int, int> join(o);
    for (int i = 0; i < 150; ++i) join.add_build("k" + std::to_string(2 * i), 1000 + i);  // even keys
    for (int i = 0; i < 300; ++i) join.add_probe("k" + std::to_string((i * 37) % 300), i);
    CHECK_FALSE(join.repeated_build_key());
    auto res = join.results();
    int i = 0;
    bool ok = true;
    while (const auto* r = res.next()) {
        const int key = (i * 37) % 300;
        ok = ok && r->probe == i && r->found == (key % 2 == 0) && (!r->found || r->build == 1000 + key / 2);
        ++i;
    }
    CHECK(ok);
    CHECK(i == 300);
    fs::remove_all(dir);
}

TEST_CASE("ferrum-rrl evaluate joins through temporary files: the in-memory JSON, the same errors, nothing left",
          "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_evaluate_external");
    const std::string d = dir.string();
    fs::create_directories(dir / "tmp");
    auto stars = eval_random_stars(420, 5);
    // labels in another order than the predictions, with stars no prediction has; predictions with stars no label
    // has and flagged (empty feh) stars
    std::vector<std::size_t> order(stars.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(9));
    {
        std::ofstream l(dir / "labels.csv");
        l << "source_id,feh,feh_error,mean_g_true,blazhko_period\n";
        for (std::size_t i : order)
            if (i % 10 != 1)
                l << 1000 + i << "," << eval_csv_number(stars[i].truth) << "," << eval_csv_number(stars[i].label_sigma)
                  << "," << eval_csv_number(stars[i].mean_g) << "," << (stars[i].blazhko ? "0.5" : "0") << "\n";
        for (int i = 0; i < 30; ++i) l << 5000 + i << ",-1.5,0.2,17,0\n";
        std::ofstream p(dir / "pred.csv");
        p << "source_id,type,feh,feh_sigma,n_epochs\n";
        for (std::size_t i = 0; i < stars.size(); ++i) {
            const auto& x = stars[i];
            const bool flagged = i % 10 == 3;
            p << 1000 + i << "," << (x.type == ferrum::rr_type::rrab ? "RRab" : "RRc") << ","
              << (flagged ? "" : eval_csv_number(x.feh)) << "," << eval_csv_number(x.sigma) << "," << x.n_epochs
              << "\n";
        }
    }
    // the oracle: the in-memory evaluate_rrlyrae on the stars that have a label and a prediction, in file order
    std::vector<ferrum::models::rrl_scored_star> scored;
    std::size_t unpredicted = 0, unlabelled = 0;
    for (std::size_t i = 0; i < stars.size(); ++i) {
        if (i % 10 == 3) ++unpredicted;
        else if (i % 10 == 1) ++unlabelled;
        else scored.push_back(stars[i]);
    }
    auto expected = ferrum::models::evaluate_rrlyrae(scored, unpredicted);
    expected["n_without_label"] = unlabelled;

    const std::string args = "evaluate --predictions " + d + "/pred.csv --labels " + d + "/labels.csv";
    const auto in_memory = ferrum_test::run_program(exe(), args, dir, "TMPDIR=" + d + "/tmp ");
    REQUIRE(in_memory.status == 0);
    CHECK(nlohmann::json::parse(in_memory.out) == expected);
    for (const char* run_bytes : {"100", "2000"}) {
        const auto external = ferrum_test::run_program(
            exe(), args, dir, "TMPDIR=" + d + "/tmp FERRUM_EVALUATE_RUN_BYTES=" + run_bytes + " ");
        REQUIRE(external.status == 0);
        CHECK(external.out == in_memory.out);
        CHECK(fs::is_empty(dir / "tmp"));
    }

    // errors: the first by line, as the in-memory join gave it, and no temporary left behind
    const auto external_error = [&](const std::string& a) {
        const auto r = ferrum_test::run_program(exe(), a, dir, "TMPDIR=" + d + "/tmp FERRUM_EVALUATE_RUN_BYTES=100 ");
        CHECK(r.status == 1);
        CHECK(fs::is_empty(dir / "tmp"));
        return r.err;
    };
    {
        const std::string labels = slurp(dir / "labels.csv");
        std::istringstream in(labels);
        std::vector<std::string> lines;
        for (std::string s; std::getline(in, s);) lines.push_back(s);
        auto dup = lines;
        dup[200] = lines[3].substr(0, lines[3].find(',')) + ",-1,0.1,15,0";  // line 201 repeats line 4's source
        dup[300] = "1,-1,bad,15,0";                                          // and line 301 is not a number
        std::ofstream o(dir / "labels_dup.csv");
        for (const auto& s : dup) o << s << "\n";
    }
    CHECK_THAT(external_error("evaluate --predictions " + d + "/pred.csv --labels " + d + "/labels_dup.csv"),
               Catch::Contains("labels_dup.csv:201: field 'source_id'") && Catch::Contains("appears twice"));
    {
        std::ofstream o(dir / "pred_bad.csv");
        std::istringstream in(slurp(dir / "pred.csv"));
        std::size_t line = 0;
        for (std::string s; std::getline(in, s);) {
            ++line;
            if (line == 41) {  // a labelled star (source 1039) of no type
                const auto b = s.find(',') + 1;
                s.replace(b, s.find(',', b) - b, "RRx");
            }
            if (line == 300) s = "x,RRab,-1,0.1,many";  // n_epochs not an integer
            o << s << "\n";
        }
    }
    CHECK_THAT(external_error("evaluate --predictions " + d + "/pred_bad.csv --labels " + d + "/labels.csv"),
               Catch::Contains("pred_bad.csv:41: field 'type'"));
    fs::remove_all(dir);
}

TEST_CASE("ferrum-rrl evaluate --plots on more stars than a scatter plot holds: densities in bounded memory, the "
          "same metrics, well-formed SVG",
          "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_evaluate_density");
    const std::string d = dir.string();
    fs::create_directories(dir / "tmp");
    const auto stars = eval_random_stars(6000, 21);  // beyond the 5,000 points a scatter plot draws
    {
        std::ofstream l(dir / "labels.csv"), p(dir / "pred.csv");
        l << "source_id,feh,feh_error\n";
        p << "source_id,type,feh,feh_sigma,n_epochs\n";
        for (std::size_t i = 0; i < stars.size(); ++i) {
            const auto& x = stars[i];
            l << 1000 + i << "," << eval_csv_number(x.truth) << "," << eval_csv_number(x.label_sigma) << "\n";
            p << 1000 + i << "," << (x.type == ferrum::rr_type::rrab ? "RRab" : "RRc") << "," << eval_csv_number(x.feh)
              << "," << eval_csv_number(x.sigma) << "," << x.n_epochs << "\n";
        }
    }
    const std::string args = "evaluate --predictions " + d + "/pred.csv --labels " + d + "/labels.csv";
    const std::string env = "TMPDIR=" + d + "/tmp FERRUM_EVALUATE_RUN_BYTES=2000 ";  // the stars from a file
    const auto plain = ferrum_test::run_program(exe(), args, dir, env);
    const auto plotted = ferrum_test::run_program(exe(), args + " --plots " + d + "/plots", dir, env);
    REQUIRE(plain.status == 0);
    REQUIRE(plotted.status == 0);
    auto j = nlohmann::json::parse(plotted.out);
    CHECK(j["plots"].size() == 3);
    j.erase("plots");
    CHECK(j == nlohmann::json::parse(plain.out));  // the plots change nothing in the metrics
    CHECK(fs::is_empty(dir / "tmp"));
    for (const char* f : {"pred_vs_true.svg", "residual_vs_epochs.svg", "reliability.svg"}) {
        INFO(f);
        const std::string svg = slurp(dir / "plots" / f);
        CHECK(ferrum_test::xml_well_formedness_error(svg) == "");
        CHECK((svg.find("<circle") == std::string::npos) == (f != std::string("reliability.svg")));  // no star's own point
    }
    // every star in one cell of each density (a cell's count is its <title>)
    for (const char* f : {"pred_vs_true.svg", "residual_vs_epochs.svg"}) {
        INFO(f);
        const std::string svg = slurp(dir / "plots" / f);
        std::uint64_t sum = 0;
        for (std::size_t at = svg.find("<title>"); at != std::string::npos; at = svg.find("<title>", at + 1))
            sum += std::stoull(svg.substr(at + 7));
        CHECK(sum == stars.size());
    }
    fs::remove_all(dir);
}

namespace {

/// The comma-separated fields of a line (the simulated tables quote nothing).
std::vector<std::string> join_fields(const std::string& line) {
    std::vector<std::string> f;
    std::string cur;
    for (char c : line) {
        if (c == ',') f.push_back(cur), cur.clear();
        else cur += c;
    }
    f.push_back(cur);
    return f;
}

std::string join_line(const std::vector<std::string>& f) {
    std::string s;
    for (std::size_t i = 0; i < f.size(); ++i) s += (i ? "," : "") + f[i];
    return s;
}

/// The entries of `dir` named like the temporary files of an external sort.
std::size_t sort_temporaries(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(".ferrum-sort-", 0) == 0;
    return n;
}

}  // namespace

TEST_CASE("ferrum-rrl predict joins a catalogue and --stars of any size on disk: the in-memory rows, the same "
          "errors, nothing left (issue #13)",
          "[cli][stream]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_catalogue_join");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 14 --n-rrc 7 --seed 3 --quiet --out " + d + "/set", dir).status == 0);
    std::vector<std::string> lines;
    {
        std::istringstream in(slurp(dir / "set" / "vari_rrlyrae.csv"));
        for (std::string s; std::getline(in, s);) lines.push_back(s);
    }
    const auto header = join_fields(lines[0]);
    const auto col = [&](const std::string& name) {
        return std::size_t(std::find(header.begin(), header.end(), name) - header.begin());
    };
    REQUIRE(col("epoch_g") < header.size());
    // the catalogue: star 2 of an unknown type, star 3 without epoch_g, star 4 absent, and 3,000 stars the epoch
    // photometry lacks; shuffled and split into two files
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> ids;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        auto f = join_fields(lines[i]);
        ids.push_back(f[0]);
        if (i == 3) f[col("best_classification")] = "RRx";
        if (i == 4) f[col("epoch_g")] = "";
        if (i != 5) rows.push_back(f);
    }
    for (int k = 0; k < 3000; ++k) {
        auto f = rows[std::size_t(k) % 10];
        f[0] = std::to_string(1000000 + 7 * k);
        rows.push_back(f);
    }
    std::shuffle(rows.begin(), rows.end(), std::mt19937_64(11));
    const auto write_catalogues = [&](const std::vector<std::vector<std::string>>& r, const std::string& stem) {
        std::ofstream a(dir / (stem + "1.csv")), b(dir / (stem + "2.csv"));
        a << lines[0] << "\n";
        b << lines[0] << "\n";
        for (std::size_t i = 0; i < r.size(); ++i) (i < 1200 ? a : b) << join_line(r[i]) << "\n";
    };
    write_catalogues(rows, "cat");
    fs::create_directories(dir / "out");
    const std::string photometry = "predict --epoch-photometry " + d + "/set/epoch_photometry.csv --mc-samples 0 ";
    const auto predict = [&](const std::string& catalogue, const std::string& run_bytes) {
        const std::string env = run_bytes.empty() ? "" : "FERRUM_PREDICT_RUN_BYTES=" + run_bytes + " ";
        const auto r = ferrum_test::run_program(exe(), photometry + catalogue + " --batch 4 --out " + d + "/out/p.csv",
                                                dir, env);
        CHECK(sort_temporaries(dir / "out") == 0);
        return r;
    };
    const std::string cat = "--catalogue " + d + "/cat1.csv --catalogue " + d + "/cat2.csv";
    const auto in_memory = predict(cat, "");
    REQUIRE(in_memory.status == 0);
    const std::string expected = slurp(dir / "out" / "p.csv");
    // the flags the catalogue's edits call for, each on its star's row
    CHECK_THAT(expected, Catch::Contains(ids[2] + ",unknown,,,") &&
                             Catch::Contains("unknown_type: best_classification 'RRx' is not RRab; RRc or RRd") &&
                             Catch::Contains("no_period: epoch_g is missing") &&
                             Catch::Contains(ids[4] + ",unknown,,,") && Catch::Contains("not_in_catalogue"));
    CHECK(std::count(expected.begin(), expected.end(), '\n') == std::ptrdiff_t(ids.size() + 1));
    for (const char* run_bytes : {"64", "3000"}) {  // a run of one record, and runs of a few dozen
        const auto external = predict(cat, run_bytes);
        REQUIRE(external.status == 0);
        CHECK(slurp(dir / "out" / "p.csv") == expected);
    }

    // errors on the disk path: the one the in-memory reader gives, naming file, line and field
    const auto same_error = [&](const std::string& catalogue, const std::string& what) {
        fs::remove(dir / "out" / "p.csv");
        const auto memory = predict(catalogue, "");
        const auto disk = predict(catalogue, "100");
        CHECK(memory.status == 1);
        CHECK(disk.status == 1);
        CHECK(disk.err == memory.err);
        CHECK_THAT(disk.err, Catch::Contains(what));
        CHECK_FALSE(fs::exists(dir / "out" / "p.csv"));
    };
    auto dup = rows;
    dup[1500][0] = dup[40][0];  // cat2.csv line 302 repeats cat1.csv line 42
    dup[1700][0] = dup[50][0];
    dup[1900][col("pf")] = "fast";  // and a bad row after both
    write_catalogues(dup, "dup");
    same_error("--catalogue " + d + "/dup1.csv --catalogue " + d + "/dup2.csv",
               "dup2.csv:302: field 'source_id': source_id " + dup[40][0] + " appears twice (first on line 42 of ");
    auto bad = dup;
    bad[1400][col("pf")] = "fast";  // a bad row before the repeats
    bad[1450].resize(4);            // and a short one
    write_catalogues(bad, "bad");
    same_error("--catalogue " + d + "/bad1.csv --catalogue " + d + "/bad2.csv", "bad2.csv:202: field 'pf'");

    // --stars: a repeated id takes its last row, an id the curves lack is ignored, a bad row is named
    const std::string lc = d + "/lc.csv";
    {
        std::ofstream o(lc);
        o << "id,time,mag,mag_err\n";
        std::istringstream in(slurp(dir / "set" / "epoch_photometry.csv"));
        std::string s;
        std::getline(in, s);
        const auto h = join_fields(s);
        const auto c = [&](const char* name) { return std::size_t(std::find(h.begin(), h.end(), name) - h.begin()); };
        while (std::getline(in, s)) {
            const auto f = join_fields(s);
            if (f[c("band")] == "G" && f[c("rejected_by_variability")] == "false" && !f[c("mag")].empty())
                o << f[c("source_id")] << "," << f[c("time")] << "," << f[c("mag")] << ",0.01\n";
        }
        std::ofstream t(dir / "stars.csv");
        t << "id,period,t0_mjd,type\n";
        for (std::size_t i = 1; i < lines.size(); ++i) {
            const auto f = join_fields(lines[i]);
            const bool ab = f[col("best_classification")] == "RRab";
            if (i == 7) t << f[0] << ",0.55,1.0,RRab\n";  // replaced by its second row below
            if (i != 2) t << f[0] << "," << f[col(ab ? "pf" : "p1_o")] << "," << f[col("epoch_g")] << ","
                          << f[col("best_classification")] << "\n";
            if (i == 9) t << f[0] << ",-1,1.0,RRab\n";  // its last row: no period
        }
        for (int k = 0; k < 3000; ++k) t << "x" << k << ",0.5,1.0,RRc\n";
    }
    const auto stars = [&](const std::string& table, const std::string& run_bytes) {
        const std::string env = run_bytes.empty() ? "" : "FERRUM_PREDICT_RUN_BYTES=" + run_bytes + " ";
        const auto r = ferrum_test::run_program(
            exe(), "predict --light-curves " + lc + " --stars " + table + " --mc-samples 0 --out " + d + "/out/s.csv",
            dir, env);
        CHECK(sort_temporaries(dir / "out") == 0);
        return r;
    };
    REQUIRE(stars(d + "/stars.csv", "").status == 0);
    const std::string expected_stars = slurp(dir / "out" / "s.csv");
    CHECK_THAT(expected_stars, Catch::Contains(ids[1] + ",unknown,,,") && Catch::Contains("not_in_catalogue") &&
                                   Catch::Contains(ids[8] + ",RRab,,,") &&
                                   Catch::Contains("no_period: period is not positive"));
    REQUIRE(stars(d + "/stars.csv", "64").status == 0);
    CHECK(slurp(dir / "out" / "s.csv") == expected_stars);
    {
        std::ofstream(dir / "stars_bad.csv") << slurp(dir / "stars.csv") << "y,0.5,soon,RRc\n";
    }
    const auto bad_stars = stars(d + "/stars_bad.csv", "64");
    CHECK(bad_stars.status == 1);
    CHECK_THAT(bad_stars.err, Catch::Contains("stars_bad.csv:" + std::to_string(lines.size() + 3002) +
                                              ": field 't0_mjd': not a number: 'soon'"));
    fs::remove_all(dir);
}

TEST_CASE("ferrum-rrl train and calibrate keep only the training stars' catalogue rows and labels: the model of the "
          "stars' own rows, the same errors, nothing left (issue #13)",
          "[cli][stream]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built: skipped");
        return;
    }
    const fs::path dir = fresh_dir("ferrum_rrl_cli_train_join");
    const std::string d = dir.string();
    REQUIRE(run("simulate --n-rrab 24 --n-rrc 20 --seed 5 --quiet --out " + d + "/set", dir).status == 0);
    const auto read_lines = [&](const fs::path& f) {
        std::vector<std::string> v;
        std::istringstream in(slurp(f));
        for (std::string s; std::getline(in, s);) v.push_back(s);
        return v;
    };
    const auto cat_lines = read_lines(dir / "set" / "vari_rrlyrae.csv");
    const auto label_lines = read_lines(dir / "set" / "labels.csv");
    // the catalogue and the labels of a survey: the set's rows and 3,000 stars without epoch photometry,
    // shuffled; the catalogue split into two files
    const auto with_extra = [&](const std::vector<std::string>& lines, std::uint64_t seed) {
        std::vector<std::vector<std::string>> rows;
        for (std::size_t i = 1; i < lines.size(); ++i) rows.push_back(join_fields(lines[i]));
        const std::size_t own = rows.size();
        for (int k = 0; k < 3000; ++k) {
            auto f = rows[std::size_t(k) % own];
            f[0] = std::to_string(1000000 + 7 * k);
            rows.push_back(f);
        }
        std::shuffle(rows.begin(), rows.end(), std::mt19937_64(seed));
        return rows;
    };
    const auto cat_rows = with_extra(cat_lines, 5), label_rows = with_extra(label_lines, 6);
    const auto write_catalogues = [&](const std::vector<std::vector<std::string>>& r, const std::string& stem) {
        std::ofstream a(dir / (stem + "1.csv")), b(dir / (stem + "2.csv"));
        a << cat_lines[0] << "\n";
        b << cat_lines[0] << "\n";
        for (std::size_t i = 0; i < r.size(); ++i) (i < 1500 ? a : b) << join_line(r[i]) << "\n";
    };
    const auto write_labels = [&](const std::vector<std::vector<std::string>>& r, const std::string& name) {
        std::ofstream o(dir / name);
        o << label_lines[0] << "\n";
        for (const auto& f : r) o << join_line(f) << "\n";
    };
    write_catalogues(cat_rows, "cat");
    write_labels(label_rows, "labels.csv");
    {
        std::ofstream c(dir / "cfg.json");
        c << R"({"architecture": "gru_fourier", "gru_sizes": [4], "dropout": [0.1], "max_epochs": 1,
                 "batch_size": 64, "folds": 2})";
    }
    fs::create_directories(dir / "out");
    const std::string photometry = "--epoch-photometry " + d + "/set/epoch_photometry.csv ";
    const std::string own = "--catalogue " + d + "/set/vari_rrlyrae.csv --labels " + d + "/set/labels.csv";
    const std::string big = "--catalogue " + d + "/cat1.csv --catalogue " + d + "/cat2.csv --labels " + d +
                            "/labels.csv";
    const auto command = [&](const std::string& what, const std::string& inputs, const std::string& out,
                             const std::string& run_bytes) {
        const std::string env = run_bytes.empty() ? "" : "FERRUM_PREDICT_RUN_BYTES=" + run_bytes + " ";
        const auto r = ferrum_test::run_program(exe(), what + " " + photometry + inputs + " --out " + d + "/out/" + out +
                                                           " --threads 1 --quiet",
                                                dir, env);
        CHECK(sort_temporaries(dir / "out") == 0);
        return r;
    };
    const std::string train = "train --config " + d + "/cfg.json --seed 3";
    // the oracle: the model trained on the set's own catalogue and labels, which hold no other star
    const auto reference = command(train, own, "ref.json", "");
    REQUIRE(reference.status == 0);
    const std::string expected = slurp(dir / "out" / "ref.json");
    const std::string expected_cv = slurp(dir / "out" / "ref.json.cv.json");
    for (const char* run_bytes : {"", "64", "3000"}) {  // in memory, a run of one record, runs of a few dozen
        const auto r = command(train, big, "big.json", run_bytes);
        REQUIRE(r.status == 0);
        CHECK(slurp(dir / "out" / "big.json") == expected);
        CHECK(slurp(dir / "out" / "big.json.cv.json") == expected_cv);
    }
    // calibrate reads its stars the same way: the same recalibrated model
    const std::string calibrate = "calibrate --model " + d + "/out/ref.json --mc-samples 0";
    REQUIRE(command(calibrate, own, "cal_ref.json", "").status == 0);
    REQUIRE(command(calibrate, big, "cal_big.json", "64").status == 0);
    CHECK(slurp(dir / "out" / "cal_big.json") == slurp(dir / "out" / "cal_ref.json"));

    // a repeated source_id anywhere in the catalogue or the labels is refused, naming its line, whether the ids
    // are sorted in memory or through temporary files; no model is written
    const auto refused = [&](const std::string& inputs, const std::string& what) {
        for (const char* run_bytes : {"", "64"}) {
            const auto r = command(train, inputs, "bad.json", run_bytes);
            CHECK(r.status == 1);
            CHECK_THAT(r.err, Catch::Contains(what));
            CHECK_FALSE(fs::exists(dir / "out" / "bad.json"));
        }
    };
    auto dup = cat_rows;
    dup[2500][0] = dup[1000][0];  // cat2.csv line 1002 repeats cat1.csv line 1002; neither star has a light curve
    write_catalogues(dup, "dup");
    refused("--catalogue " + d + "/dup1.csv --catalogue " + d + "/dup2.csv --labels " + d + "/labels.csv",
            "dup2.csv:1002: field 'source_id': source_id " + dup[1000][0] + " appears twice (first on line 1002 of ");
    auto dup_labels = label_rows;
    dup_labels[2900][0] = dup_labels[2000][0];
    dup_labels[2950][2] = "rich";  // a bad label after the repeat: the repeat is the error
    write_labels(dup_labels, "labels_dup.csv");
    refused("--catalogue " + d + "/cat1.csv --catalogue " + d + "/cat2.csv --labels " + d + "/labels_dup.csv",
            "labels_dup.csv:2902: field 'source_id': source " + dup_labels[2000][0] + " appears twice");
    auto bad_labels = dup_labels;
    bad_labels[2100][2] = "poor";  // a bad label before the repeat: its own error
    write_labels(bad_labels, "labels_bad.csv");
    refused("--catalogue " + d + "/cat1.csv --catalogue " + d + "/cat2.csv --labels " + d + "/labels_bad.csv",
            "labels_bad.csv:2102: field 'feh': not a number: 'poor'");
    fs::remove_all(dir);
}

TEST_CASE("sorted_key_index and index_sorted_groups: the lookups and the first repeat of a std::map read row by row",
          "[cli]") {
    const fs::path dir = fresh_dir("ferrum_rrl_cli_sorted_key_index");
    struct value {
        int row = 0;
    };
    std::mt19937_64 rng(17);
    std::vector<std::string> keys;  // 2,000 rows of 600 ids: many repeats, in random order
    for (int i = 0; i < 2000; ++i) keys.push_back("id" + std::to_string(rng() % 600));
    for (const std::size_t run_bytes : {std::size_t(64), std::size_t(5000), std::size_t(1) << 25}) {
        ferrum::external_sort_options o;
        o.run_bytes = run_bytes;
        o.fan_in = 3;
        o.directory = dir;
        for (const bool keep_last : {false, true}) {
            ferrum::external_sorter<value> sorter(o);
            std::map<std::string, int> first, last;
            int first_repeat = -1, repeat_of = -1;  // the oracle: the first row whose id an earlier row has
            for (int i = 0; i < int(keys.size()); ++i) {
                sorter.push(keys[std::size_t(i)], value{i});
                const auto found = first.find(keys[std::size_t(i)]);
                if (found != first.end() && first_repeat < 0) first_repeat = i, repeat_of = found->second;
                first.emplace(keys[std::size_t(i)], i);
                last[keys[std::size_t(i)]] = i;
            }
            ferrum::sorted_key_index<value> index(o);
            const auto repeat = ferrum::index_sorted_groups(sorter, &index, 0, keep_last);
            REQUIRE(repeat);
            CHECK(repeat->repeat.value.row == first_repeat);
            CHECK(repeat->first.value.row == repeat_of);
            CHECK(index.size() == first.size());
            CHECK(index.spilled() == (run_bytes < 100000));
            for (int k = 0; k < 650; ++k) {  // 600 ids, and some no row has
                const std::string id = "id" + std::to_string(k);
                const auto f = index.find(id);
                const auto& oracle = keep_last ? last : first;
                const auto it = oracle.find(id);
                REQUIRE(bool(f) == (it != oracle.end()));
                if (f) CHECK(f->value.row == it->second);
            }
            CHECK_FALSE(index.find("id"));
            CHECK_FALSE(index.find("zz"));
        }
        // keys with a payload after their first 3 bytes: a lookup compares the first 3 only
        ferrum::external_sorter<value> sorter(o);
        sorter.push("abcX", value{0});
        sorter.push("abc", value{1});
        sorter.push("abdY", value{2});
        ferrum::sorted_key_index<value> index(o, 3);
        const auto repeat = ferrum::index_sorted_groups(sorter, &index, 3, false);
        REQUIRE(repeat);
        CHECK(repeat->repeat.value.row == 1);
        REQUIRE(index.find("abc"));
        CHECK(index.find("abc")->key == "abcX");
        CHECK(index.find("abd")->value.row == 2);
        CHECK_FALSE(index.find("abe"));
    }
    CHECK(fs::is_empty(dir));
    fs::remove_all(dir);
}
