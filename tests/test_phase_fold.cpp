// Phase folding (eq. 1 of Monti et al. 2025) against a long-double evaluation of the same equation.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "ferrum/lightcurve/phase_fold.hpp"

using ferrum::light_curve;
using ferrum::phase_fold;

namespace {

// Eq. 1 in extended precision: the oracle for the double implementation.
double phase_oracle(double t, double period, double epoch) {
    const long double x = (static_cast<long double>(t) - epoch) / period;
    return static_cast<double>(x - std::floor(x));
}

light_curve gaia_like_curve(std::mt19937_64& rng, std::size_t n, bool errors) {
    light_curve lc;
    lc.source_id = 4242424242424242424;
    std::uniform_real_distribution<double> t(1666.0, 2700.0), m(15.0, 16.0), e(0.005, 0.02);
    for (std::size_t i = 0; i < n; ++i) {
        lc.time.push_back(t(rng));
        lc.mag.push_back(m(rng));
        if (errors) lc.mag_err.push_back(e(rng));
    }
    return lc;
}

}  // namespace

TEST_CASE("phase_fold matches eq. 1 and sorts epochs by phase", "[phase_fold]") {
    std::mt19937_64 rng(7);
    const light_curve lc = gaia_like_curve(rng, 80, true);
    const double period = 0.5672391, epoch = 1712.3456;
    const auto fc = phase_fold(lc, period, epoch);

    REQUIRE(fc.size() == lc.size());
    CHECK(fc.source_id == lc.source_id);
    CHECK(fc.period == period);
    REQUIRE(fc.mag_err.size() == fc.size());
    for (std::size_t j = 0; j < fc.size(); ++j) {
        CHECK(fc.phase[j] >= 0.0);
        CHECK(fc.phase[j] < 1.0);
        if (j > 0) CHECK(fc.phase[j - 1] <= fc.phase[j]);
    }
    // Every input epoch appears once, with its own magnitude and error next to its phase.
    for (std::size_t i = 0; i < lc.size(); ++i) {
        const double ref = phase_oracle(lc.time[i], period, epoch);
        std::size_t hits = 0;
        for (std::size_t j = 0; j < fc.size(); ++j)
            if (fc.mag[j] == lc.mag[i]) {
                ++hits;
                CHECK(fc.phase[j] == Approx(ref).margin(1e-12));
                CHECK(fc.mag_err[j] == lc.mag_err[i]);
            }
        CHECK(hits == 1);
    }
}

TEST_CASE("phase_fold: epochs before the epoch of maximum and a shift by whole periods", "[phase_fold]") {
    light_curve lc;
    lc.time = {-3.25, -0.25, 0.0, 0.75, 10.5};
    lc.mag = {1, 2, 3, 4, 5};
    const auto fc = phase_fold(lc, 1.0, 0.0);
    // (-3.25 -> 0.75), (-0.25 -> 0.75), (0 -> 0), (0.75 -> 0.75), (10.5 -> 0.5); ties keep time order.
    REQUIRE(fc.phase == std::vector<double>{0.0, 0.5, 0.75, 0.75, 0.75});
    CHECK(fc.mag == std::vector<double>{3, 5, 1, 2, 4});
    CHECK_FALSE(fc.has_errors());

    std::mt19937_64 rng(3);
    const light_curve g = gaia_like_curve(rng, 50, false);
    const double P = 0.3123, E = 1800.0;
    const auto a = phase_fold(g, P, E), b = phase_fold(g, P, E + 17 * P);
    for (std::size_t j = 0; j < a.size(); ++j) {
        // Phases on the circle: compare the wrapped difference.
        const double d = std::abs(a.phase[j] - b.phase[j]);
        CHECK(std::min(d, 1.0 - d) < 1e-10);
    }
}

TEST_CASE("phase_fold never returns phase 1.0", "[phase_fold]") {
    // T - epoch = -1e-17 days: the exact phase is 1 - 1e-17, which rounds to 1.0 in double.
    CHECK(ferrum::fold_phase(0.0, 1.0, 1e-17) == 0.0);
    CHECK(ferrum::fold_phase(-1e-300, 0.3, 0.0) == 0.0);
    light_curve lc;
    lc.time = {0.0, 0.5};
    lc.mag = {1.0, 2.0};
    const auto fc = phase_fold(lc, 1.0, 1e-17);
    for (double p : fc.phase) CHECK((p >= 0.0 && p < 1.0));
    // Exhaustive sweep over many scales: the [0, 1) contract holds everywhere.
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(-1e4, 1e4), lp(-3, 2);
    for (int i = 0; i < 100000; ++i) {
        const double P = std::pow(10.0, lp(rng));
        const double t = u(rng);
        const double e = t - P * std::round(u(rng)) + (i % 2 ? 1e-16 : -1e-16) * t;  // near a whole cycle
        const double phi = ferrum::fold_phase(t, P, e);
        REQUIRE(phi >= 0.0);
        REQUIRE(phi < 1.0);
    }
}

TEST_CASE("phase_fold rejects bad periods, epochs and curves with a message naming the source", "[phase_fold]") {
    std::mt19937_64 rng(5);
    light_curve lc = gaia_like_curve(rng, 10, true);
    lc.source_id = 123456789;
    using Catch::Matchers::Contains;
    CHECK_THROWS_AS(phase_fold(lc, 0.0, 0.0), ferrum::value_error);
    CHECK_THROWS_WITH(phase_fold(lc, -0.5, 0.0), Contains("123456789") && Contains("-0.5"));
    CHECK_THROWS_WITH(phase_fold(lc, std::nan(""), 0.0), Contains("123456789") && Contains("nan"));
    CHECK_THROWS_AS(phase_fold(lc, INFINITY, 0.0), ferrum::value_error);
    CHECK_THROWS_WITH(phase_fold(lc, 0.5, std::nan("")), Contains("123456789") && Contains("epoch"));
    CHECK_THROWS_WITH(phase_fold(lc, 0.5, 0.0, {20}), Contains("123456789") && Contains("10 epochs"));
    CHECK_NOTHROW(phase_fold(lc, 0.5, 0.0, {10}));

    light_curve bad = lc;
    bad.mag[3] = std::nan("");
    CHECK_THROWS_WITH(phase_fold(bad, 0.5, 0.0), Contains("mag[3]"));
    bad = lc;
    bad.time[2] = INFINITY;
    CHECK_THROWS_WITH(phase_fold(bad, 0.5, 0.0), Contains("time[2]"));
    bad = lc;
    bad.mag_err[4] = 0.0;
    CHECK_THROWS_WITH(phase_fold(bad, 0.5, 0.0), Contains("mag_err[4]"));
    bad = lc;
    bad.mag.pop_back();
    CHECK_THROWS_AS(phase_fold(bad, 0.5, 0.0), ferrum::value_error);
    CHECK_THROWS_AS(phase_fold(light_curve{}, 0.5, 0.0), ferrum::value_error);

    // Stars with a catalogue name (CRTS) are named by it, and the name travels with the folded curve.
    light_curve crts = lc;
    crts.name = "CSS_J154124.2-002225";
    CHECK_THROWS_WITH(phase_fold(crts, 0.0, 0.0), Contains("CSS_J154124.2-002225"));
    CHECK(phase_fold(crts, 0.5, 0.0).name == crts.name);
}
