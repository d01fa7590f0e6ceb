// ferrum-rrl end to end on a tiny simulated set: simulate -> train (CV report) -> predict -> evaluate (plots),
// config files with unknown fields refused, bad input reported with file/line/field, flagged stars unpredicted.
// Finds the program through $FERRUM_RRL_EXE or next to this test (../tools/ferrum-rrl); skips if absent.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

std::string exe() {
    if (const char* e = std::getenv("FERRUM_RRL_EXE")) return e;
    const fs::path self = fs::read_symlink("/proc/self/exe");
    const fs::path p = self.parent_path().parent_path() / "tools" / "ferrum-rrl";
    return fs::exists(p) ? p.string() : std::string();
}

struct run_result {
    int status;
    std::string out, err;
};

run_result run(const std::string& args, const fs::path& dir) {
    const auto o = dir / "stdout.txt", e = dir / "stderr.txt";
    const std::string cmd = exe() + " " + args + " > " + o.string() + " 2> " + e.string();
    const int s = std::system(cmd.c_str());
    auto slurp = [](const fs::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    return {WIFEXITED(s) ? WEXITSTATUS(s) : -1, slurp(o), slurp(e)};
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("ferrum-rrl: simulate, train, predict, evaluate on a tiny set", "[cli]") {
    if (exe().empty()) {
        WARN("ferrum-rrl not built next to the tests and FERRUM_RRL_EXE unset: skipped");
        return;
    }
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_rrl_cli";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string d = dir.string();

    auto r = run("--help", dir);
    CHECK(r.status == 0);
    CHECK(r.out.find("ferrum-rrl train") != std::string::npos);

    r = run("simulate --n-rrab 150 --n-rrc 80 --seed 4 --min-epochs 30 --out " + d + "/set --quiet", dir);
    REQUIRE(r.status == 0);
    for (const char* f : {"epoch_photometry.csv", "vari_rrlyrae.csv", "labels.csv"}) CHECK(fs::exists(dir / "set" / f));
    const std::string in = "--epoch-photometry " + d + "/set/epoch_photometry.csv --catalogue " + d + "/set/vari_rrlyrae.csv";

    // a config with an unknown field is refused, naming the file and the field
    {
        std::ofstream c(dir / "bad.json");
        c << R"({"learning_rate": 0.01, "lerning_rate": 0.1})";
    }
    r = run("train " + in + " --labels " + d + "/set/labels.csv --out " + d + "/m.json --config " + d + "/bad.json --quiet", dir);
    CHECK(r.status == 1);
    CHECK(r.err.find("lerning_rate") != std::string::npos);
    CHECK(r.err.find("bad.json") != std::string::npos);
    CHECK(!fs::exists(dir / "m.json"));

    {
        std::ofstream c(dir / "cfg.json");
        c << R"({"architecture": "gru_fourier", "gru_sizes": [6, 6], "dropout": [0.1, 0.1], "max_epochs": 3,
                 "batch_size": 64, "folds": 3})";
    }
    r = run("train " + in + " --labels " + d + "/set/labels.csv --out " + d + "/m.json --config " + d + "/cfg.json", dir);
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
    fs::remove_all(dir);
}
