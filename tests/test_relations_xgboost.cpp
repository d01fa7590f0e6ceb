// Gradient boosting through the XGBoost C API: compiled for real where ferrum::xgboost is linked
// (FERRUM_HAS_XGBOOST); elsewhere one test reports that it was skipped. Model files: the ferrum.model envelope
// (kind "gradient_boosting") with a self-test re-predicted at load, and files of format version 1 as earlier
// builds wrote them.
#include <catch2/catch.hpp>

#ifdef FERRUM_HAS_XGBOOST

#  include <algorithm>
#  include <cmath>
#  include <cstdio>
#  include <random>
#  include <string>
#  include <vector>

#  include "expect_error.hpp"
#  include "ferrum/core/json_file.hpp"
#  include "ferrum/relations/gradient_boosting.hpp"
#  include "ferrum/relations/linear_relation.hpp"

using namespace ferrum;

namespace {
// f(x1, x2) = sin(3 x1) + x2^2 on [-1, 1]^2: no linear model can follow it.
double truth(double x1, double x2) { return std::sin(3 * x1) + x2 * x2; }

struct sample {
    feature_table X;
    std::vector<double> y, f;
};

sample make(std::uint64_t seed, std::size_t n, double noise) {
    std::mt19937_64 rng(seed);
    sample s;
    std::vector<double> a(n), b(n);
    for (std::size_t i = 0; i < n; ++i) {
        a[i] = 2 * detail::uniform01(rng) - 1;
        b[i] = 2 * detail::uniform01(rng) - 1;
        s.f.push_back(truth(a[i], b[i]));
        s.y.push_back(s.f.back() + noise * detail::standard_normal(rng));
    }
    s.X.add("x1", a).add("x2", b);
    return s;
}
}  // namespace

TEST_CASE("boosted trees fit a nonlinear function better than a constant and than a linear relation",
          "[relations][xgboost]") {
    const auto train = make(1, 600, 0.05), test = make(2, 400, 0.0);
    const auto gb = fit_gradient_boosting(train.X, train.y);
    const auto pred = gb.predict(test.X);
    // Against the analytic truth on fresh points.
    const double rmse_gb = rmse(test.f, pred);
    double mean = 0;
    for (double v : train.y) mean += v / double(train.y.size());
    const double rmse_const = rmse(test.f, std::vector<double>(test.f.size(), mean));
    std::vector<double> err(train.y.size(), 0.05);
    const auto lin = fit_linear_relation(train.X, train.y, err);
    const double rmse_lin = rmse(test.f, lin.predict(test.X).value);
    INFO("RMSE: boosted " << rmse_gb << ", linear " << rmse_lin << ", constant " << rmse_const);
    CHECK(rmse_gb < 0.1);  // the truth's sd is ~0.8; 300 depth-3 trees get within ~0.05
    CHECK(rmse_gb < 0.25 * rmse_const);
    CHECK(rmse_gb < 0.5 * rmse_lin);
    CHECK(gb.evaluate(test.X, test.f).r2 > 0.98);
}

TEST_CASE("boosted model files round-trip and convert phases", "[relations][xgboost]") {
    const auto train = make(3, 200, 0.05);
    feature_table X;  // phases must lie in [0, 2 pi), where conversions wrap them
    std::vector<double> phi;
    for (double v : train.X.values[1]) phi.push_back(2.5 + v);
    X.add("P", train.X.values[0]).add("phi31", phi);
    gradient_boosting_options o;
    o.n_estimators = 50;
    const auto gb = fit_gradient_boosting(X, train.y, o);
    const std::string path = "test_relations_xgboost_model.json";
    gb.save(path, {{"table", "synthetic"}});
    const auto j = read_json_file(path);
    CHECK(j.at("format") == "ferrum.model");
    CHECK(j.at("version") == 2);
    CHECK(j.at("kind") == "gradient_boosting");
    CHECK(j.at("preprocessing") == nlohmann::json{{"features", {"P", "phi31"}}, {"phase_convention", "cosine"}});
    // five training rows, phi31 stored in the sine convention so the load re-runs the conversion
    CHECK(j.at("self_test").at("phase_convention") == "sine");
    REQUIRE(j.at("self_test").at("rows").size() == 5);
    CHECK(j.at("self_test").at("rows")[0][0] == X(0, 0));
    CHECK(j.at("self_test").at("rows")[0][1].get<double>() == Approx(phi31_cos_to_sin(X(0, 1))).epsilon(1e-15));
    const auto back = gradient_boosting::load(path);
    CHECK(back.predict(X) == gb.predict(X));
    CHECK(back.metadata().at("table") == "synthetic");
    // phi31 given in the sine convention (phi31^c - pi, mod 2 pi) predicts what the cosine value does.
    feature_table S;
    std::vector<double> sine;
    for (double v : X.values[1]) sine.push_back(phi31_cos_to_sin(v));
    S.add("P", X.values[0]).add("phi31", sine);
    const auto a = back.predict(S, phase_convention::sine), b = gb.predict(X);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-6));
    std::remove(path.c_str());
    CHECK_THROWS_AS(fit_gradient_boosting(X, {1.0, 2.0}), value_error);
}

namespace {
// The model file of format version 1, as gradient_boosting::save wrote it before the envelope (commit fd23dfc):
// {format "ferrum-gradient-boosting", version 1, features, phase_convention, booster (XGBoost's JSON)}.
nlohmann::json version_1_document(const gradient_boosting& m) {
    return {{"format", "ferrum-gradient-boosting"},
            {"version", 1},
            {"features", m.features()},
            {"phase_convention", to_string(m.convention())},
            {"booster", m.to_json().at("booster")}};
}
}  // namespace

TEST_CASE("boosted model files of format version 1 load and predict as the model that wrote them",
          "[relations][xgboost]") {
    const auto train = make(4, 150, 0.05);
    gradient_boosting_options o;
    o.n_estimators = 40;
    o.convention = phase_convention::sine;
    feature_table X;
    std::vector<double> phi;
    for (double v : train.X.values[1]) phi.push_back(4.0 + v);
    X.add("period", train.X.values[0]).add("phi_31", phi);
    const auto gb = fit_gradient_boosting(X, train.y, o);
    const auto v1 = version_1_document(gb);
    const auto old = gradient_boosting::from_json(v1, "v1.json");
    CHECK(old.convention() == phase_convention::sine);
    CHECK(old.features() == gb.features());
    CHECK(old.predict(X) == gb.predict(X));
    CHECK(old.metadata().empty());
    // saved again: version 2 with a self-test of fixed rows (a version-1 file has none), the same predictions
    const std::string path = "test_relations_xgboost_v1_resaved.json";
    old.save(path);
    const auto j = read_json_file(path);
    CHECK(j.at("kind") == "gradient_boosting");
    CHECK(j.at("self_test").at("rows").size() == 3);
    CHECK(j.at("self_test").at("phase_convention") == "cosine");
    const auto back = gradient_boosting::load(path);
    CHECK(back.predict(X) == gb.predict(X));
    std::remove(path.c_str());
    // version 1 keeps its rules: no unknown field, version 1 only, a booster XGBoost reads
    ferrum_test::expect_edits_refused(v1,
                                      {{"/extra", 1, "extra"},
                                       {"/version", 2, "version"},
                                       {"/booster", nlohmann::json::object(), "booster"},
                                       {"/features/2", "A2", "booster"}},  // the booster takes two
                                      "gb.json",
                                      [](const nlohmann::json& doc) { gradient_boosting::from_json(doc, "gb.json"); });
}

TEST_CASE("boosted model files are refused when edited, of another kind or version, or with unknown fields",
          "[relations][xgboost]") {
    const auto train = make(5, 150, 0.05);
    gradient_boosting_options o;
    o.n_estimators = 30;
    const auto gb = fit_gradient_boosting(train.X, train.y, o);
    const auto good = gb.to_json();
    CHECK(good.at("self_test").at("phase_convention") == "cosine");  // no phase feature: nothing to convert
    CHECK(gradient_boosting::from_json(good, "gb.json").predict(train.X) == gb.predict(train.X));
    // every prediction moves with the base score: an edited booster fails its self-test
    auto base = good["booster"]["learner"]["learner_model_param"]["base_score"]
                    .get<std::string>();  // "5E-1" (XGBoost 2: "[5E-1]")
    base.erase(std::remove_if(base.begin(), base.end(), [](char c) { return c == '[' || c == ']'; }), base.end());
    const auto& outputs = good.at("self_test").at("outputs");
    const double output3 = outputs[3][0].get<double>();
    // row 0 replaced by row 4 must predict otherwise, for the stored output to be wrong
    REQUIRE(std::abs(outputs[0][0].get<double>() - outputs[4][0].get<double>()) > 1e-3);
    using ferrum_test::removed;
    ferrum_test::expect_edits_refused(good,
                                      {{"/self_test/outputs/3/0", output3 + 1e-3, "self_test.outputs"},
                                       {"/booster/learner/learner_model_param/base_score",
                                        std::to_string(std::stod(base) + 0.5), "self_test.outputs"},
                                       {"/self_test/rows/0", good["self_test"]["rows"][4], "self_test.outputs"},
                                       {"/colour", "red", "colour"},
                                       {"/preprocessing/scaler", "none", "preprocessing.scaler"},
                                       {"/self_test/gpu", true, "self_test.gpu"},
                                       {"/kind", "linear_relation", "kind"},
                                       {"/version", 3, "version"},
                                       {"/self_test", removed, "self_test"},
                                       {"/metadata", "text", "metadata"}},
                                      "gb.json",
                                      [](const nlohmann::json& doc) { gradient_boosting::from_json(doc, "gb.json"); });
    CHECK_THROWS_AS(gradient_boosting::from_json(nlohmann::json::array(), "gb.json"), input_error);
}

#else

TEST_CASE("gradient boosting is not built without ferrum::xgboost", "[relations][xgboost]") {
    WARN("FERRUM_HAS_XGBOOST is not defined: link ferrum::xgboost to run the gradient-boosting tests");
}

#endif
