// Linear-relation model files: round trip, the recorded phase convention, the self-check, unknown fields.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

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
    auto j = to_json(rel);
    j["colour"] = "red";
    write(j);
    try {
        load_linear_relation(path);
        FAIL("no exception");
    } catch (const input_error& e) {
        CHECK(e.field() == "colour");
        CHECK(e.file() == path);
    }
    j = to_json(rel);
    j["training"]["gpu"] = true;
    write(j);
    CHECK_THROWS_WITH(load_linear_relation(path), Catch::Contains("training.gpu"));
    j = to_json(rel);
    j["coefficients"][1] = rel.coefficients[1] + 1e-6;  // an edited coefficient fails the self-check
    write(j);
    CHECK_THROWS_WITH(load_linear_relation(path), Catch::Contains("check"));
    j = to_json(rel);
    j.erase("sigma_int");
    write(j);
    CHECK_THROWS_WITH(load_linear_relation(path), Catch::Contains("sigma_int"));
    j = to_json(rel);
    j["phase_convention"] = "tangent";
    write(j);
    CHECK_THROWS_AS(load_linear_relation(path), input_error);
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
    j["covariance"][1][1] = -j["covariance"][1][1].get<double>() - 1.0;  // a negative variance: sigma = sqrt(< 0)
    {
        std::ofstream out(path);
        out << j.dump();
    }
    CHECK_THROWS_WITH(load_linear_relation(path), Catch::Contains(path) && Catch::Contains("'covariance'") &&
                                                      Catch::Contains("positive semi-definite"));
    j = to_json(rel);
    j["covariance"][0][1] = j["covariance"][0][1].get<double>() + 1.0;  // no longer symmetric
    {
        std::ofstream out(path);
        out << j.dump();
    }
    CHECK_THROWS_WITH(load_linear_relation(path), Catch::Contains("'covariance'") && Catch::Contains("symmetric"));
    for (const char* doc : {"[]", "null"}) {
        std::ofstream(path) << doc;
        CHECK_THROWS_AS(load_linear_relation(path), input_error);
    }
    std::remove(path.c_str());
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
