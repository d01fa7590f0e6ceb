// Numbers a user can trust or that say why not: the classical relation's sigma (against the errors Muraveva et
// al. 2025 published, and against the asymptotic phase errors of a Fourier fit), stars with impossible input
// flagged instead of predicted, and predictions outside a model's training domain carrying a warning.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include <ferrum/core/json_file.hpp>
#include <ferrum/models.hpp>
#include <ferrum/relations.hpp>
#include <ferrum/sim.hpp>

#include "reference.hpp"
#include "simulated_rrlyrae.hpp"

using namespace ferrum;
using namespace ferrum::models;

namespace {

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size() - 1) + 0.5))];
}

}  // namespace

TEST_CASE("the classical sigma reproduces the [Fe/H] errors Muraveva et al. (2025) published", "[rrlyrae]") {
    const std::string dir = ferrum_test::shared_data_dir();
    if (dir.empty()) {
        WARN("shared data not found: skipped");
        return;
    }
    const std::string path = dir + "/muraveva2025_lmc_gaiadr3/rrl_params.csv";
    for (const char* type : {"RRab", "RRc"}) {
        INFO(type);
        const auto t = ferrum::read_numeric_columns(
            path, {"Period", "Phi31", "Phi31_error", "A2", "A2_error", "[Fe/H]_error"}, {{"Type", type}});
        const rr_type rt = std::string(type) == "RRab" ? rr_type::rrab : rr_type::rrc;
        std::vector<double> rel;
        const auto& published = t["[Fe/H]_error"];
        for (std::size_t i = 0; i < published.size(); ++i) {
            relations::relation_inputs x;
            x.period = t["Period"][i];
            x.phi31 = t["Phi31"][i];
            x.a2 = t["A2"][i];
            x.sigma_phi31 = t["Phi31_error"][i];
            x.sigma_a2 = t["A2_error"][i];
            rel.push_back(std::abs(relations::feh_muraveva2025_sigma(rt, x) - published[i]) / published[i]);
        }
        REQUIRE(rel.size() > 800);
        // their propagation also holds the period error, which the table does not give: a few % apart
        CHECK(percentile(rel, 0.5) < 0.03);
        CHECK(percentile(rel, 0.99) < 0.08);
    }
}

TEST_CASE("the classical pipeline propagates the Fourier fit's phi31 error into its sigma", "[rrlyrae]") {
    // A noise-free curve with known errors s on n phases spread evenly: the asymptotic phase error of harmonic k
    // is s / (A_k sqrt(n/2)), and phi31 = phi_3 - 3 phi_1 adds them in quadrature (independent harmonics).
    const double P = 0.55, A1 = 0.3, A3 = 0.05, s = 0.01;
    const int n = 90;
    light_curve lc;
    lc.source_id = 7;
    for (int i = 0; i < n; ++i) {
        const double t = P * (50 * i + 0.6180339887 * i);  // golden-ratio phases: evenly spread, never repeated
        const double x = 2 * M_PI * t / P;
        lc.time.push_back(t);
        lc.mag.push_back(15 + A1 * std::cos(x + 0.4) + 0.1 * std::cos(2 * x + 2.0) + A3 * std::cos(3 * x + 1.3));
        lc.mag_err.push_back(s);
    }
    const auto in = prepare_rrlyrae_inputs({lc}, {{rr_type::rrab, P, 0.0, 0.0, {}}}, {}, 1, false);
    REQUIRE(in[0].ok());
    const auto p = classical_feh(in);
    REQUIRE(p[0].ok());
    const double phi31 = in[0].phi31_catalogue;
    const double coef2 = 0.292 * 0.292 + 0.311 * 0.311 * P * P + 0.091 * 0.091 * phi31 * phi31;
    const double fit_part = std::sqrt(p[0].sigma * p[0].sigma - coef2) / 0.94;
    const double h = std::sqrt(n / 2.0);
    const double expected = std::hypot(s / (A3 * h), 3 * s / (A1 * h));
    CHECK(fit_part == Approx(expected).epsilon(0.05));
}

TEST_CASE("stars with impossible input are flagged, not predicted", "[rrlyrae]") {
    auto set = ferrum_test::simulate_rrlyrae(5, rr_type::rrab, 11);
    set.eph[0].period = 1e-30;                        // a period no star has
    set.curves[1].mag[3] = -99.0;                     // a sentinel magnitude
    for (auto& e : set.curves[2].mag_err) e = 1e300;  // flux_over_error 1e-300: weights underflow
    set.curves[3].mag_err[0] = 0.0;                   // a zero error: an infinite weight
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, {}, 1, false);
    CHECK(in[0].flag.rfind("implausible_period", 0) == 0);
    CHECK(in[1].flag.rfind("implausible_magnitude", 0) == 0);
    CHECK(in[2].flag.rfind("implausible_errors", 0) == 0);
    CHECK(in[3].flag.rfind("implausible_errors", 0) == 0);
    CHECK(in[4].ok());
    const auto c = classical_feh(in);
    for (int i = 0; i < 4; ++i) CHECK(std::isnan(c[std::size_t(i)].feh));
    CHECK(std::isfinite(c[4].feh));
    CHECK(c[4].sigma > 0.29);  // never the 0 it used to print
}

TEST_CASE("a prediction outside the training domain keeps its number and says so", "[rrlyrae]") {
    auto set = ferrum_test::simulate_rrlyrae(80, rr_type::rrab, 21);
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, {}, 1, false);
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].ok()) idx.push_back(i);
    REQUIRE(idx.size() > 60);
    rrl_model_options mo;
    mo.architecture = rrl_architecture::fourier_linear;
    rrlyrae_model m(mo);
    m.fit(in, set.feh, idx, rrl_training_options{});
    const auto own = m.predict(in);
    std::size_t warned = 0;
    for (auto i : idx) warned += !own[i].warning.empty();
    CHECK(double(warned) < 0.05 * double(idx.size()));  // the training stars lie inside their own domain

    std::vector<rrl_star_input> odd{in[idx[0]]};
    odd[0].features[0] = 100.0;  // a period of 100 d, far beyond the training set's 0.4-1 d
    const auto p = m.predict(odd);
    REQUIRE(p[0].ok());
    CHECK(std::isfinite(p[0].feh));
    CHECK(p[0].warning.rfind("outside_training_domain: period", 0) == 0);
    CHECK(p[0].flag_column() == p[0].warning);
}

TEST_CASE("one rule for RR Lyrae model files: unknown fields, versions and duplicate models are refused", "[rrlyrae]") {
    auto set = ferrum_test::simulate_rrlyrae(40, rr_type::rrab, 31);
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, {}, 1, false);
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].ok()) idx.push_back(i);
    rrl_model_options mo;
    mo.architecture = rrl_architecture::fourier_linear;
    mo.types = {rr_type::rrab};
    rrlyrae_model m(mo);
    m.fit(in, set.feh, idx, rrl_training_options{});
    const auto dir = std::filesystem::temp_directory_path();
    const std::string path = (dir / "ferrum_test_rrl_rules.json").string();
    const auto refused = [&](const nlohmann::json& j, const std::string& field) {
        INFO(field);
        { std::ofstream(path) << j.dump(); }
        try {
            load_rrlyrae_models(path);
            FAIL("loaded");
        } catch (const input_error& e) {
            CHECK_THAT(e.what(), Catch::Contains(path) && Catch::Contains(field));
        }
    };
    save_rrlyrae_models(path, {m});
    const auto good = read_json_file(path);
    CHECK(load_rrlyrae_models(path).size() == 1);
    auto j = good;
    j["bogus"] = 1;
    refused(j, "bogus");
    j = good;
    j["models"][0]["colour"] = "blue";
    refused(j, "colour");
    j = good;
    j["version"] = 99;
    refused(j, "version");
    j = good;
    j["models"][0]["version"] = 99;
    refused(j, "version");
    j = good;
    j["models"].push_back(good["models"][0]);  // two RRab models: the second would never run
    refused(j, "models[1]");
    j = good;
    j["models"] = nlohmann::json::array();
    refused(j, "models");
    std::filesystem::remove(path);
}
