// Linear period-Fourier-[Fe/H] relations: analytic maximum-likelihood oracles, exact derivatives against
// finite differences, the Muraveva et al. (2025) relations recovered from the LMC table, and the coverage of
// the credible intervals on synthetic data with known coefficients and scatter.
#include <catch2/catch.hpp>
#include <Eigen/LU>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ferrum/relations/linear_relation.hpp"
#include "ferrum/relations/table_io.hpp"
#include "reference.hpp"

using namespace ferrum;

namespace {

double gauss(std::mt19937_64& rng) { return detail::standard_normal(rng); }

struct synthetic {
    feature_table X;
    std::vector<double> y, y_err;
};

// y = truth[0] + truth[1] x1 + truth[2] x2 + N(0, sigma_int^2) + N(0, y_err^2), observed features x_obs with
// errors ex. The true features are drawn *around the observed ones* (x_true = x_obs + N(0, ex^2)), for which
// the errors-in-variables likelihood is exact (it is the distribution of y given the observed x).
synthetic make_synthetic(std::uint64_t seed, std::size_t n, const std::vector<double>& truth, double sigma_int,
                         double ex) {
    std::mt19937_64 rng(seed);
    synthetic s;
    std::vector<double> x1(n), x2(n), e1(n, ex), e2(n, ex);
    for (std::size_t i = 0; i < n; ++i) {
        x1[i] = 0.3 + 0.4 * detail::uniform01(rng);
        x2[i] = 2.0 + 2.0 * detail::uniform01(rng);
        const double err = 0.05 + 0.1 * detail::uniform01(rng);
        const double t1 = x1[i] + ex * gauss(rng), t2 = x2[i] + ex * gauss(rng);
        s.y.push_back(truth[0] + truth[1] * t1 + truth[2] * t2 + sigma_int * gauss(rng) + err * gauss(rng));
        s.y_err.push_back(err);
    }
    s.X.add("P", x1, ex > 0 ? e1 : std::vector<double>{});
    s.X.add("phi31", x2, ex > 0 ? e2 : std::vector<double>{});
    return s;
}

}  // namespace

TEST_CASE("no feature errors and no scatter: the fit is weighted least squares", "[relations]") {
    const auto s = make_synthetic(7, 80, {-0.4, -5.5, 0.9}, 0.0, 0.0);
    linear_relation_options o;
    o.intrinsic_scatter = false;
    const auto rel = fit_linear_relation(s.X, s.y, s.y_err, o);
    // Oracle: (A^T W A)^-1 A^T W y and (A^T W A)^-1, solved by a different route (normal equations).
    Eigen::MatrixXd A(80, 3);
    Eigen::VectorXd y(80), w(80);
    for (int i = 0; i < 80; ++i) {
        A(i, 0) = 1, A(i, 1) = s.X(i, 0), A(i, 2) = s.X(i, 1);
        y[i] = s.y[i];
        w[i] = 1 / (s.y_err[i] * s.y_err[i]);
    }
    const Eigen::MatrixXd N = A.transpose() * w.asDiagonal() * A;
    const Eigen::VectorXd b = N.ldlt().solve(A.transpose() * w.asDiagonal() * y);
    const Eigen::MatrixXd C = N.inverse();
    for (int k = 0; k < 3; ++k) {
        CHECK(rel.coefficients[k] == Approx(b[k]).epsilon(1e-9));
        for (int l = 0; l < 3; ++l) CHECK(rel.covariance(k, l) == Approx(C(k, l)).epsilon(1e-7).margin(1e-12));
    }
    CHECK(rel.sigma_int == 0.0);
    // 68% Laplace interval is b +- 0.994458 sd (scipy.stats.norm.ppf(0.84)).
    CHECK(rel.intervals[1][0].upper - rel.coefficients[1] ==
          Approx(0.9944578832097535 * std::sqrt(C(1, 1))).epsilon(1e-12));
}

TEST_CASE("equal target errors, no feature errors: sigma_int^2 = RSS/n - sigma^2", "[relations]") {
    std::mt19937_64 rng(3);
    const std::size_t n = 300;
    std::vector<double> x(n), y(n), e(n, 0.1);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = detail::uniform01(rng);
        y[i] = 1.0 + 2.0 * x[i] + 0.3 * gauss(rng);
    }
    feature_table X;
    X.add("x", x);
    const auto rel = fit_linear_relation(X, y, e);
    // With equal variances the maximum-likelihood coefficients are ordinary least squares, and the
    // variance equation gives sigma_int^2 = RSS/n - 0.1^2.
    Eigen::MatrixXd A(n, 2);
    Eigen::VectorXd Y(n);
    for (std::size_t i = 0; i < n; ++i) A(i, 0) = 1, A(i, 1) = x[i], Y[i] = y[i];
    const Eigen::VectorXd b = (A.transpose() * A).ldlt().solve(A.transpose() * Y);
    const double rss = (Y - A * b).squaredNorm();
    CHECK(rel.coefficients[0] == Approx(b[0]).epsilon(1e-9));
    CHECK(rel.coefficients[1] == Approx(b[1]).epsilon(1e-9));
    CHECK(rel.sigma_int == Approx(std::sqrt(rss / n - 0.01)).epsilon(1e-9));
    // Laplace: var(sigma_int) = 1 / H_ss with H_ss = sum 4 s^2 / (2 v^2) = 2 n s^2 / v^2 at the optimum.
    const double v = rss / n;
    CHECK(rel.sigma_int_sd == Approx(std::sqrt(v * v / (2.0 * n * rel.sigma_int * rel.sigma_int))).epsilon(1e-6));
    CHECK(rel.log_likelihood == Approx(-0.5 * n * (std::log(6.283185307179586 * v) + 1.0)).epsilon(1e-12));
}

TEST_CASE("likelihood derivatives agree with finite differences", "[relations]") {
    const auto s = make_synthetic(11, 50, {0.5, -6.0, 0.4}, 0.2, 0.03);
    const detail::relation_likelihood L(s.X, s.y, s.y_err, true);
    Eigen::VectorXd t(4);
    t << 0.3, -5.0, 0.5, 0.15;
    Eigen::VectorXd g;
    Eigen::MatrixXd H;
    const double f = L.derivatives(t, g, H);
    CHECK(f == Approx(L.value(t)).epsilon(1e-14));
    for (int k = 0; k < 4; ++k) {
        const double h = 1e-5;
        Eigen::VectorXd tp = t, tm = t;
        tp[k] += h, tm[k] -= h;
        CHECK(g[k] == Approx((L.value(tp) - L.value(tm)) / (2 * h)).epsilon(1e-6));
        Eigen::VectorXd gp, gm;
        Eigen::MatrixXd Hp, Hm;
        L.derivatives(tp, gp, Hp);
        L.derivatives(tm, gm, Hm);
        for (int l = 0; l < 4; ++l) CHECK(H(l, k) == Approx((gp[l] - gm[l]) / (2 * h)).epsilon(1e-5).margin(1e-6));
    }
}

TEST_CASE("prediction uncertainty adds coefficient, feature-error and intrinsic variances", "[relations]") {
    const auto s = make_synthetic(5, 120, {-0.4, -5.5, 0.9}, 0.15, 0.02);
    const auto rel = fit_linear_relation(s.X, s.y, s.y_err);
    feature_table Xn;
    Xn.add("phi31", {3.0}, {0.1}).add("P", {0.5}, {0.01});  // column order differs from the model's
    const auto pr = rel.predict(Xn);
    const auto& b = rel.coefficients;
    CHECK(pr.value[0] == Approx(b[0] + b[1] * 0.5 + b[2] * 3.0).epsilon(1e-14));
    Eigen::Vector3d g(1, 0.5, 3.0);
    const double var = g.dot(rel.covariance * g) + b[1] * b[1] * 1e-4 + b[2] * b[2] * 0.01 +
                       rel.sigma_int * rel.sigma_int;
    CHECK(pr.sigma[0] == Approx(std::sqrt(var)).epsilon(1e-12));
    // The same star with phi31 in the sine convention (phi31^s = phi31^c - pi) predicts the same value.
    feature_table Xs;
    Xs.add("P", {0.5}).add("phi31", {3.0 - 3.14159265358979323846 + 6.283185307179586});
    CHECK(rel.predict(Xs, phase_convention::sine).value[0] == Approx(b[0] + b[1] * 0.5 + b[2] * 3.0).epsilon(1e-12));
    CHECK_THROWS_AS(rel.predict(feature_table{}.add("P", {0.5})), value_error);
}

TEST_CASE("bad input is a value_error with a sentence", "[relations]") {
    feature_table X;
    X.add("x", {1, 2, 3});
    CHECK_THROWS_AS(fit_linear_relation(X, {1, 2}), value_error);     // length mismatch
    CHECK_THROWS_AS(fit_linear_relation(X, {1, 2, 3}), value_error);  // too few rows for 3 params
    feature_table Y;
    Y.add("x", {1, 2, 3, 4, 5}).add("twice", {2, 4, 6, 8, 10});
    CHECK_THROWS_WITH(fit_linear_relation(Y, {1, 2, 3, 4, 6}, {0.1, 0.1, 0.1, 0.1, 0.1}), Catch::Contains("collinear"));
    feature_table Z;
    Z.add("x", {1, 2, 3, 4, 5});
    CHECK_THROWS_WITH(fit_linear_relation(Z, {1, 2, 3, 4, 5}), Catch::Contains("exactly"));  // exact, no errors
    CHECK_THROWS_AS(fit_linear_relation(Z, {1, 2, std::nan(""), 4, 5}), value_error);
    CHECK_THROWS_AS(fit_linear_relation(Z, {1, 2, 3, 4, 5}, {0.1, 0.1, -1, 0.1, 0.1}), value_error);
}

TEST_CASE("Muraveva et al. (2025) LMC relations are recovered with zero intrinsic scatter", "[relations][data]") {
    const std::string dir = ferrum_test::shared_data_dir();
    if (dir.empty()) {
        WARN("shared data not found: skipped");
        return;
    }
    const std::string path = dir + "/muraveva2025_lmc_gaiadr3/rrl_params.csv";
    auto check =
        [&](const std::string& type, const std::vector<std::string>& features, const std::vector<double>& printed) {
        std::vector<std::string> cols = features;
        cols.push_back("[Fe/H]");
        cols.push_back("[Fe/H]_error");
        const auto t = read_numeric_columns(path, cols, {{"Type", type}});
        feature_table X;
        for (const auto& f : features) X.add(f, t[f]);
        const auto rel = fit_linear_relation(X, t["[Fe/H]"], t["[Fe/H]_error"]);
        INFO(type);
        for (std::size_t k = 0; k < printed.size(); ++k) {
            // "to the printed precision": rounds to the published two decimals (and is in fact exact).
            CHECK(std::round(rel.coefficients[k] * 100) / 100 == Approx(printed[k]).margin(1e-12));
            CHECK(rel.coefficients[k] == Approx(printed[k]).margin(1e-9));
        }
        CHECK(rel.sigma_int == 0.0);
        CHECK(rel.evaluate(X, t["[Fe/H]"]).rmse < 1e-9);
    };
    check("RRab", {"Period", "Phi31"}, {-0.37, -5.55, 0.94});
    check("RRc", {"Period", "Phi31", "A2"}, {0.80, -8.54, 0.23, -9.34});
}

namespace {
// Fraction of (seed, parameter) pairs whose interval at `level` contains the truth.
struct coverage_count {
    std::vector<std::size_t> hit68, hit95;
    std::size_t trials = 0;
};

coverage_count coverage(fit_method method, std::size_t seeds, std::size_t n, std::size_t steps) {
    const std::vector<double> truth{-0.4, -5.5, 0.9, 0.2};  // b0, b_P, b_phi31, sigma_int
    coverage_count c{std::vector<std::size_t>(4, 0), std::vector<std::size_t>(4, 0), 0};
    for (std::size_t s = 0; s < seeds; ++s) {
        const auto d = make_synthetic(1000 + s, n, {truth[0], truth[1], truth[2]}, truth[3], 0.02);
        linear_relation_options o;
        o.method = method;
        o.seed = s;
        o.sampler.burn_in = steps / 2;
        o.sampler.steps = steps;
        o.sampler.show_progress = false;
        const auto rel = fit_linear_relation(d.X, d.y, d.y_err, o);
        for (std::size_t k = 0; k < 4; ++k) {
            c.hit68[k] += rel.intervals[k][0].contains(truth[k]);
            c.hit95[k] += rel.intervals[k][1].contains(truth[k]);
        }
        ++c.trials;
    }
    return c;
}

// Each parameter's coverage within 3.5 binomial standard deviations of the nominal level (a false alarm
// about 1 time in 2000 per check), and the pooled coverage within 3.5 of its (correlation-ignoring) sd.
void check_coverage(const coverage_count& c) {
    for (auto [hits, level] : {std::pair{&c.hit68, 0.68}, std::pair{&c.hit95, 0.95}}) {
        const double sd = std::sqrt(level * (1 - level) / double(c.trials));
        double pooled = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const double f = double((*hits)[k]) / double(c.trials);
            INFO("parameter " << k << " level " << level << " coverage " << f);
            CHECK(std::abs(f - level) < 3.5 * sd);
            pooled += f / 4;
        }
        INFO("pooled coverage " << pooled << " at " << level);
        CHECK(std::abs(pooled - level) < 3.5 * sd);
    }
}
}  // namespace

TEST_CASE("MCMC credible intervals cover the truth at their nominal rate", "[relations][coverage]") {
    check_coverage(coverage(fit_method::mcmc, 100, 60, 600));
}

TEST_CASE("MCMC coverage with many seeds", "[relations][coverage][slow]") {
    check_coverage(coverage(fit_method::mcmc, 1000, 60, 1500));
}

TEST_CASE("Laplace intervals cover the truth at their nominal rate", "[relations][coverage]") {
    check_coverage(coverage(fit_method::laplace, 1000, 200, 0));
}

TEST_CASE("MCMC agrees with the Laplace approximation on a well-determined fit and reports convergence",
          "[relations][mcmc]") {
    const auto s = make_synthetic(99, 400, {-0.4, -5.5, 0.9}, 0.2, 0.02);
    linear_relation_options o;
    const auto lap = fit_linear_relation(s.X, s.y, s.y_err, o);
    o.method = fit_method::mcmc;
    o.sampler.show_progress = false;
    const auto mc = fit_linear_relation(s.X, s.y, s.y_err, o);
    REQUIRE(mc.mcmc);
    CHECK(mc.mcmc->max_rhat() < 1.05);
    CHECK(mc.mcmc->min_ess() > 500);
    CHECK(mc.mcmc->acceptance_fraction > 0.2);
    CHECK(mc.mcmc->acceptance_fraction < 0.8);
    for (std::size_t k = 0; k < 3; ++k) {
        // with 400 stars the posterior is nearly Gaussian: means within 0.1 sd, sds within 10%
        CHECK(std::abs(mc.coefficients[k] - lap.coefficients[k]) < 0.1 * lap.sd(k));
        CHECK(mc.sd(k) == Approx(lap.sd(k)).epsilon(0.1));
    }
    // The posterior mean of sigma_int sits above the maximum-likelihood value (flat prior, right-skewed
    // posterior, ML variance biased low by p/n), by a few tenths of an sd here.
    CHECK(mc.sigma_int > lap.sigma_int);
    CHECK(mc.sigma_int - lap.sigma_int < 0.3 * lap.sigma_int_sd);
    // Same seed, same chain.
    const auto mc2 = fit_linear_relation(s.X, s.y, s.y_err, o);
    CHECK(mc2.coefficients == mc.coefficients);
}
