// The sigma calibration's fitting methods (models/rrlyrae_calibration.hpp): the coverage fit against SciPy's
// solution of the coverage equations of a known two-group population and its compromise where no sigma
// meets both levels (tools/make_calibration_reference.py), the likelihood fit against the closed form,
// degenerate input (all residuals 0, no raw sigma, one star in a bin, NaN) and the method in the JSON.
// Only the calibration header: this test compiles in seconds.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <ferrum/models/rrlyrae_calibration.hpp>

using namespace ferrum;
using namespace ferrum::models;

namespace {

// tools/make_calibration_reference.py's population: group A (sigma_raw 0.05) with |r| ~ Exp(0.12), group B
// (sigma_raw 0.20) with |r| ~ Rayleigh(0.20); n stars each, drawn at the quantiles (i + 1/2) / n, signs
// alternating, all with `n_epochs` epochs.
std::vector<rrl_calibration_point> population(std::size_t n, std::size_t n_epochs = 60) {
    std::vector<rrl_calibration_point> pts;
    for (std::size_t i = 0; i < n; ++i) {
        const double u = (double(i) + 0.5) / double(n), sign = i % 2 ? -1.0 : 1.0;
        pts.push_back({rr_type::rrab, n_epochs, sign * -0.12 * std::log(1 - u), 0.05});
        pts.push_back({rr_type::rrab, n_epochs, -sign * 0.20 * std::sqrt(-std::log(1 - u)), 0.20});
    }
    return pts;
}

double coverage(const rrl_sigma_calibration& c, const std::vector<rrl_calibration_point>& pts, double k) {
    std::vector<double> r, s;
    for (const auto& p : pts) {
        r.push_back(p.residual);
        s.push_back(c.apply(p.type, p.n_epochs, p.sigma_raw));
    }
    return rrl_coverage(r, s, k);
}

}  // namespace

TEST_CASE("coverage calibration: the scale and floor that give a known population its Gaussian coverage",
          "[rrlyrae][sigma][calibration]") {
    const auto pts = population(4000);
    const auto q = rrl_sigma_calibration::fit(pts, 20, 100, rrl_sigma_calibration::default_edges(),
                                              rrl_calibration_method::coverage);
    REQUIRE(q.method() == rrl_calibration_method::coverage);
    for (const auto& b : q.bins()) {
        INFO("bin [" << b.min_epochs << ", " << b.max_epochs << ")");
        // SciPy's root of the two coverage equations (tools/make_calibration_reference.py); the stratified
        // draw differs from the population by O(1/n) in each quantile
        CHECK(b.scale == Approx(0.6526494832).epsilon(0.01));
        CHECK(b.floor == Approx(0.1531403891).epsilon(0.01));
        CHECK(b.scale > 0);
        CHECK(b.floor > 0);
    }
    CHECK(coverage(q, pts, 1) == Approx(0.6826894921).margin(0.002));
    CHECK(coverage(q, pts, 2) == Approx(0.9544997361).margin(0.002));

    // the likelihood fit of the same stars: each group's variance met (closed form in the generator), and
    // so the 1 sigma coverage the population's tails give it, 0.6945 (the scale, from a difference of the two
    // groups' variances, carries the stratified draw's 1 % shortfall in the Laplace tail's variance x 3)
    const auto ml = rrl_sigma_calibration::fit(pts, 20, 100);
    CHECK(ml.method() == rrl_calibration_method::likelihood);
    CHECK(ml.bins()[0].scale == Approx(0.5465040409).epsilon(0.04));
    CHECK(ml.bins()[0].floor == Approx(0.1674912933).epsilon(0.01));
    CHECK(coverage(ml, pts, 1) == Approx(0.694502).margin(0.003));
    CHECK(coverage(ml, pts, 2) == Approx(0.961289).margin(0.003));
}

TEST_CASE("coverage calibration: the compromise where no sigma meets both levels",
          "[rrlyrae][sigma][calibration]") {
    // one raw sigma (0.1) for every star, |r| ~ Exp(0.12) drawn at its quantiles: sigma = 1.2810172568 x 0.12
    // minimises ((c1 - p1) / 0.03)^2 + ((c2 - p2) / 0.02)^2 (SciPy, tools/make_calibration_reference.py)
    std::vector<rrl_calibration_point> pts;
    const std::size_t n = 4000;
    for (std::size_t i = 0; i < n; ++i)
        pts.push_back(
            {rr_type::rrc, 80, (i % 2 ? 1.0 : -1.0) * -0.12 * std::log(1 - (double(i) + 0.5) / double(n)), 0.1});
    const auto c = rrl_sigma_calibration::fit(pts, 20, 100, rrl_sigma_calibration::default_edges(),
                                              rrl_calibration_method::coverage);
    CHECK(c.apply(rr_type::rrc, 80, 0.1) == Approx(1.2810172568 * 0.12).epsilon(0.003));
    CHECK(coverage(c, pts, 1) == Approx(0.722245).margin(0.002));
    CHECK(coverage(c, pts, 2) == Approx(0.922852).margin(0.002));
}

TEST_CASE("coverage calibration: degenerate input", "[rrlyrae][sigma][calibration]") {
    const auto method = rrl_calibration_method::coverage;
    const auto& edges = rrl_sigma_calibration::default_edges();
    SECTION("no raw sigma: only the floor, scale 1") {
        // |r| = i / 1000, i = 1..1000: a floor f >= 0.5 covers every star at 2 sigma (c2 = 1, a fixed cost) and
        // floor(1000 f) / 1000 at 1 sigma, nearest 0.6827 for f in [0.683, 0.684); below 0.5, c2 < 1 and c1 < 0.5
        std::vector<rrl_calibration_point> pts;
        const std::size_t n = 1000;
        for (std::size_t i = 1; i <= n; ++i)
            pts.push_back({rr_type::rrc, 40, (i % 2 ? 1.0 : -1.0) * double(i) / double(n), 0.0});
        const auto c = rrl_sigma_calibration::fit(pts, 0, 10, edges, method);
        for (const auto& b : c.bins()) {
            CHECK(b.scale == 1.0);
            CHECK(b.floor >= 0.683);
            CHECK(b.floor < 0.684);
        }
    }
    SECTION("all residuals 0: a clear error naming the type") {
        std::vector<rrl_calibration_point> zero(50, {rr_type::rrab, 60, 0.0, 0.1});
        CHECK_THROWS_WITH(rrl_sigma_calibration::fit(zero, 20, 10, edges, method),
                          Catch::Contains("RRab") && Catch::Contains("all 0"));
        // the likelihood fit keeps its documented fallback: a floor of 1e-6 dex, still > 0
        const auto ml = rrl_sigma_calibration::fit(zero, 20, 10);
        for (const auto& b : ml.bins()) CHECK(b.floor > 0);
    }
    SECTION("one star in a bin: it takes its type's pooled fit") {
        auto pts = population(200);
        pts.push_back({rr_type::rrab, 120, 0.3, 0.1});  // alone in [100, inf)
        const auto c = rrl_sigma_calibration::fit(pts, 20, 100, edges, method);
        const auto& last = c.bins().back();
        CHECK(last.pooled);
        CHECK(last.scale == c.bins().front().scale);  // every other bin is empty too: all pooled
        CHECK(std::isfinite(last.scale));
        CHECK(last.floor > 0);
    }
    SECTION("a NaN residual or raw sigma, or too few stars: errors") {
        auto pts = population(50);
        pts[3].residual = std::nan("");
        CHECK_THROWS_AS(rrl_sigma_calibration::fit(pts, 20, 10, edges, method), value_error);
        pts[3].residual = 0.1;
        pts[4].sigma_raw = std::nan("");
        CHECK_THROWS_AS(rrl_sigma_calibration::fit(pts, 20, 10, edges, method), value_error);
        std::vector<rrl_calibration_point> few(pts.begin(), pts.begin() + 4);
        CHECK_THROWS_WITH(rrl_sigma_calibration::fit(few, 20, 10, edges, method), Catch::Contains("at least 10"));
    }
}

TEST_CASE("calibration method in the model file", "[rrlyrae][sigma][calibration]") {
    const auto pts = population(500);
    auto q = rrl_sigma_calibration::fit(pts, 20, 100, rrl_sigma_calibration::default_edges(),
                                        rrl_calibration_method::coverage);
    q.set_fitted_on({{"labels", "field_b.csv"}, {"n", pts.size()}});
    const auto j = q.to_json();
    CHECK(j.at("method") == "coverage");
    const auto back = rrl_sigma_calibration::from_json(nlohmann::json::parse(j.dump()));
    CHECK(back.method() == rrl_calibration_method::coverage);
    CHECK(back.fitted_on().at("labels") == "field_b.csv");
    REQUIRE(back.bins().size() == q.bins().size());
    for (std::size_t k = 0; k < q.bins().size(); ++k) {
        CHECK(back.bins()[k].scale == q.bins()[k].scale);
        CHECK(back.bins()[k].floor == q.bins()[k].floor);
    }
    // a file written before the method was recorded: likelihood, and the same sigma as its numbers say
    auto old = j;
    old.erase("method");
    const auto o = rrl_sigma_calibration::from_json(old);
    CHECK(o.method() == rrl_calibration_method::likelihood);
    const auto& b = q.bins()[2];
    CHECK(o.apply(rr_type::rrab, 60, 0.1) == Approx(std::sqrt(b.scale * b.scale * 0.01 + b.floor * b.floor)));
    auto bad = j;
    bad["method"] = "conformal";
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("calibration.method"));
    bad["method"] = 3;
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("calibration.method"));
}
