// Linear-relation model files: the ferrum.model envelope (kind "linear_relation"), round trip, the recorded
// phase convention, the self-test re-predicted at load, unknown fields, kinds and versions refused, and files
// of format version 1 (tests/data/relations/linear_relation_v1.json) loading with the predictions of the
// build that wrote them.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/relations/model_io.hpp"

using namespace ferrum;

namespace {
linear_relation fitted(fit_method method) {
    std::mt19937_64 rng(4);
    std::vector<double> P, phi, y, e;
    for (int i = 0; i < 80; ++i) {
        P.push_back(0.4 + 0.4 * detail::uniform01(rng));
        phi.push_back(1.5 + 2.0 * detail::uniform01(rng));
        y.push_back(-0.37 - 5.55 * P.back() + 0.94 * phi.back() + 0.2 * detail::standard_normal(rng));
        e.push_back(0.1);
    }
    feature_table X;
    X.add("P", P).add("phi31", phi, std::vector<double>(80, 0.05));
    linear_relation_options o;
    o.method = method;
    o.sampler.steps = 400;
    o.sampler.burn_in = 200;
    o.sampler.show_progress = false;
    return fit_linear_relation(X, y, e, o);
}
}  // namespace

TEST_CASE("a saved relation loads back equal and proves itself", "[relations][io]") {
    for (auto method : {fit_method::laplace, fit_method::mcmc}) {
        const auto rel = fitted(method);
        const std::string path = "test_relations_model.json";
        save_linear_relation(path, rel, {{"table", "synthetic"}});
        const auto j = read_json_file(path);
        CHECK(j.at("format") == "ferrum.model");
        CHECK(j.at("version") == 2);
        CHECK(j.at("kind") == "linear_relation");
        const nlohmann::json pre{{"target", "feh"}, {"features", {"P", "phi31"}}, {"phase_convention", "cosine"}};
        CHECK(j.at("preprocessing") == pre);
        CHECK(j.at("metadata").at("table") == "synthetic");
        // the self-test rows are stored in the other convention (the load re-runs the conversion) with errors
        CHECK(j.at("self_test").at("phase_convention") == "sine");
        CHECK(j.at("self_test").at("rows").size() == 3);
        CHECK(j.at("self_test").at("errors")[1] == nlohmann::json({0.1, 0.1}));
        const auto back = load_linear_relation(path);
        CHECK(back.features == rel.features);
        CHECK(back.coefficients == rel.coefficients);
        CHECK(back.covariance == rel.covariance);
        CHECK(back.sigma_int == rel.sigma_int);
        CHECK(back.convention == phase_convention::cosine);
        CHECK(back.method == method);
        CHECK(bool(back.mcmc) == (method == fit_method::mcmc));
        REQUIRE(back.intervals.size() == rel.intervals.size());
        CHECK(back.intervals[1][1].upper == rel.intervals[1][1].upper);
        std::remove(path.c_str());
    }
}

TEST_CASE("model files with unknown fields or broken numbers are input errors naming the field", "[relations][io]") {
    const auto rel = fitted(fit_method::laplace);
    const std::string path = "test_relations_bad_model.json";
    auto write = [&](const nlohmann::json& j) {
        std::ofstream out(path);
        out << j.dump();
    };
    const auto good = to_json(rel);
    write(good);
    CHECK(load_linear_relation(path).coefficients == rel.coefficients);
    const double sigma = good["self_test"]["outputs"][2][1].get<double>();
    using ferrum_test::removed;
    ferrum_test::expect_edits_refused(
        good,
        {{"/colour", "red", "colour"},
         {"/training/gpu", true, "training.gpu"},
         {"/parameters/coefficients/1", rel.coefficients[1] + 1e-6, "self_test.outputs"},  // an edited coefficient
         {"/self_test/outputs/2/1", sigma * (1 + 1e-9), "self_test.outputs"},              // an edited sigma
         // the rows are sine phases: read as cosine they predict otherwise (the conversion is tested)
         {"/self_test/phase_convention", "cosine", "self_test.outputs"},
         {"/self_test/tolerance", 1.0, "self_test.tolerance"},  // a tolerance that would pass anything
         {"/self_test/rows", nlohmann::json::array(), "self_test.rows"},
         {"/self_test/gpu", true, "self_test.gpu"},
         {"/self_test", removed, "self_test"},
         {"/parameters/sigma_int", removed, "parameters.sigma_int"},
         {"/parameters/coefficients/3", 0.0, "parameters.coefficients"},
         {"/preprocessing/phase_convention", "tangent", "preprocessing.phase_convention"},
         {"/preprocessing/features/1", "p", "preprocessing.features"},  // one feature twice (any case)
         {"/kind", "gradient_boosting", "kind"},                        // another model in the same envelope
         {"/version", 1, "version"},
         {"/version", 3, "version"},
         {"/version", "2", "version"},
         {"/format", "ferrum-relation", "format"},
         {"/metadata", "text", "metadata"}},
        path, [&](const nlohmann::json& doc) {
            write(doc);
            load_linear_relation(path);
        });
    {
        std::ofstream out(path);
        out << "{ not json";
    }
    CHECK_THROWS_AS(load_linear_relation(path), input_error);
    std::remove(path.c_str());
    CHECK_THROWS_AS(load_linear_relation("no/such/model.json"), io_error);
}

TEST_CASE("a covariance that is not positive semi-definite is refused at load (issue #13: no NaN sigma)",
          "[relations][io]") {
    const auto rel = fitted(fit_method::laplace);
    const std::string path = "test_relations_negative_covariance.json";
    auto j = to_json(rel);
    auto& cov = j["parameters"]["covariance"];
    cov[1][1] = -cov[1][1].get<double>() - 1.0;  // a negative variance: sigma = sqrt(< 0)
    {
        std::ofstream out(path);
        out << j.dump();
    }
    CHECK_THROWS_WITH(load_linear_relation(path), Catch::Contains(path) && Catch::Contains("'parameters.covariance'") &&
                                                      Catch::Contains("positive semi-definite"));
    j = to_json(rel);
    auto& cov2 = j["parameters"]["covariance"];
    cov2[0][1] = cov2[0][1].get<double>() + 1.0;  // no longer symmetric
    {
        std::ofstream out(path);
        out << j.dump();
    }
    CHECK_THROWS_WITH(load_linear_relation(path),
                      Catch::Contains("'parameters.covariance'") && Catch::Contains("symmetric"));
    for (const char* doc : {"[]", "null"}) {
        std::ofstream(path) << doc;
        CHECK_THROWS_AS(load_linear_relation(path), input_error);
    }
    std::remove(path.c_str());
}

TEST_CASE("a model file of format version 1 loads, predicts as the build that wrote it, and is saved as version 2",
          "[relations][io]") {
    // tests/data/relations/linear_relation_v1.json: written by save_linear_relation at commit fd23dfc (an MCMC
    // fit, sine phases, phi31 with errors); linear_relation_v1_predictions.json: that build's predictions of it
    // for four stars with feature errors, phases given in the sine and in the cosine convention.
    const std::string dir = std::string(FERRUM_TEST_DATA_DIR) + "/relations/";
    const auto v1 = read_json_file(dir + "linear_relation_v1.json");
    REQUIRE(v1.at("format") == "ferrum-linear-relation");
    const auto rel = load_linear_relation(dir + "linear_relation_v1.json");
    CHECK(rel.convention == phase_convention::sine);
    CHECK(rel.method == fit_method::mcmc);
    CHECK(bool(rel.mcmc));
    const auto b = v1.at("coefficients").get<std::vector<double>>();
    CHECK(rel.coefficients == b);

    const auto want = read_json_file(dir + "linear_relation_v1_predictions.json");
    const auto& ws = want.at("sine");
    auto col = [](const nlohmann::json& j) { return j.get<std::vector<double>>(); };
    feature_table S, C;
    S.add("P", col(ws["P"]), col(ws["P_err"])).add("phi31", col(ws["phi31"]), col(ws["phi31_err"]));
    S.add("A2", col(ws["A2"]), col(ws["A2_err"]));
    C.add("P", col(ws["P"]), col(ws["P_err"])).add("phi31", col(want["cosine"]["phi31"]), col(ws["phi31_err"]));
    C.add("A2", col(ws["A2"]), col(ws["A2_err"]));
    auto check = [&](const linear_relation& m) {
        const auto ps = m.predict(S, phase_convention::sine), pc = m.predict(C, phase_convention::cosine);
        REQUIRE(ps.value.size() == 4);
        for (std::size_t i = 0; i < 4; ++i) {
            CHECK(ps.value[i] == Approx(ws["value"][i].get<double>()).epsilon(1e-13));
            CHECK(ps.sigma[i] == Approx(ws["sigma"][i].get<double>()).epsilon(1e-13));
            CHECK(pc.value[i] == Approx(want["cosine"]["value"][i].get<double>()).epsilon(1e-13));
            CHECK(pc.sigma[i] == Approx(want["cosine"]["sigma"][i].get<double>()).epsilon(1e-13));
        }
        // and by hand from the file's coefficients (the model's convention is the table's: sine)
        CHECK(ps.value[1] == Approx(b[0] + b[1] * S(1, 0) + b[2] * S(1, 1) + b[3] * S(1, 2)).epsilon(1e-13));
    };
    check(rel);

    // saved again it is version 2, predicts the same, and keeps the metadata it is given
    const std::string path = "test_relations_v1_resaved.json";
    save_linear_relation(path, rel, v1.at("metadata"));
    const auto j = read_json_file(path);
    CHECK(j.at("format") == "ferrum.model");
    CHECK(j.at("kind") == "linear_relation");
    CHECK(j.at("metadata") == v1.at("metadata"));
    CHECK(j.at("preprocessing").at("phase_convention") == "sine");
    CHECK(j.at("self_test").at("phase_convention") == "cosine");
    const auto back = load_linear_relation(path);
    check(back);
    CHECK(back.predict(S).value == rel.predict(S).value);
    CHECK(back.predict(S).sigma == rel.predict(S).sigma);
    CHECK(back.covariance == rel.covariance);
    CHECK(back.intervals.size() == rel.intervals.size());
    std::remove(path.c_str());

    // a version-1 file is still held to its check vectors, its fields and its version
    using ferrum_test::removed;
    ferrum_test::expect_edits_refused(
        v1,
        {{"/coefficients/2", b[2] + 1e-6, "self_test.outputs"},
         {"/check/sigma/1", v1["check"]["sigma"][1].get<double>() + 1e-6, "self_test.outputs"},
         {"/colour", "red", "colour"},
         {"/version", 2, "version"},
         {"/training/gpu", true, "training.gpu"},
         {"/check", removed, "check"},
         {"/method", "least_squares", "training.method"}},
        "v1.json", [](const nlohmann::json& doc) { linear_relation_from_json(doc, "v1.json"); });
}

TEST_CASE("a model trained on cosine phases converts sine inputs", "[relations][io]") {
    auto rel = fitted(fit_method::laplace);
    feature_table cosine, sine;
    cosine.add("P", {0.5, 0.6}).add("phi31", {2.0, 3.5});
    sine.add("P", {0.5, 0.6}).add("phi31", {phi31_cos_to_sin(2.0), phi31_cos_to_sin(3.5)});
    const auto a = rel.predict(cosine, phase_convention::cosine), b = rel.predict(sine, phase_convention::sine);
    for (int i = 0; i < 2; ++i) CHECK(a.value[i] == Approx(b.value[i]).epsilon(1e-13));
    // and the sine-convention phi31 differs by pi
    CHECK(phi31_cos_to_sin(2.0) == Approx(2.0 + 3.14159265358979323846).epsilon(1e-15));
    CHECK(phase_harmonic("Phi31") == 3);
    CHECK(phase_harmonic("phi_21") == 2);
    CHECK(phase_harmonic("Period") == 0);
}
