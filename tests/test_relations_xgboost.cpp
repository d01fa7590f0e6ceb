// Gradient boosting through the XGBoost C API: compiled for real where ferrum::xgboost is linked
// (FERRUM_HAS_XGBOOST); elsewhere one test reports that it was skipped.
#include <catch2/catch.hpp>

#ifdef FERRUM_HAS_XGBOOST

#  include <cmath>
#  include <cstdio>
#  include <random>
#  include <string>
#  include <vector>

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
    gb.save(path);
    const auto back = gradient_boosting::load(path);
    CHECK(back.predict(X) == gb.predict(X));
    // phi31 given in the sine convention (phi31^c - pi, mod 2 pi) predicts what the cosine value does.
    feature_table S;
    std::vector<double> sine;
    for (double v : X.values[1]) sine.push_back(phi31_cos_to_sin(v));
    S.add("P", X.values[0]).add("phi31", sine);
    const auto a = back.predict(S, phase_convention::sine), b = gb.predict(X);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-6));
    {
        std::ofstream out(path);
        out << R"({"format": "ferrum-gradient-boosting", "version": 1, "features": [], "phase_convention": "cosine", "booster": {}, "extra": 1})";
    }
    CHECK_THROWS_AS(gradient_boosting::load(path), input_error);
    std::remove(path.c_str());
    CHECK_THROWS_AS(fit_gradient_boosting(X, {1.0, 2.0}), value_error);
}

#else

TEST_CASE("gradient boosting is not built without ferrum::xgboost", "[relations][xgboost]") {
    WARN("FERRUM_HAS_XGBOOST is not defined: link ferrum::xgboost to run the gradient-boosting tests");
}

#endif
