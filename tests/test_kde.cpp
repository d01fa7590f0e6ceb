// gaussian_kde against scipy.stats.gaussian_kde (kde.json), a 3-D brute-force oracle, and the fast
// 1-D path against the exact sum within its stated bound.
#include <catch2/catch.hpp>

#include <ferrum/stats/gaussian_kde.hpp>

#include <cmath>
#include <random>

#include <Eigen/LU>

#include "reference.hpp"

using ferrum_test::load_reference;
using ferrum_test::max_rel_error;
using ferrum_test::vec;

namespace {

xt::xtensor<double, 2> rows(const nlohmann::json& j) {
    const auto r = j.get<std::vector<std::vector<double>>>();
    xt::xtensor<double, 2> out({r.size(), r.at(0).size()});
    for (std::size_t k = 0; k < r.size(); ++k)
        for (std::size_t i = 0; i < r[k].size(); ++i) out(k, i) = r[k][i];
    return out;
}

ferrum::bandwidth bandwidth_of(const nlohmann::json& c) {
    const auto& b = c.at("bw_method");
    if (b.is_number()) return b.get<double>();
    if (b.get<std::string>() == "scott") return ferrum::bandwidth_rule::scott;
    if (b.get<std::string>() == "silverman") return ferrum::bandwidth_rule::silverman;
    FAIL("unknown bw_method " << b);
    return {};
}

}  // namespace

TEST_CASE("1-D gaussian_kde equals scipy for Scott, Silverman, a scalar factor and weights", "[kde]") {
    const auto ref = load_reference("kde.json");
    const auto data = vec(ref.at("data")), query = vec(ref.at("query")), wts = vec(ref.at("weights"));
    for (const auto& c : ref.at("cases")) {
        const bool weighted = c.value("weighted", false);
        INFO("bw_method " << c.at("bw_method") << (weighted ? " weighted" : ""));
        const ferrum::gaussian_kde kde(data, bandwidth_of(c), weighted ? wts : std::vector<double>{});
        CHECK(kde.factor() == Approx(c.at("factor").get<double>()).epsilon(1e-12));
        if (c.contains("neff")) CHECK(kde.neff() == Approx(c.at("neff").get<double>()).epsilon(1e-12));
        CHECK(max_rel_error(kde(query), vec(c.at("values"))) < 1e-9);
        CHECK(max_rel_error(kde(data), vec(c.at("at_data"))) < 1e-9);
    }
}

TEST_CASE("2-D gaussian_kde equals scipy", "[kde]") {
    const auto ref = load_reference("kde.json").at("kde2d");
    const ferrum::gaussian_kde kde(rows(ref.at("data")));
    CHECK(kde.dimension() == 2);
    CHECK(kde.factor() == Approx(ref.at("factor").get<double>()).epsilon(1e-12));
    CHECK(max_rel_error(kde(rows(ref.at("query"))), vec(ref.at("values"))) < 1e-9);
}

TEST_CASE("weighted 3-D gaussian_kde equals the textbook formula", "[kde]") {
    // Oracle written out independently: numpy.cov(aweights) with ddof=1, explicit inverse and determinant.
    std::mt19937_64 rng(7);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.1, 2.0);
    const std::size_t n = 60, d = 3;
    xt::xtensor<double, 2> x({d, n});
    std::vector<double> w(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double a = g(rng), b = g(rng), c = g(rng);
        x(0, i) = a;
        x(1, i) = 0.5 * a + b;
        x(2, i) = -0.3 * b + 2.0 * c + 1.0;
        w[i] = u(rng);
    }
    const ferrum::gaussian_kde kde(x, ferrum::bandwidth_rule::silverman, w);

    double sw = 0, sw2 = 0;
    for (double v : w) sw += v, sw2 += v * v;
    const double neff = sw * sw / sw2;
    CHECK(kde.neff() == Approx(neff).epsilon(1e-12));
    CHECK(kde.factor() == Approx(std::pow(neff * 5.0 / 4.0, -1.0 / 7.0)).epsilon(1e-12));
    Eigen::Vector3d mean = Eigen::Vector3d::Zero();
    for (std::size_t i = 0; i < n; ++i) mean += w[i] / sw * Eigen::Vector3d(x(0, i), x(1, i), x(2, i));
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
    for (std::size_t i = 0; i < n; ++i) {
        const Eigen::Vector3d r = Eigen::Vector3d(x(0, i), x(1, i), x(2, i)) - mean;
        cov += w[i] / sw * r * r.transpose();
    }
    cov /= 1.0 - sw2 / (sw * sw);
    cov *= kde.factor() * kde.factor();
    const auto kc = kde.covariance();
    for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t c = 0; c < 3; ++c) CHECK(kc(r, c) == Approx(cov(int(r), int(c))).epsilon(1e-12));

    const Eigen::Matrix3d inv = cov.inverse();
    const double norm = 1.0 / std::sqrt(std::pow(2 * 3.14159265358979323846, 3) * cov.determinant());
    xt::xtensor<double, 2> q({d, std::size_t(5)});
    for (std::size_t j = 0; j < 5; ++j)
        for (std::size_t k = 0; k < d; ++k) q(k, j) = 0.7 * g(rng);
    const auto got = kde(q);
    for (std::size_t j = 0; j < 5; ++j) {
        double want = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const Eigen::Vector3d r(q(0, j) - x(0, i), q(1, j) - x(1, i), q(2, j) - x(2, i));
            want += w[i] / sw * norm * std::exp(-0.5 * r.dot(inv * r));
        }
        CHECK(got[j] == Approx(want).epsilon(1e-12));
    }
}

TEST_CASE("fast 1-D evaluation stays within its stated bound", "[kde]") {
    std::mt19937_64 rng(2026);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.2, 1.0);
    std::vector<double> y, w;
    for (int i = 0; i < 3000; ++i) y.push_back(i % 5 == 0 ? 0.3 * g(rng) - 0.6 : 0.35 * g(rng) - 1.5);
    y.push_back(40.0);  // a far outlier: sparse boxes must not break the transform
    for (std::size_t i = 0; i < y.size(); ++i) w.push_back(u(rng));
    std::vector<double> q = y;
    for (int j = 0; j <= 200; ++j) q.push_back(-4.0 + 0.03 * j);

    for (const bool weighted : {false, true}) {
        const ferrum::gaussian_kde kde(y, ferrum::bandwidth_rule::scott, weighted ? w : std::vector<double>{});
        const auto exact = kde(q);
        for (const double tol : {1e-4, 1e-8, 1e-12}) {
            INFO("tolerance " << tol << (weighted ? " weighted" : ""));
            const auto fast = kde.evaluate_fast(q, tol);
            double worst = 0.0;
            for (std::size_t j = 0; j < q.size(); ++j) worst = std::max(worst, std::abs(fast[j] - exact[j]));
            // bound plus the rounding of two n-term sums (n eps relative to the peak)
            CHECK(worst <= (tol + 1e-13) * kde.kernel_peak());
        }
    }
}

TEST_CASE("fast 1-D evaluation handles samples spread over many empty boxes", "[kde]") {
    // 40 samples and one 10^5 bandwidths away: the box keys take the sparse (sorted) route.
    std::mt19937_64 rng(5);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> y;
    for (int i = 0; i < 40; ++i) y.push_back(g(rng));
    y.push_back(3e4);
    const ferrum::gaussian_kde kde(y, 0.01);
    std::vector<double> q = y;
    q.push_back(3e4 + 1.0);
    q.push_back(-1e300);  // far from every sample: exactly 0 within the bound
    const auto exact = kde(q), fast = kde.evaluate_fast(q, 1e-10);
    for (std::size_t j = 0; j < q.size(); ++j) CHECK(std::abs(fast[j] - exact[j]) <= 1.0001e-10 * kde.kernel_peak());
    CHECK(fast.back() == 0.0);
}

TEST_CASE("gaussian_kde rejects bad input with value_error", "[kde]") {
    using ferrum::value_error;
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{1.0}), value_error);
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{2.0, 2.0, 2.0}), value_error);  // singular
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{1.0, NAN, 3.0}), value_error);
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{1.0, 2.0}, 0.0), value_error);
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{1.0, 2.0}, {}, {1.0}), value_error);
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{1.0, 2.0}, {}, {1.0, -1.0}), value_error);
    CHECK_THROWS_AS(ferrum::gaussian_kde(std::vector<double>{1.0, 2.0}, {}, {0.0, 0.0}), value_error);
    xt::xtensor<double, 2> wide({std::size_t(3), std::size_t(2)});
    wide.fill(1.0);
    CHECK_THROWS_AS(ferrum::gaussian_kde(wide), value_error);  // d > n
    const ferrum::gaussian_kde k1(std::vector<double>{1.0, 2.0, 4.0});
    CHECK_THROWS_AS(k1(xt::xtensor<double, 2>({std::size_t(2), std::size_t(3)})), value_error);
    CHECK_THROWS_AS(k1.evaluate_fast({1.0}, 0.0), value_error);
    CHECK_THROWS_AS(k1(std::vector<double>{INFINITY}), value_error);
}
