// The sigma calibration's fitting methods (models/rrlyrae_calibration.hpp): the coverage fit against SciPy's
// solution of the coverage equations of a known two-group population and its compromise where no sigma
// meets both levels (tools/make_calibration_reference.py), the likelihood fit against the closed form,
// degenerate input (all residuals 0, no raw sigma, one star in a bin, NaN) and the method in the JSON; the
// prediction-dependent factor (fit's feh_bins) against NumPy's range edges and the exact per-range optima of a
// seeded population, its recovery of a true sigma that depends on the prediction, the conditional coverage on
// new stars, degenerate ranges and its JSON.
// Only the calibration header: this test compiles in seconds.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
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

// tools/make_calibration_reference.py's feh_population: SplitMix64 uniforms, four per star.
struct splitmix {
    std::uint64_t s;
    double uniform() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return double(z >> 11) * 0x1.0p-53;
    }
};

// prediction ~ U(-2.6, 0), sigma_raw = raw0 + raw1 u, true sigma = sigma_raw (1 + amp (prediction + 1.3)^2),
// Gaussian residuals (Box-Muller); `truth` gets each star's true sigma.
std::vector<rrl_calibration_point> feh_population(std::uint64_t seed, std::size_t n, double raw0, double raw1,
                                                  double amp, std::vector<double>* truth = nullptr) {
    const double pi = 3.14159265358979323846;
    splitmix g{seed};
    std::vector<rrl_calibration_point> pts;
    for (std::size_t i = 0; i < n; ++i) {
        const double u1 = g.uniform(), u2 = g.uniform(), u3 = g.uniform(), u4 = g.uniform();
        const double pred = -2.6 + 2.6 * u1, raw = raw0 + raw1 * u2;
        const double sd = raw * (1 + amp * (pred + 1.3) * (pred + 1.3));
        rrl_calibration_point p{rr_type::rrab, 60, sd * std::sqrt(-2 * std::log(1 - u3)) * std::cos(2 * pi * u4), raw};
        p.prediction = pred;
        pts.push_back(p);
        if (truth) truth->push_back(sd);
    }
    return pts;
}

double coverage(const rrl_sigma_calibration& c, const std::vector<rrl_calibration_point>& pts, double k) {
    std::vector<double> r, s;
    for (const auto& p : pts) {
        r.push_back(p.residual);
        s.push_back(c.apply(p.type, p.n_epochs, p.sigma_raw, 0.0, p.prediction));
    }
    return rrl_coverage(r, s, k);
}

// The stars of `pts` whose prediction is in [lo, hi).
std::vector<rrl_calibration_point> predicted_in(const std::vector<rrl_calibration_point>& pts, double lo, double hi) {
    std::vector<rrl_calibration_point> out;
    for (const auto& p : pts)
        if (p.prediction >= lo && p.prediction < hi) out.push_back(p);
    return out;
}

// ((c1 - p1) / 0.03)^2 + ((c2 - p2) / 0.02)^2 of one sigma for all of `pts`.
double coverage_loss_at(const std::vector<rrl_calibration_point>& pts, double sigma) {
    std::size_t in1 = 0, in2 = 0;
    for (const auto& p : pts) {
        in1 += std::abs(p.residual) <= sigma;
        in2 += std::abs(p.residual) <= 2 * sigma;
    }
    const double n = double(pts.size()), d1 = (double(in1) / n - 0.6826894921370859) / 0.03,
                 d2 = (double(in2) / n - 0.9544997361036416) / 0.02;
    return d1 * d1 + d2 * d2;
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

TEST_CASE("prediction-dependent factor: NumPy's range edges and each range's exact optimum",
          "[rrlyrae][sigma][calibration][feh]") {
    // one raw sigma (0.3) for every star: a range's calibrated sigma then does not depend on the (scale,
    // floor) fit; tools/make_calibration_reference.py (seed 20261207, 6000 stars)
    const auto pts = feh_population(20261207, 6000, 0.3, 0.0, 2.0);
    const double edges[] = {-2.057899002909, -1.564124508990, -1.047033871689, -0.524847802744};
    const double ml[] = {0.997696557320, 0.468721257545, 0.322304998511, 0.465783050277, 0.967087847429};
    const double loss_min[] = {0.358336699168, 0.005608617198, 0.292345219553, 0.200007764107, 0.712763141011};
    const double lo[] = {0.956848893737, 0.479126560446, 0.321689413696, 0.464571435633, 0.913981829836};
    const double hi[] = {0.956992071328, 0.479964928630, 0.321733788303, 0.465103167813, 0.914110953253};
    for (auto method : {rrl_calibration_method::likelihood, rrl_calibration_method::coverage}) {
        INFO(to_string(method));
        const auto c = rrl_sigma_calibration::fit(pts, 20, 100, rrl_sigma_calibration::default_edges(), method, 5);
        REQUIRE(c.feh_bins().size() == 5);
        for (std::size_t k = 0; k < 5; ++k) {
            INFO("range " << k);
            const auto& b = c.feh_bins()[k];
            CHECK(b.type == rr_type::rrab);
            if (k > 0) CHECK(b.min_prediction == Approx(edges[k - 1]).margin(1e-11));
            if (k < 4) CHECK(b.max_prediction == Approx(edges[k]).margin(1e-11));
            CHECK(b.n == 1200);
            const double mid = k == 0 ? -2.5 : k == 4 ? -0.1 : 0.5 * (edges[k - 1] + edges[k]);
            const double sigma = c.apply(rr_type::rrab, 60, 0.3, 0.0, mid);
            if (method == rrl_calibration_method::likelihood) {
                CHECK(sigma == Approx(ml[k]).epsilon(1e-9));
            } else {
                CHECK(coverage_loss_at(predicted_in(pts, b.min_prediction, b.max_prediction), sigma) ==
                      Approx(loss_min[k]).margin(1e-9));
                CHECK(sigma >= lo[k] * (1 - 1e-9));
                CHECK(sigma < hi[k] * (1 + 1e-9));
            }
        }
        // outside any prediction (NaN): the fit without ranges
        const auto plain = rrl_sigma_calibration::fit(pts, 20, 100, rrl_sigma_calibration::default_edges(), method);
        CHECK(c.apply(rr_type::rrab, 60, 0.3) == plain.apply(rr_type::rrab, 60, 0.3));
        CHECK(plain.feh_bins().empty());
    }
}

TEST_CASE("prediction-dependent factor: recovers a sigma that grows with |prediction + 1.3| and covers new stars",
          "[rrlyrae][sigma][calibration][feh]") {
    // raw sigma 0.25-0.35 that does not follow the truth, true sigma = raw (1 + (prediction + 1.3)^2): the
    // network's situation on the field family (docs/rrlyrae.md). Fitted on 20,000 stars, scored on 20,000 new.
    std::vector<double> truth;
    const auto fit_pts = feh_population(7, 20000, 0.25, 0.1, 1.0, &truth);
    const auto new_pts = feh_population(8, 20000, 0.25, 0.1, 1.0);
    for (auto method : {rrl_calibration_method::likelihood, rrl_calibration_method::coverage}) {
        INFO(to_string(method));
        const auto c = rrl_sigma_calibration::fit(fit_pts, 20, 400, rrl_sigma_calibration::default_edges(), method, 5);
        const auto plain =
            rrl_sigma_calibration::fit(fit_pts, 20, 400, rrl_sigma_calibration::default_edges(), method);
        REQUIRE(c.feh_bins().size() == 5);
        for (const auto& b : c.feh_bins()) {
            INFO("range [" << b.min_prediction << ", " << b.max_prediction << ")");
            if (method == rrl_calibration_method::likelihood) {
                // g^2 estimates the mean of (true sigma / sigma without the factor)^2 over the range: within 4
                // of its standard errors, sqrt(2 sum t^4) / n for Gaussian residuals
                double m = 0, m4 = 0;
                std::size_t n = 0;
                for (std::size_t i = 0; i < fit_pts.size(); ++i) {
                    const auto& p = fit_pts[i];
                    if (!(p.prediction >= b.min_prediction && p.prediction < b.max_prediction)) continue;
                    const double t2 = std::pow(truth[i] / plain.apply(p.type, p.n_epochs, p.sigma_raw), 2);
                    m += t2, m4 += t2 * t2, ++n;
                }
                REQUIRE(n == b.n);
                CHECK(std::abs(b.factor * b.factor - m / double(n)) < 4 * std::sqrt(2 * m4) / double(n));
            }
            // the conditional coverage on new stars: the goal's tolerances (the steps follow the smooth truth
            // to 0.01 and 0.003 of coverage; the rest is sampling, about 0.01 and 0.005)
            const auto in = predicted_in(new_pts, b.min_prediction, b.max_prediction);
            CHECK(coverage(c, in, 1) == Approx(0.6827).margin(0.03));
            CHECK(coverage(c, in, 2) == Approx(0.9545).margin(0.02));
        }
        // without the factor the extremes are covered far less (what the test would miss)
        const auto& lo_range = c.feh_bins().front();
        CHECK(coverage(plain, predicted_in(new_pts, lo_range.min_prediction, lo_range.max_prediction), 1) < 0.6);
    }
}

TEST_CASE("prediction-dependent factor: degenerate input", "[rrlyrae][sigma][calibration][feh]") {
    const auto& edges = rrl_sigma_calibration::default_edges();
    auto pts = feh_population(11, 300, 0.25, 0.1, 1.0);
    SECTION("all predictions equal: no ranges, the fit without them") {
        for (auto& p : pts) p.prediction = -1.5;
        for (auto method : {rrl_calibration_method::likelihood, rrl_calibration_method::coverage}) {
            const auto c = rrl_sigma_calibration::fit(pts, 20, 40, edges, method, 5);
            CHECK(c.feh_bins().empty());
            CHECK(c.to_json() == rrl_sigma_calibration::fit(pts, 20, 40, edges, method).to_json());
        }
    }
    SECTION("too few stars per range: ranges merged until each has min_per_bin, or none") {
        // 300 stars, 5 ranges of 60 < 100: merged into ranges of at least 100
        const auto c = rrl_sigma_calibration::fit(pts, 20, 100, edges, rrl_calibration_method::likelihood, 5);
        REQUIRE(c.feh_bins().size() >= 2);
        std::size_t total = 0;
        for (std::size_t k = 0; k < c.feh_bins().size(); ++k) {
            const auto& b = c.feh_bins()[k];
            CHECK(b.n >= 100);
            CHECK(b.n == predicted_in(pts, b.min_prediction, b.max_prediction).size());
            if (k > 0) CHECK(b.min_prediction == c.feh_bins()[k - 1].max_prediction);
            total += b.n;
        }
        CHECK(std::isinf(c.feh_bins().front().min_prediction));
        CHECK(std::isinf(c.feh_bins().back().max_prediction));
        CHECK(total == pts.size());
        // fewer than 2 x min_per_bin stars: none
        CHECK(rrl_sigma_calibration::fit(pts, 20, 151, edges, rrl_calibration_method::likelihood, 5)
                  .feh_bins()
                  .empty());
    }
    SECTION("most predictions equal: repeated edges merged") {
        for (std::size_t i = 0; i < pts.size(); ++i)
            if (i % 10 < 7) pts[i].prediction = -1.5;
        // every quantile edge is -1.5: one edge, two ranges (39 stars below it, 261 from it up)
        const auto c = rrl_sigma_calibration::fit(pts, 20, 20, edges, rrl_calibration_method::coverage, 5);
        REQUIRE(c.feh_bins().size() == 2);
        CHECK(c.feh_bins()[0].max_prediction == -1.5);
        for (const auto& b : c.feh_bins()) {
            CHECK(b.n >= 20);
            CHECK(b.factor > 0);
            CHECK(std::isfinite(b.factor));
        }
    }
    SECTION("stars without a prediction: not in the ranges, factor 1 when applied") {
        for (std::size_t i = 0; i < pts.size(); i += 3) pts[i].prediction = std::nan("");
        const auto c = rrl_sigma_calibration::fit(pts, 20, 40, edges, rrl_calibration_method::likelihood, 3);
        std::size_t total = 0;
        for (const auto& b : c.feh_bins()) total += b.n;
        CHECK(total == 200);
        const auto plain = rrl_sigma_calibration::fit(pts, 20, 40, edges);
        CHECK(c.apply(rr_type::rrab, 60, 0.3, 0.0, std::nan("")) == plain.apply(rr_type::rrab, 60, 0.3));
        CHECK(c.feh_factor(rr_type::rrc, -1.0) == 1.0);  // no RRc ranges
    }
    SECTION("1 range, or more than 20: a clear error") {
        CHECK_THROWS_WITH(rrl_sigma_calibration::fit(pts, 20, 40, edges, rrl_calibration_method::likelihood, 1),
                          Catch::Contains("feh_bins") && Catch::Contains("2 to 20"));
        CHECK_THROWS_AS(rrl_sigma_calibration::fit(pts, 20, 40, edges, rrl_calibration_method::likelihood, 21),
                        value_error);
    }
}

TEST_CASE("prediction-dependent factor in the model file", "[rrlyrae][sigma][calibration][feh]") {
    const auto pts = feh_population(12, 2000, 0.25, 0.1, 1.0);
    const auto c = rrl_sigma_calibration::fit(pts, 20, 100, rrl_sigma_calibration::default_edges(),
                                              rrl_calibration_method::coverage, 4);
    REQUIRE(c.feh_bins().size() == 4);
    const auto j = c.to_json();
    const auto back = rrl_sigma_calibration::from_json(nlohmann::json::parse(j.dump()));
    REQUIRE(back.feh_bins().size() == 4);
    for (const auto& p : pts)
        CHECK(back.apply(p.type, p.n_epochs, p.sigma_raw, 0.0, p.prediction) ==
              c.apply(p.type, p.n_epochs, p.sigma_raw, 0.0, p.prediction));
    CHECK(back.to_json() == j);
    // a calibration without ranges writes exactly what files did before they existed
    const auto plain = rrl_sigma_calibration::fit(pts, 20, 100);
    const auto pj = plain.to_json();
    CHECK_FALSE(pj.contains("feh_bins"));
    CHECK(pj.at("model") == "sigma = sqrt((scale * sigma_raw)^2 + floor^2 + (label_scale * sigma_label)^2), "
                            "sigma_raw = hypot(aleatoric, mc_dropout), sigma_label = the classical pipeline's "
                            "sigma of the star");
    auto bad = j;
    bad["feh_bins"][1]["factor"] = -1.0;
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("calibration.feh_bins[1].factor"));
    bad = j;
    bad["feh_bins"][0]["max_prediction"] = 5.0;  // overlaps the next range
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("overlaps"));
    bad = j;
    bad["feh_bins"][2]["factor"] = "big";
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("calibration.feh_bins[2]"));
    bad = j;
    bad["feh_bins"][0]["width"] = 1;
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("feh_bins[0].width"));
    bad = j;
    bad["feh_bins"] = 3;
    CHECK_THROWS_WITH(rrl_sigma_calibration::from_json(bad), Catch::Contains("calibration.feh_bins"));
}
