// Density weights against density_weights.json (SciPy KDE + the papers' formulas), the clipped variant and
// UA-CSNet's cost-sensitive weights against hand-computed examples.
#include <catch2/catch.hpp>

#include <ferrum/stats/cost_sensitive_weights.hpp>
#include <ferrum/stats/density_weights.hpp>

#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "reference.hpp"

using ferrum_test::load_reference;
using ferrum_test::max_rel_error;
using ferrum_test::vec;

TEST_CASE("inverse-density weights equal the paper's 1/rho normalised to N", "[weights]") {
    const auto ref = load_reference("density_weights.json");
    const auto y = vec(ref.at("y"));
    const auto w = ferrum::density_weights(y);
    CHECK(max_rel_error(w, vec(ref.at("inverse"))) < 1e-9);
    CHECK(std::accumulate(w.begin(), w.end(), 0.0) == Approx(double(y.size())).epsilon(1e-12));
}

TEST_CASE("DenseWeight equals Steininger et al.'s formula on the exact Scott KDE", "[weights]") {
    const auto ref = load_reference("density_weights.json");
    const auto y = vec(ref.at("y"));
    REQUIRE(!ref.at("denseweight").empty());
    for (const auto& [alpha, want] : ref.at("denseweight").items()) {
        INFO("alpha " << alpha);
        CHECK(max_rel_error(ferrum::denseweight_weights(y, std::stod(alpha)), vec(want)) < 1e-9);
    }
}

TEST_CASE("the fast KDE path gives the same weights within its bound", "[weights]") {
    const auto y = vec(load_reference("density_weights.json").at("y"));
    ferrum::density_options fast;
    fast.fast_tolerance = 1e-13;
    // |rho_fast - rho| <= 1e-13 peak and rho >= peak / n at a sample, so weights agree to ~2 n 1e-13.
    CHECK(max_rel_error(ferrum::density_weights(y, fast), ferrum::density_weights(y)) < 2e-13 * double(y.size()));
}

TEST_CASE("clipped 1/(rho sigma^2) weights on a hand-computed example", "[weights]") {
    // rho clipped at 0.25 -> {0.25, 0.5, 1, 2}; 1/(rho sigma^2) = {400, 50, 100, 200};
    // min-max to [0.01, 1]: 0.01 + 0.99 (w - 50) / 350.
    const auto w = ferrum::clipped_density_weights_from_density({0.1, 0.5, 1.0, 2.0}, {0.1, 0.2, 0.1, 0.05}, 0.25);
    REQUIRE(w.size() == 4);
    CHECK(w[0] == Approx(1.0).epsilon(1e-14));
    CHECK(w[1] == Approx(0.01).epsilon(1e-14));
    CHECK(w[2] == Approx(0.01 + 0.99 * 50.0 / 350.0).epsilon(1e-14));
    CHECK(w[3] == Approx(0.01 + 0.99 * 150.0 / 350.0).epsilon(1e-14));
    // equal raw weights have no range to scale: every sample gets the top weight
    CHECK(ferrum::clipped_density_weights_from_density({1.0, 4.0}, {0.2, 0.1}, 0.0) == std::vector<double>{1.0, 1.0});
    // from targets: two sparse outliers get the largest weight when all sigma are equal
    std::vector<double> y{-1.0, -1.02, -0.98, -1.01, -0.99, -1.0, 0.5}, s(y.size(), 0.1);
    const auto wy = ferrum::clipped_density_weights(y, s, 0.0);
    CHECK(wy.back() == Approx(1.0));
    CHECK(*std::min_element(wy.begin(), wy.end()) == Approx(0.01));
}

TEST_CASE("DenseWeight edge cases", "[weights]") {
    CHECK(ferrum::denseweight_from_density({1.0, 2.0, 3.0}, 0.0) == std::vector<double>{1.0, 1.0, 1.0});
    // alpha = 1: the densest sample hits epsilon; others 1 - rho_n; then divided by the mean
    const auto w = ferrum::denseweight_from_density({1.0, 2.0, 3.0}, 1.0, 1e-6);
    const double m = (1.0 + 0.5 + 1e-6) / 3.0;
    CHECK(w[0] == Approx(1.0 / m).epsilon(1e-14));
    CHECK(w[1] == Approx(0.5 / m).epsilon(1e-14));
    CHECK(w[2] == Approx(1e-6 / m).epsilon(1e-12));
}

TEST_CASE("density weights reject bad input", "[weights]") {
    using ferrum::value_error;
    CHECK_THROWS_AS(ferrum::density_weights({}), value_error);
    CHECK_THROWS_AS(ferrum::density_weights({1.0}), value_error);
    CHECK_THROWS_AS(ferrum::density_weights_from_density({1.0, 0.0}), value_error);
    CHECK_THROWS_AS(ferrum::denseweight_from_density({1.0, 2.0}, -1.0), value_error);
    CHECK_THROWS_AS(ferrum::clipped_density_weights_from_density({1.0, 2.0}, {0.1}, 0.1), value_error);
    CHECK_THROWS_AS(ferrum::clipped_density_weights_from_density({1.0, 2.0}, {0.1, 0.0}, 0.1), value_error);
}

TEST_CASE("cost-sensitive weights on a hand-built histogram", "[weights]") {
    // 2 x 2 bins over x in [0, 2], y in [0, 2]. x = 1 lies on the inner edge and goes right (numpy);
    // x = 2 and y = 2 lie on the outer edge and stay in the last bin.
    const std::vector<double> x{0.0, 0.5, 0.9, 0.2, 2.0, 1.0, 1.5};
    const std::vector<double> y{0.0, 0.9, 0.1, 0.5, 2.0, 0.0, 1.0};
    // cells: (0,0) x4, (1,1) x1 [x=2,y=2], (1,0) x1 [x=1,y=0], (1,1) [x=1.5,y=1] -> (1,1) has 2
    ferrum::cost_sensitive_options opt;
    opt.bins_x = 2;
    opt.bins_y = 2;
    const auto c = ferrum::cost_sensitive_weights(x, y, opt);
    const std::vector<double> want{1.0, 1.0, 1.0, 1.0, std::sqrt(2.0), 2.0, std::sqrt(2.0)};
    for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == Approx(want[i]).epsilon(1e-15));
    opt.gamma = 1.0;
    const auto c1 = ferrum::cost_sensitive_weights(x, y, opt);
    CHECK(c1[5] == Approx(4.0));
    CHECK(c1[4] == Approx(2.0));
}

TEST_CASE("cost-sensitive weights with the default 10 x 15 grid agree with a direct count", "[weights]") {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> g;
    std::vector<double> col, feh;
    for (int i = 0; i < 2000; ++i) col.push_back(0.9 + 0.15 * g(rng)), feh.push_back(-1.4 + 0.4 * g(rng));
    const auto c = ferrum::cost_sensitive_weights(col, feh);
    // not structured bindings: C++17 does not let a lambda capture them (clang refuses)
    const auto cx = std::minmax_element(col.begin(), col.end());
    const auto fy = std::minmax_element(feh.begin(), feh.end());
    auto cell = [&](std::size_t i) {
        const int a = std::min(9, int((col[i] - *cx.first) / (*cx.second - *cx.first) * 10));
        const int b = std::min(14, int((feh[i] - *fy.first) / (*fy.second - *fy.first) * 15));
        return a * 15 + b;
    };
    std::vector<int> count(150, 0);
    for (std::size_t i = 0; i < col.size(); ++i) ++count[std::size_t(cell(i))];
    const double fmax = *std::max_element(count.begin(), count.end());
    for (std::size_t i = 0; i < col.size(); ++i)
        CHECK(c[i] == Approx(std::pow(count[std::size_t(cell(i))] / fmax, -0.5)).epsilon(1e-14));
}

TEST_CASE("cost-sensitive weights reject bad input", "[weights]") {
    using ferrum::value_error;
    CHECK_THROWS_AS(ferrum::cost_sensitive_weights({}, {}), value_error);
    CHECK_THROWS_AS(ferrum::cost_sensitive_weights({1.0, 2.0}, {1.0}), value_error);
    CHECK_THROWS_AS(ferrum::cost_sensitive_weights({1.0, 1.0}, {1.0, 2.0}), value_error);  // empty x range
    CHECK_THROWS_AS(ferrum::cost_sensitive_weights({1.0, NAN}, {1.0, 2.0}), value_error);
    CHECK_THROWS_AS(ferrum::cost_sensitive_weights({1.0, 2.0}, {1.0, INFINITY}), value_error);
    ferrum::cost_sensitive_options bad;
    bad.bins_x = 0;
    CHECK_THROWS_AS(ferrum::cost_sensitive_weights({1.0, 2.0}, {1.0, 2.0}, bad), value_error);
}
