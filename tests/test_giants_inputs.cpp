// Inputs of the giant-star models: GaiaXPy CSV reading, 60-pixel median resampling and 550 nm scaling
// (analytic spectra), quality cuts, RJCE dereddening and colour features (analytic extinction), and the
// simulator's known noise sizes and [Fe/H] distribution (closed-form probabilities).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "ferrum/photometry/colour_features.hpp"
#include "ferrum/sim/giants.hpp"
#include "ferrum/spectra/xp_spectra.hpp"

namespace fs = std::filesystem;
using namespace ferrum;

namespace {
fs::path temp_file(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / ("ferrum_giants_" + std::to_string(std::random_device{}()));
    fs::create_directories(d);
    return d / name;
}
std::string list_text(const std::vector<double>& v) {
    std::string s = "\"[";
    char b[32];
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::snprintf(b, sizeof b, "%.9g", v[i]);
        s += (i ? ", " : "") + std::string(b);
    }
    return s + "]\"";
}
}  // namespace

TEST_CASE("median resampling of a linear spectrum gives the bin medians, scaled by the flux at 550 nm",
          "[giants][xp]") {
    const auto wl = spectra::gaiaxpy_default_sampling();
    REQUIRE(wl.size() == 343);
    REQUIRE(wl.front() == 336.0);
    REQUIRE(wl.back() == 1020.0);
    const double a = 2.0, b = 0.003;
    std::vector<double> f(wl.size()), e(wl.size());
    for (std::size_t i = 0; i < wl.size(); ++i) {
        f[i] = a + b * wl[i];
        e[i] = 0.01 * wl[i];
    }
    const auto p = spectra::resample_xp(wl, f, e);
    REQUIRE(p.flux.size() == 60);
    const double f550 = a + b * 550.0;
    CHECK(p.scale == Approx(f550).epsilon(1e-14));
    for (std::size_t k = 0; k + 1 < 60; ++k) {
        // bin [400 + 10k, 410 + 10k) holds samples 400 + 10k, ..., 408 + 10k: median at 404 + 10k
        const double centre = 404.0 + 10.0 * double(k);
        CHECK(p.flux[k] == Approx((a + b * centre) / f550).epsilon(1e-13));
        CHECK(p.flux_error[k] == Approx(0.01 * centre / f550).epsilon(1e-13));
    }
    // the last bin includes 1000 nm: samples 990..1000, median (994 + 996) / 2
    CHECK(p.flux[59] == Approx((a + b * 995.0) / f550).epsilon(1e-13));
}

TEST_CASE("the 550 nm flux is interpolated between samples; bad spectra are value_errors", "[giants][xp]") {
    std::vector<double> wl, f, e;
    for (double l = 337; l <= 1019; l += 2) {
        wl.push_back(l);
        f.push_back(1.0 + 0.01 * l);
        e.push_back(0.1);
    }
    const auto p = spectra::resample_xp(wl, f, e);
    CHECK(p.scale == Approx(1.0 + 5.5).epsilon(1e-13));
    auto neg = f;
    for (auto& v : neg) v = -v;
    CHECK_THROWS_AS(spectra::resample_xp(wl, neg, e), value_error);
    auto shortf = f;
    shortf.pop_back();
    CHECK_THROWS_AS(spectra::resample_xp(wl, shortf, e), value_error);
    auto nan = f;
    nan[10] = NAN;
    CHECK_THROWS_AS(spectra::resample_xp(wl, nan, e), value_error);
    spectra::xp_resample_options fine;
    fine.pixels = 600;  // 1-nm pixels on a 2-nm grid: empty pixels
    CHECK_THROWS_AS(spectra::resample_xp(wl, f, e, fine), value_error);
}

TEST_CASE("GaiaXPy CSV: bracketed lists are read; wrong lengths and bad numbers name line and column",
          "[giants][xp][io]") {
    const auto path = temp_file("xp.csv");
    std::vector<double> f(343), e(343);
    for (std::size_t i = 0; i < 343; ++i) {
        f[i] = 1e-17 * double(i + 1);
        e[i] = 1e-19;
    }
    {
        std::ofstream o(path);
        o << "source_id,flux,flux_error\n";
        o << "42," << list_text(f) << "," << list_text(e) << "\n";
        o << "43," << list_text(e) << "," << list_text(e) << "\n";
    }
    const auto s = spectra::read_xp_spectra(path.string());
    REQUIRE(s.size() == 2);
    CHECK(s[0].source_id == 42);
    CHECK(s[0].flux[100] == Approx(1e-17 * 101).epsilon(1e-6));
    CHECK(s[1].flux_error[342] == Approx(1e-19).epsilon(1e-6));
    {
        std::ofstream o(path);
        o << "source_id,flux,flux_error\n";
        o << "42," << list_text(f) << "," << list_text(e) << "\n";
        auto shortf = f;
        shortf.resize(100);
        o << "43," << list_text(shortf) << "," << list_text(e) << "\n";
    }
    try {
        spectra::read_xp_spectra(path.string());
        FAIL("a short spectrum was accepted");
    } catch (const input_error& err) {
        CHECK(err.line() == 3);
        CHECK(err.field() == "flux");
    }
    {
        std::ofstream o(path);
        o << "source_id,flux,flux_error\n";
        o << "42,\"[1.0, abc, 2.0]\"," << list_text(e) << "\n";
    }
    try {
        spectra::read_xp_spectra(path.string());
        FAIL("a bad number was accepted");
    } catch (const input_error& err) {
        CHECK(err.line() == 2);
        CHECK(err.field() == "flux");
    }
    {
        std::ofstream o(path);
        o << "source_id,flux\n42,\"[1]\"\n";
    }
    CHECK_THROWS_AS(spectra::read_xp_spectra(path.string()), input_error);
    fs::remove_all(path.parent_path());
}

TEST_CASE("quality cuts report the first failed criterion", "[giants][xp]") {
    spectra::xp_quality_input s;
    s.phot_g_mean_mag = 15.0;
    s.bp_rp = 1.2;
    s.phot_bp_rp_excess_factor = -spectra::corrected_excess_factor(0.0, 1.2);  // C* = 0
    s.ruwe = 1.0;
    s.ebv = 0.1;
    s.mean_snr = 50;
    CHECK(spectra::xp_quality_reason(s).empty());
    auto t = s;
    t.ruwe = 2.0;
    CHECK(spectra::xp_quality_reason(t).rfind("ruwe", 0) == 0);
    t = s;
    t.phot_bp_rp_excess_factor += 1.0;  // C* = 1, far beyond 3 sigma at G = 15
    CHECK(spectra::xp_quality_reason(t).rfind("|C*|", 0) == 0);
    t = s;
    t.phot_g_mean_mag = NAN;  // missing values fail
    CHECK_FALSE(spectra::xp_quality_reason(t).empty());
    CHECK(spectra::select_xp_quality({s, t, s}) == std::vector<std::size_t>{0, 2});
}

TEST_CASE("RJCE recovers a known extinction and the colour features are those of the intrinsic magnitudes",
          "[giants][colours]") {
    using namespace photometry;
    // intrinsic magnitudes with (H - W2)_0 = 0.08 exactly (the RJCE assumption), at 1 kpc (parallax 1 mas)
    const std::array<double, n_bands> abs{1.5, 2.0, 0.9, 0.0, -0.6, -0.7, -0.74, -0.68};
    const double a_ks = 0.25, plx = 1.0, dm = 10.0;
    // A_b / A_Ks from Wang & Chen (2019) Table 3 A_b/A_V values, written out independently
    const std::array<double, n_bands> a_av{0.789, 1.002, 0.589, 0.243, 0.131, 0.078, 0.039, 0.026};
    std::array<double, n_bands> m{};
    for (std::size_t b = 0; b < n_bands; ++b) m[b] = abs[b] + dm + a_av[b] / 0.078 * a_ks;
    CHECK(rjce_a_ks(m[H], m[W2]) == Approx(a_ks).epsilon(1e-12));
    const auto f = make_colour_features(m, plx);
    REQUIRE(f.ok());
    REQUIRE(f.values.size() == 24);
    const auto names = colour_feature_names();
    REQUIRE(names.size() == 24);
    CHECK(names[0] == "BP-RP");
    CHECK(names[16] == "M_G");
    CHECK(f.values[0] == Approx(abs[BP] - abs[RP]).margin(1e-12));
    CHECK(f.values[9] == Approx(abs[W1] - abs[W2]).margin(1e-12));
    for (std::size_t b = 0; b < n_bands; ++b) CHECK(f.values[16 + b] == Approx(abs[b]).margin(1e-12));
    // the factor A_Ks / E(H - W2) with these coefficients
    CHECK(1.0 / (0.131 / 0.078 - 0.026 / 0.078) == Approx(0.742857).epsilon(1e-6));
}

TEST_CASE("missing bands and unusable parallaxes are reported, never half-built rows", "[giants][colours]") {
    using namespace photometry;
    std::array<double, n_bands> m{14, 14.5, 13.4, 12.5, 11.9, 11.8, 11.75, 11.8};
    m[J] = NAN;
    m[W2] = NAN;
    const auto f = make_colour_features(m, 1.0);
    CHECK(f.missing == "missing bands: J, W2");
    for (double v : f.values) CHECK(std::isnan(v));
    m[J] = 12.5;
    m[W2] = 11.8;
    CHECK(make_colour_features(m, -0.2).missing.find("parallax") != std::string::npos);
    CHECK(make_colour_features(m, NAN, false).ok());
    CHECK(make_colour_features(m, NAN, false).values.size() == 16);
}

TEST_CASE("photometry CSV: empty fields are missing bands, bad text is an input_error", "[giants][colours][io]") {
    const auto path = temp_file("phot.csv");
    {
        std::ofstream o(path);
        o << "source_id,phot_g_mean_mag,phot_bp_mean_mag,phot_rp_mean_mag,j_m,h_m,ks_m,w1mpro,w2mpro,parallax,parallax_error\n";
        o << "1,14,14.5,13.4,12.5,11.9,11.8,11.75,11.8,0.5,0.05\n";
        o << "2,14,14.5,13.4,,11.9,11.8,11.75,11.8,0.5,0.05\n";
    }
    const auto rows = photometry::read_photometry_csv(path.string());
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].mag[photometry::W2] == 11.8);
    CHECK(std::isnan(rows[1].mag[photometry::J]));
    CHECK(rows[1].parallax == 0.5);
    {
        std::ofstream o(path, std::ios::app);
        o << "3,14,14.5,13.4,12.5,x,11.8,11.75,11.8,0.5,0.05\n";
    }
    try {
        photometry::read_photometry_csv(path.string());
        FAIL("bad text accepted");
    } catch (const input_error& e) {
        CHECK(e.line() == 4);
        CHECK(e.field() == "h_m");
    }
    fs::remove_all(path.parent_path());
}

TEST_CASE("simulator: seeded, labels and parallaxes carry noise of the stated size, the tail has its closed-form share",
          "[giants][sim]") {
    sim::giant_sim_options o;
    o.spectra = false;
    const auto s = sim::simulate_giants(20000, o, 11);
    const auto s2 = sim::simulate_giants(50, o, 11);
    CHECK(s2.stars[49].feh == s.stars[49].feh);
    double zl = 0, zp = 0, below = 0;
    for (const auto& g : s.stars) {
        const double a = (g.feh - g.feh_true) / g.feh_error, b = (g.parallax - g.parallax_true) / g.parallax_error;
        zl += a * a;
        zp += b * b;
        below += g.feh_true < -2.0;
        CHECK(g.feh_error >= 0.12 - 1e-12);
        CHECK(g.feh_error <= 0.20 + 1e-12);
    }
    const double n = double(s.stars.size());
    CHECK(std::sqrt(zl / n) == Approx(1.0).margin(0.02));
    CHECK(std::sqrt(zp / n) == Approx(1.0).margin(0.02));
    // P([Fe/H] < -2): tail -0.8 - 0.6 E truncated at -3, mixed 15/85 with N(-0.25, 0.3) truncated at 0.5
    const double tail_lt = std::exp(-2.0) - std::exp(-2.2 / 0.6), tail_acc = 1 - std::exp(-2.2 / 0.6);
    const double disc_acc = 0.5 * std::erfc(-(0.5 + 0.25) / (0.3 * std::sqrt(2.0)));
    const double p = 0.15 * tail_lt / (0.15 * tail_acc + 0.85 * disc_acc);
    CHECK(below / n == Approx(p).margin(4 * std::sqrt(p * (1 - p) / n)));
}

TEST_CASE("simulated XP spectra: GaiaXPy CSV round trip and noise of the stated size", "[giants][sim][xp]") {
    const auto s = sim::simulate_giants(200, {}, 5);
    const auto path = temp_file("xp.csv");
    sim::write_giant_xp_csv(path.string(), s);
    const auto back = spectra::read_xp_spectra(path.string());
    REQUIRE(back.size() == 200);
    CHECK(back[17].source_id == s.stars[17].source_id);
    CHECK(back[17].flux[200] == Approx(s.stars[17].xp_flux[200]).epsilon(1e-6));
    // deviations from the noise-free spectrum (rebuilt from the truth) have unit variance in units of the errors
    double z2 = 0;
    std::size_t m = 0;
    for (const auto& g : s.stars) {
        const auto shape = sim::detail::giant_xp_shape(s.wavelength, g.teff, g.feh_true);
        // f550 from the flux error model at 550 nm: e = sqrt(f f550)/snr + 0.002 f550 is not invertible
        // without G, so compare in ratios: the noise-free spectrum up to its scale, fitted by least squares
        double num = 0, den = 0;
        for (std::size_t k = 0; k < shape.size(); ++k) {
            const double w = 1 / (g.xp_flux_error[k] * g.xp_flux_error[k]);
            num += w * shape[k] * g.xp_flux[k];
            den += w * shape[k] * shape[k];
        }
        const double scale = num / den;
        for (std::size_t k = 0; k < shape.size(); ++k) {
            const double z = (g.xp_flux[k] - scale * shape[k]) / g.xp_flux_error[k];
            z2 += z * z;
            ++m;
        }
    }
    CHECK(std::sqrt(z2 / double(m)) == Approx(1.0).margin(0.01));
    fs::remove_all(path.parent_path());
}
