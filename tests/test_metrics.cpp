// Regression metrics against scikit-learn (metrics.json); bias, robust scatter and binned residual
// statistics against hand-computed values.
#include <catch2/catch.hpp>

#include <ferrum/stats/binned_statistics.hpp>
#include <ferrum/stats/metrics.hpp>

#include <cmath>
#include <random>

#include "reference.hpp"

using ferrum_test::load_reference;
using ferrum_test::vec;

TEST_CASE("R2, RMSE and MAE equal scikit-learn, plain and sample-weighted", "[metrics]") {
    const auto ref = load_reference("metrics.json");
    const auto yt = vec(ref.at("y_true")), yp = vec(ref.at("y_pred")), w = vec(ref.at("w"));
    CHECK(ferrum::r2_score(yt, yp) == Approx(ref.at("r2").get<double>()).epsilon(1e-9));
    CHECK(ferrum::rmse(yt, yp) == Approx(ref.at("rmse").get<double>()).epsilon(1e-9));
    CHECK(ferrum::mae(yt, yp) == Approx(ref.at("mae").get<double>()).epsilon(1e-9));
    CHECK(ferrum::r2_score(yt, yp, w) == Approx(ref.at("wr2").get<double>()).epsilon(1e-9));
    CHECK(ferrum::rmse(yt, yp, w) == Approx(ref.at("wrmse").get<double>()).epsilon(1e-9));
    CHECK(ferrum::mae(yt, yp, w) == Approx(ref.at("wmae").get<double>()).epsilon(1e-9));
    const auto all = ferrum::evaluate_regression(yt, yp, w);
    CHECK(all.r2 == Approx(ref.at("wr2").get<double>()).epsilon(1e-9));
    CHECK(all.rmse == Approx(ref.at("wrmse").get<double>()).epsilon(1e-9));
}

TEST_CASE("metrics on a hand-computed weighted example", "[metrics]") {
    const std::vector<double> yt{1, 2, 3}, yp{1, 2, 5}, w{1, 1, 2};
    // weighted mean of y_true 9/4; residual sum of squares 2*4 = 8; total 1.5625 + 0.0625 + 2*0.5625 = 2.75
    CHECK(ferrum::r2_score(yt, yp, w) == Approx(1.0 - 8.0 / 2.75).epsilon(1e-15));
    CHECK(ferrum::mean_squared_error(yt, yp, w) == Approx(2.0).epsilon(1e-15));
    CHECK(ferrum::mae(yt, yp, w) == Approx(1.0).epsilon(1e-15));
    CHECK(ferrum::bias(yt, yp, w) == Approx(1.0).epsilon(1e-15));
    CHECK(ferrum::bias(yt, yp) == Approx(2.0 / 3.0).epsilon(1e-15));
    // sklearn's force_finite: constant truth -> 1 for a perfect fit, 0 otherwise
    CHECK(ferrum::r2_score({2, 2}, {2, 2}) == 1.0);
    CHECK(ferrum::r2_score({2, 2}, {2, 3}) == 0.0);
    // zero weights drop samples
    CHECK(ferrum::rmse({1, 2, 3}, {1, 2, 50}, {1, 1, 0}) == 0.0);
}

TEST_CASE("robust scatter is 1.4826 MAD and ignores outliers", "[metrics]") {
    // residuals {1,2,3,4,100}: median 3, |r - 3| = {2,1,0,1,97}, median 1
    CHECK(ferrum::robust_scatter(std::vector<double>{1, 2, 3, 4, 100}) == Approx(1.4826).epsilon(1e-15));
    CHECK(ferrum::robust_scatter({0, 0, 0, 0, 0}, {1, 2, 3, 4, 100}) == Approx(1.4826).epsilon(1e-15));
    CHECK(ferrum::median({4, 1, 3, 2}) == 2.5);
    // for Gaussian residuals it estimates sigma: standard error ~ 1.17 sigma / sqrt(n) = 0.006 at n = 40000
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g(0.0, 0.2);
    std::vector<double> r(40000);
    for (double& v : r) v = g(rng);
    CHECK(ferrum::robust_scatter(r) == Approx(0.2).epsilon(0.04));
}

TEST_CASE("metrics reject empty input, size mismatch and bad weights", "[metrics]") {
    using ferrum::value_error;
    CHECK_THROWS_AS(ferrum::rmse({}, {}), value_error);
    CHECK_THROWS_AS(ferrum::mae({1, 2}, {1}), value_error);
    CHECK_THROWS_AS(ferrum::r2_score({1, 2}, {1, 2}, {1}), value_error);
    CHECK_THROWS_AS(ferrum::r2_score({1, 2}, {1, 2}, {1, -1}), value_error);
    CHECK_THROWS_AS(ferrum::rmse({1, 2}, {1, 2}, {0, 0}), value_error);
    CHECK_THROWS_AS(ferrum::r2_score({1}, {1}), value_error);
    CHECK_THROWS_AS(ferrum::bias({1, NAN}, {1, 2}), value_error);
    CHECK_THROWS_AS(ferrum::robust_scatter(std::vector<double>{}), value_error);
    CHECK_THROWS_AS(ferrum::median({}), value_error);
}

TEST_CASE("binned statistics with given edges", "[metrics][binned]") {
    // edges [-1,0) [0,1) [1,2) [2,3]; x = 3.5 lies outside and is left out; x = 3 is in the closed last bin
    const std::vector<double> x{0.5, 1.5, 1.7, 1.2, 3.0, 3.5}, v{1.0, 2.0, 4.0, 9.0, -7.0, 100.0};
    const auto b = ferrum::binned_statistics(x, v, {-1, 0, 1, 2, 3});
    REQUIRE(b.size() == 4);
    CHECK_FALSE(b[0].has_data());
    CHECK(std::isnan(b[0].mean));
    CHECK(b[1].count == 1);
    CHECK(b[1].mean == 1.0);
    CHECK(b[1].std == 0.0);
    CHECK(b[2].lo == 1.0);
    CHECK(b[2].hi == 2.0);
    CHECK(b[2].count == 3);
    CHECK(b[2].mean == Approx(5.0).epsilon(1e-15));
    CHECK(b[2].median == 4.0);
    CHECK(b[2].std == Approx(std::sqrt(26.0 / 3.0)).epsilon(1e-15));    // population std
    CHECK(b[2].robust_scatter == Approx(1.4826 * 2.0).epsilon(1e-15));  // |v - 4| = {2, 0, 5}
    CHECK(b[3].count == 1);
    CHECK(b[3].median == -7.0);
}

TEST_CASE("quantile bins follow numpy.quantile and merge ties", "[metrics][binned]") {
    // numpy.quantile(1..10, [0, .25, .5, .75, 1]) = [1, 3.25, 5.5, 7.75, 10]
    std::vector<double> x{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    CHECK(ferrum::quantile_edges(x, 4) == std::vector<double>{1, 3.25, 5.5, 7.75, 10});
    const auto b = ferrum::quantile_binned_statistics(x, x, 4);
    REQUIRE(b.size() == 4);
    CHECK(b[0].count == 3);  // 1, 2, 3
    CHECK(b[3].count == 3);  // 8, 9, 10 (last bin closed)
    std::size_t total = 0;
    for (const auto& s : b) total += s.count;
    CHECK(total == x.size());
    // integer epoch counts with heavy ties: repeated edges collapse into one
    const std::vector<double> epochs{20, 20, 20, 20, 20, 20, 21, 30, 40, 41};
    const auto e = ferrum::quantile_edges(epochs, 4);
    CHECK(e.front() == 20.0);
    CHECK(std::adjacent_find(e.begin(), e.end(), [](double a, double c) { return !(c > a); }) == e.end());
    CHECK_THROWS_AS(ferrum::quantile_edges({3, 3, 3}, 2), ferrum::value_error);
    CHECK_THROWS_AS(ferrum::binned_statistics({1, 2}, {1}, {0, 3}), ferrum::value_error);
    CHECK_THROWS_AS(ferrum::binned_statistics({1, 2}, {1, 2}, {3, 0}), ferrum::value_error);
    CHECK_THROWS_AS(ferrum::binned_statistics({}, {}, {0, 1}), ferrum::value_error);
}
