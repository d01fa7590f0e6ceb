// Fourier decomposition in the Gaia cosine convention: exact recovery of analytic series, uncertainties
// against the scatter of noisy repeats, order selection, and the cosine/sine phase conversion.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "ferrum/lightcurve/fourier.hpp"

using ferrum::fit_fourier;
using ferrum::fourier_options;
using ferrum::two_pi;

namespace {

struct series {
    double A0;
    std::vector<double> A, phi;  // cosine convention
    double operator()(double x) const {
        double m = A0;
        for (std::size_t k = 1; k <= A.size(); ++k) m += A[k - 1] * std::cos(two_pi * double(k) * x + phi[k - 1]);
        return m;
    }
};

// An RRab-like G-band shape (amplitudes and phases typical of Clementini et al. 2023).
const series rrab{15.2, {0.32, 0.16, 0.105, 0.07, 0.045}, {4.1, 2.3, 0.7, 5.6, 4.0}};

std::vector<double> uniform_phases(std::mt19937_64& rng, std::size_t n) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> p(n);
    for (double& x : p) x = u(rng);
    return p;
}

double wrapped_diff(double a, double b) {
    const double d = ferrum::wrap_two_pi(a - b);
    return std::min(d, two_pi - d);
}

}  // namespace

TEST_CASE("fit_fourier recovers a noise-free series exactly and chooses its order", "[fourier]") {
    std::mt19937_64 rng(1);
    const auto ph = uniform_phases(rng, 60);
    std::vector<double> m;
    for (double x : ph) m.push_back(rrab(x));

    for (const bool with_errors : {false, true}) {
        std::vector<double> err;
        if (with_errors)
            for (std::size_t i = 0; i < ph.size(); ++i) err.push_back(0.01 + 0.001 * double(i % 7));
        const auto f = fit_fourier(ph, m, err);  // BIC over K = 3..8
        REQUIRE(f.order == 5);
        CHECK(f.weighted == with_errors);
        CHECK(f.A0 == Approx(rrab.A0).margin(1e-10));
        for (int k = 1; k <= 5; ++k) {
            CHECK(f.amplitude[k - 1] == Approx(rrab.A[k - 1]).margin(1e-10));
            CHECK(wrapped_diff(f.phase[k - 1], rrab.phi[k - 1]) < 1e-10);
        }
        CHECK(f.R21().value == Approx(0.5).margin(1e-10));
        CHECK(f.R31().value == Approx(0.105 / 0.32).margin(1e-10));
        CHECK(wrapped_diff(f.phi21().value, 2.3 - 2 * 4.1) < 1e-10);
        CHECK(wrapped_diff(f.phi31().value, 0.7 - 3 * 4.1) < 1e-10);
        CHECK(f.phi31().value >= 0.0);
        CHECK(f.phi31().value < two_pi);
        CHECK(f.rms < 1e-12);
        for (double x : {0.0, 0.123, 0.5, 0.999, 1.7}) CHECK(f(x) == Approx(rrab(x)).margin(1e-10));
    }
}

TEST_CASE("fit_fourier returns A_k >= 0 and phases in [0, 2 pi) for every sign pattern", "[fourier]") {
    // m = 1 + a cos(2 pi x) + b sin(2 pi x) for the four quadrants: A = hypot(a, b), phi = atan2(-b, a).
    std::mt19937_64 rng(2);
    const auto ph = uniform_phases(rng, 40);
    for (const double a : {0.3, -0.3})
        for (const double b : {0.2, -0.2}) {
            std::vector<double> m;
            for (double x : ph) m.push_back(1.0 + a * std::cos(two_pi * x) + b * std::sin(two_pi * x));
            fourier_options o;
            o.order = 1;
            o.min_order = 1;
            const auto f = fit_fourier(ph, m, {}, o);
            CHECK(f.amplitude[0] == Approx(std::hypot(a, b)).epsilon(1e-12));
            CHECK(f.phase[0] >= 0.0);
            CHECK(f.phase[0] < two_pi);
            CHECK(wrapped_diff(f.phase[0], std::atan2(-b, a)) < 1e-12);
        }
}

TEST_CASE("sine-convention phases convert to the cosine convention", "[fourier]") {
    // A series written in the sine convention, m = A0 + sum A_k sin(2 pi k x + psi_k), fitted in the cosine
    // convention: phi31_cos -> sin must give psi_3 - 3 psi_1 and phi21 psi_2 - 2 psi_1.
    const double A[3] = {0.3, 0.15, 0.1}, psi[3] = {1.1, 5.0, 2.9};
    std::mt19937_64 rng(3);
    const auto ph = uniform_phases(rng, 50);
    std::vector<double> m;
    for (double x : ph) {
        double v = 15.0;
        for (int k = 1; k <= 3; ++k) v += A[k - 1] * std::sin(two_pi * k * x + psi[k - 1]);
        m.push_back(v);
    }
    const auto f = fit_fourier(ph, m, {});
    REQUIRE(f.order == 3);
    CHECK(wrapped_diff(ferrum::phi31_cos_to_sin(f.phi31().value), psi[2] - 3 * psi[0]) < 1e-10);
    CHECK(wrapped_diff(ferrum::phase_difference_cos_to_sin(2, f.phi21().value), psi[1] - 2 * psi[0]) < 1e-10);
    const double phi31_sin = ferrum::wrap_two_pi(psi[2] - 3 * psi[0]);
    CHECK(wrapped_diff(ferrum::phi31_sin_to_cos(phi31_sin), f.phi31().value) < 1e-10);
    for (int k = 1; k <= 3; ++k) {
        CHECK(wrapped_diff(ferrum::phase_cos_to_sin(f.phase[k - 1]), psi[k - 1]) < 1e-10);
        CHECK(wrapped_diff(ferrum::phase_sin_to_cos(psi[k - 1]), f.phase[k - 1]) < 1e-10);
    }
    CHECK(ferrum::phi31_cos_to_sin(0.5) == Approx(0.5 + two_pi / 2));
    CHECK(ferrum::phi31_sin_to_cos(ferrum::phi31_cos_to_sin(1.234)) == Approx(1.234).epsilon(1e-14));
}

namespace {

struct scatter_check {
    double sd_A1 = 0, sd_phi31 = 0, mean_sigma_A1 = 0, mean_sigma_phi31 = 0;
};

// Fits `repeats` noisy realisations of `rrab` at fixed order 5; returns the scatter of A1 and phi31 and the
// mean of the uncertainties the fit reported.
scatter_check noisy_repeats(bool heteroscedastic_errors, bool pass_errors, int repeats) {
    std::mt19937_64 rng(20261122);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> es(0.01, 0.05);
    const std::size_t n = 70;
    fourier_options o;
    o.order = 5;
    double s1 = 0, s2 = 0, p1 = 0, p2 = 0;
    scatter_check r;
    const double phi31_true = ferrum::wrap_two_pi(0.7 - 3 * 4.1);
    for (int rep = 0; rep < repeats; ++rep) {
        const auto ph = uniform_phases(rng, n);
        std::vector<double> m(n), e(n);
        for (std::size_t i = 0; i < n; ++i) {
            e[i] = heteroscedastic_errors ? es(rng) : 0.03;
            m[i] = rrab(ph[i]) + e[i] * g(rng);
        }
        const auto f = fit_fourier(ph, m, pass_errors ? e : std::vector<double>{}, o);
        const double a1 = f.amplitude[0];
        // phi31 is far from the 0/2pi cut here, so the plain difference is the circular one.
        const double d31 = f.phi31().value - phi31_true;
        s1 += a1;
        s2 += a1 * a1;
        p1 += d31;
        p2 += d31 * d31;
        r.mean_sigma_A1 += f.sigma_amplitude(1) / repeats;
        r.mean_sigma_phi31 += f.phi31().sigma / repeats;
    }
    r.sd_A1 = std::sqrt(s2 / repeats - (s1 / repeats) * (s1 / repeats));
    r.sd_phi31 = std::sqrt(p2 / repeats - (p1 / repeats) * (p1 / repeats));
    return r;
}

}  // namespace

TEST_CASE("reported sigma(A1) and sigma(phi31) match the scatter of 400 noisy repeats", "[fourier]") {
    SECTION("heteroscedastic errors given: weighted fit, covariance inflated only if chi2_nu > 1") {
        const auto r = noisy_repeats(true, true, 400);
        CHECK(r.mean_sigma_A1 == Approx(r.sd_A1).epsilon(0.15));
        CHECK(r.mean_sigma_phi31 == Approx(r.sd_phi31).epsilon(0.15));
    }
    SECTION("no errors given: unit weights, covariance scaled by chi2_nu") {
        const auto r = noisy_repeats(false, false, 400);
        CHECK(r.mean_sigma_A1 == Approx(r.sd_A1).epsilon(0.15));
        CHECK(r.mean_sigma_phi31 == Approx(r.sd_phi31).epsilon(0.15));
    }
}

TEST_CASE("under-estimated errors are inflated by the reduced chi-square", "[fourier]") {
    std::mt19937_64 rng(9);
    std::normal_distribution<double> g(0.0, 0.05);
    const auto ph = uniform_phases(rng, 120);
    std::vector<double> m, e(120, 0.01);  // true scatter 0.05, claimed 0.01
    for (double x : ph) m.push_back(rrab(x) + g(rng));
    fourier_options o;
    o.order = 5;
    const auto f = fit_fourier(ph, m, e, o);
    CHECK(f.reduced_chi2 > 10);
    CHECK(f.covariance_scale == f.reduced_chi2);
    o.scaling = ferrum::covariance_scaling::never;
    const auto raw = fit_fourier(ph, m, e, o);
    CHECK(f.sigma_amplitude(1) == Approx(raw.sigma_amplitude(1) * std::sqrt(f.reduced_chi2)).epsilon(1e-9));
    // BIC profiles the error scale out: the wrong errors do not change the chosen order.
    const auto auto_true = fit_fourier(ph, m, std::vector<double>(120, 0.05));
    const auto auto_small = fit_fourier(ph, m, e);
    CHECK(auto_true.order == auto_small.order);
}

TEST_CASE("BIC picks the generating order of a noisy low-order series", "[fourier]") {
    std::mt19937_64 rng(4);
    std::normal_distribution<double> g(0.0, 0.02);
    const series rrc{15.0, {0.25, 0.03}, {1.0, 3.0}};
    const auto ph = uniform_phases(rng, 200);
    std::vector<double> m;
    for (double x : ph) m.push_back(rrc(x) + g(rng));
    fourier_options o;
    o.min_order = 1;
    const auto f = fit_fourier(ph, m, {}, o);
    CHECK(f.order == 2);
    CHECK_THROWS_AS(f.R31(), ferrum::value_error);
    CHECK_THROWS_AS(f.sigma_phase(3), ferrum::value_error);
    CHECK(f.R21().value == Approx(0.12).margin(4 * f.R21().sigma));
}

TEST_CASE("fit_fourier refuses what it cannot fit", "[fourier]") {
    std::vector<double> ph{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}, m{1, 2, 3, 2, 1, 0, 1};
    // Order 3 needs 8 epochs (7 coefficients + 1 degree of freedom).
    CHECK_THROWS_WITH(fit_fourier(ph, m, {}, {}, 77),
                      Catch::Matchers::Contains("77") && Catch::Matchers::Contains("too few"));
    // 20 epochs at only 3 distinct phases cannot determine 7 coefficients.
    std::vector<double> p3, m3;
    for (int i = 0; i < 20; ++i) {
        p3.push_back(0.1 * (i % 3));
        m3.push_back(double(i % 3));
    }
    CHECK_THROWS_WITH(fit_fourier(p3, m3, {}), Catch::Matchers::Contains("clustered"));
    fourier_options bad;
    bad.min_order = 0;
    CHECK_THROWS_AS(fit_fourier(ph, m, {}, bad), ferrum::value_error);
    m[2] = std::nan("");
    CHECK_THROWS_AS(fit_fourier(ph, m, {}), ferrum::value_error);
}
