// The RR Lyrae models' uncertainties: the sigma calibration against the maximum-likelihood answer it must
// find on residuals of known distribution, the ridge model's leave-one-out residuals against actual
// refits, a heteroscedastic network that learns two known noise levels, coverage and the reliability plot,
// the calibration in the model file, and leave-one-family-out scoring the model and the classical
// pipeline on the same held-out stars.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

using namespace ferrum;
using namespace ferrum::models;

namespace {

struct sim_stars {
    std::vector<rrl_star_input> stars;
    std::vector<double> feh_true;
};

sim_stars simulate(std::size_t n, rr_type type, std::uint64_t seed, int min_epochs = 30) {
    sim::simulation_options o;
    o.seed = seed;
    o.min_epochs = min_epochs;
    const sim::rrlyrae_simulator s(o);
    std::vector<light_curve> curves;
    std::vector<rrl_ephemeris> eph;
    sim_stars out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto star = s.star(i, type);
        curves.push_back(star.light_curve());
        eph.push_back({type, star.catalogue.period, star.catalogue.epoch_g, star.catalogue.peak_to_peak, {}});
        out.feh_true.push_back(star.feh_true);
    }
    out.stars = prepare_rrlyrae_inputs(curves, eph, {}, 2, false);
    return out;
}

/// A family of simulated stars labelled with their true [Fe/H] (NaN labels: a test set, never trained on).
rrl_family truth_family(const std::string& name, const sim_stars& s, bool labelled = true) {
    rrl_family f;
    f.name = name;
    f.stars = s.stars;
    f.label = labelled ? s.feh_true : std::vector<double>(s.stars.size(), std::numeric_limits<double>::quiet_NaN());
    f.truth = s.feh_true;
    return f;
}

}  // namespace

TEST_CASE("sigma calibration: the maximum-likelihood scale and floor of residuals of known spread",
          "[rrlyrae][sigma]") {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> z;
    std::uniform_real_distribution<double> u(0.02, 0.3);
    const double s_true = 1.8, f_true = 0.12;
    std::vector<rrl_calibration_point> pts;
    for (int i = 0; i < 20000; ++i) {
        const double raw = u(rng);
        const double sd = std::sqrt(s_true * s_true * raw * raw + f_true * f_true);
        pts.push_back({rr_type::rrab, std::size_t(40 + i % 80), sd * z(rng), raw});
    }
    const auto c = rrl_sigma_calibration::fit(pts, 20, 100);
    REQUIRE(!c.empty());
    for (const auto& b : c.bins()) {
        INFO("bin [" << b.min_epochs << ", " << b.max_epochs << ") n " << b.n);
        CHECK(b.scale == Approx(s_true).epsilon(0.06));
        CHECK(b.floor == Approx(f_true).epsilon(0.12));
    }
    // the fitted values are a minimum of the likelihood: no neighbour on a small grid is better
    const auto& b = c.bins()[2];
    std::vector<rrl_calibration_point> in;
    for (const auto& p : pts)
        if (double(p.n_epochs) >= b.min_epochs && double(p.n_epochs) < b.max_epochs) in.push_back(p);
    const double best = rrl_sigma_calibration::nll(in, b.scale, b.floor);
    for (double ds : {-0.01, 0.01})
        for (double df : {-0.005, 0.005})
            CHECK(rrl_sigma_calibration::nll(in, b.scale * (1 + ds), b.floor * (1 + df)) >= best);
    // calibrated sigmas cover 68.3 % and 95.4 % of these residuals
    std::vector<double> r, s;
    for (const auto& p : pts) {
        r.push_back(p.residual);
        s.push_back(c.apply(p.type, p.n_epochs, p.sigma_raw));
    }
    CHECK(rrl_coverage(r, s, 1.0) == Approx(0.6827).margin(0.012));
    CHECK(rrl_coverage(r, s, 2.0) == Approx(0.9545).margin(0.008));

    SECTION("without raw sigmas the floor is the RMS (the ML estimate of a zero-mean Gaussian's sd)") {
        std::vector<rrl_calibration_point> flat;
        double ss = 0;
        for (int i = 0; i < 500; ++i) {
            const double e = 0.25 * z(rng);
            ss += e * e;
            flat.push_back({rr_type::rrc, 60, e, 0.0});
        }
        const auto f = rrl_sigma_calibration::fit(flat, 0, 100);
        CHECK(f.apply(rr_type::rrc, 60, 0.0) == Approx(std::sqrt(ss / 500)).epsilon(1e-9));
        CHECK(f.apply(rr_type::rrab, 60, 0.3) == 0.3);  // no RRab bin: unchanged
    }
    SECTION("ranges with too few stars take the type's pooled fit; JSON round trip") {
        std::vector<rrl_calibration_point> few(pts.begin(), pts.begin() + 300);
        const auto f = rrl_sigma_calibration::fit(few, 20, 100, {0, 50, 60, 1e9});
        REQUIRE(f.bins().size() == 3);
        CHECK(f.bins()[1].pooled);  // 40-119 epochs cycling: 50-59 holds about 38 stars
        CHECK(!f.bins()[2].pooled);
        const auto back = rrl_sigma_calibration::from_json(f.to_json());
        CHECK(back.apply(rr_type::rrab, 55, 0.1) == Approx(f.apply(rr_type::rrab, 55, 0.1)).epsilon(1e-12));
        CHECK_THROWS_AS(rrl_sigma_calibration::from_json({{"mc_samples", 1}, {"bins", 3}, {"extra", 1}}), value_error);
    }
    SECTION("non-finite residuals are refused, never fitted") {
        auto bad = pts;
        bad[5].residual = std::nan("");
        CHECK_THROWS_AS(rrl_sigma_calibration::fit(bad, 20), value_error);
    }
}

TEST_CASE("ridge model: its calibration uses exact leave-one-out residuals", "[rrlyrae][sigma]") {
    // the oracle: refit the ridge model without each star and predict it
    auto set = simulate(90, rr_type::rrc, 21);
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < set.stars.size(); ++i)
        if (set.stars[i].ok()) idx.push_back(i);
    REQUIRE(idx.size() >= 60);
    idx.resize(60);
    rrl_model_options mo;
    mo.architecture = rrl_architecture::fourier_linear;
    mo.types = {rr_type::rrc};
    rrl_training_options to;
    to.progress = false;
    to.density_weighting = false;
    rrlyrae_model m(mo);
    m.fit(set.stars, set.feh_true, idx, to);
    REQUIRE(!m.calibration().empty());
    double ss = 0;
    for (std::size_t k = 0; k < idx.size(); ++k) {
        std::vector<std::size_t> rest;
        for (std::size_t q = 0; q < idx.size(); ++q)
            if (q != k) rest.push_back(idx[q]);
        rrlyrae_model r(mo);
        rrl_training_options t = to;
        t.calibrate = false;
        r.fit(set.stars, set.feh_true, rest, t);
        const auto p = r.predict({set.stars[idx[k]]});
        const double e = p[0].feh - set.feh_true[idx[k]];
        ss += e * e;
    }
    const double loo_rms = std::sqrt(ss / double(idx.size()));
    // one bin (60 < 100 stars: pooled) whose floor is the RMS of the leave-one-out residuals; refits
    // re-standardise, the closed form does not: equal to a few per cent
    CHECK(m.calibration().apply(rr_type::rrc, 50, 0.0) == Approx(loo_rms).epsilon(0.05));
}

TEST_CASE("a heteroscedastic network learns two known noise levels; sigma covers held-out residuals",
          "[rrlyrae][sigma]") {
    // labels: the true [Fe/H] plus noise of sd 0.05 dex for stars with < 60 epochs and 0.5 dex above; the
    // network sees ln N_epochs among its features, so its aleatoric sigma must separate the two. Its
    // variance is the label noise's plus the network's own error e^2 (the same for both groups, to first
    // order), so the difference of the two variances is 0.5^2 - 0.05^2 = 0.2475
    auto set = simulate(1400, rr_type::rrab, 5, 30);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> z;
    std::vector<double> y(set.stars.size());
    for (std::size_t i = 0; i < y.size(); ++i)
        y[i] = set.feh_true[i] + (set.stars[i].n_epochs < 60 ? 0.05 : 0.5) * z(rng);
    std::vector<std::size_t> tr, te;
    for (std::size_t i = 0; i < set.stars.size(); ++i)
        if (set.stars[i].ok()) (i % 4 == 0 ? te : tr).push_back(i);
    rrl_model_options mo;
    mo.architecture = rrl_architecture::gru_fourier;
    mo.gru_sizes = {8, 8};
    mo.dropout = {0.05, 0.05};
    mo.heteroscedastic = true;
    rrl_training_options to;
    to.max_epochs = 30;
    to.batch_size = 64;
    to.learning_rate = 0.005;
    to.density_weighting = false;
    to.progress = false;
    to.validation_fraction = 0.2;
    rrlyrae_model m(mo, 2);
    m.fit(set.stars, y, tr, to);
    std::vector<rrl_star_input> test;
    for (auto i : te) test.push_back(set.stars[i]);
    const auto raw = m.predict_raw(test, 0);
    std::vector<double> lo, hi;
    for (std::size_t k = 0; k < test.size(); ++k) (test[k].n_epochs < 60 ? lo : hi).push_back(raw[k].sigma);
    REQUIRE(lo.size() > 50);
    REQUIRE(hi.size() > 50);
    std::nth_element(lo.begin(), lo.begin() + std::ptrdiff_t(lo.size() / 2), lo.end());
    std::nth_element(hi.begin(), hi.begin() + std::ptrdiff_t(hi.size() / 2), hi.end());
    const double mlo = lo[lo.size() / 2], mhi = hi[hi.size() / 2];
    INFO("median aleatoric sigma: " << mlo << " (< 60 epochs, noise 0.05) and " << mhi << " (noise 0.5)");
    CHECK(mhi * mhi - mlo * mlo == Approx(0.2475).epsilon(0.4));
    CHECK(mlo < 0.25);
    // the calibrated sigma of held-out stars covers their residuals about as often as it says
    const auto p = m.predict(test, 20, 11);
    std::vector<double> r, s;
    for (std::size_t k = 0; k < test.size(); ++k) {
        r.push_back(p[k].feh - y[te[k]]);
        s.push_back(p[k].sigma);
    }
    const double c1 = rrl_coverage(r, s, 1.0), c2 = rrl_coverage(r, s, 2.0);
    INFO("coverage " << c1 << " / " << c2 << " on " << r.size() << " held-out stars");
    CHECK(c1 == Approx(0.683).margin(0.09));
    CHECK(c2 == Approx(0.954).margin(0.05));

    SECTION("the calibration and the heteroscedastic head travel in the model file") {
        const auto back = rrlyrae_model::from_json(m.to_json(), "m.json");
        const auto q = back.predict(test, 20, 11);
        for (std::size_t k = 0; k < test.size(); k += 37) {
            CHECK(q[k].feh == Approx(p[k].feh).margin(1e-6));
            CHECK(q[k].sigma == Approx(p[k].sigma).epsilon(1e-6));
        }
        auto j = m.to_json();
        j["calibration"]["bins"][0]["scale"] = -1.0;
        CHECK_THROWS_WITH(rrlyrae_model::from_json(j, "neg.json"),
                          Catch::Contains("neg.json") && Catch::Contains("calibration"));
    }
}

TEST_CASE("evaluation reports coverage and draws the reliability plot", "[rrlyrae][sigma]") {
    std::vector<rrl_scored_star> s;
    // residuals at known multiples of sigma: 0.5, 1.5, 2.5 sigma -> 1/3 within 1 sigma, 2/3 within 2
    for (int i = 0; i < 30; ++i) {
        rrl_scored_star x{"s" + std::to_string(i), i % 2 ? rr_type::rrc : rr_type::rrab, -1.5, 0.0, 0.0, 60};
        x.sigma = 0.2;
        x.feh = x.truth + (0.5 + (i % 3)) * x.sigma * (i % 4 < 2 ? 1 : -1);
        s.push_back(x);
    }
    const auto j = evaluate_rrlyrae(s);
    CHECK(j["all"]["coverage_1sigma"].get<double>() == Approx(1.0 / 3));
    CHECK(j["all"]["coverage_2sigma"].get<double>() == Approx(2.0 / 3));
    CHECK(j["all"]["median_sigma"].get<double>() == Approx(0.2));
    const double z_rms = std::sqrt((0.25 + 2.25 + 6.25) / 3);
    CHECK(j["all"]["z_rms"].get<double>() == Approx(z_rms));
    const auto dir = std::filesystem::temp_directory_path() / "ferrum_test_reliability";
    const auto files = write_rrlyrae_plots(dir.string(), s);
    REQUIRE(files.size() == 3);
    std::ifstream f(files[2]);
    const std::string svg((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(svg.find("<polyline") != std::string::npos);
    CHECK(svg.find("RRab (15)") != std::string::npos);
    std::filesystem::remove_all(dir);
    // without sigmas: no coverage, no reliability plot
    for (auto& x : s) x.sigma = std::nan("");
    CHECK(!evaluate_rrlyrae(s)["all"].contains("coverage_1sigma"));
    CHECK(write_rrlyrae_plots(dir.string(), s).size() == 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("leave-one-family-out scores the model and the classical pipeline on the same held-out stars",
          "[rrlyrae][transfer]") {
    std::vector<rrl_family> fam;
    for (std::uint64_t seed : {31, 32, 33})
        fam.push_back(truth_family("seed" + std::to_string(seed), simulate(70, rr_type::rrc, seed)));
    rrl_transfer_options o;
    o.model.architecture = rrl_architecture::fourier_linear;
    o.training.progress = false;
    const auto folds = leave_one_family_out(fam, o);
    REQUIRE(folds.size() == 3);
    for (std::size_t h = 0; h < 3; ++h) {
        CHECK(folds[h].held_out == fam[h].name);
        CHECK(folds[h].trained_on.size() == 2);
        std::size_t usable = 0;
        for (const auto& x : fam[h].stars) usable += x.ok();
        CHECK(folds[h].model.size() == usable);
        REQUIRE(folds[h].classical.size() == folds[h].model.size());
        for (std::size_t k = 0; k < folds[h].model.size(); ++k) {
            CHECK(folds[h].classical[k].id == folds[h].model[k].id);
            CHECK(folds[h].model[k].sigma > 0);  // calibrated: the floor of the ridge model's LOO residuals
        }
        // the ridge model trained on 140 other stars: within 20 % of the classical relation or better
        const auto j = folds[h].to_json();
        CHECK(j["model_vs_truth"]["all"]["rmse"].get<double>() <
              1.2 * j["classical_vs_truth"]["all"]["rmse"].get<double>());
    }
    fam.resize(1);
    CHECK_THROWS_AS(leave_one_family_out(fam, o), value_error);
}

TEST_CASE("cross-family calibration covers a held-out family that the in-family calibration does not",
          "[rrlyrae][sigma][transfer]") {
    // residuals of known law: on stars of a family the model trained on, r = raw * z (the raw sigma is
    // right); on a family it did not train on, a family shift adds N(0, tau^2) per star, with tau of
    // 0.10-0.14 dex by family. The in-family calibration (fitted on the training families' hold-out) has
    // scale 1 and floor 0, so on a new family it covers P(|z| sqrt(raw^2 + tau^2) <= raw) < 0.55 of 1 sigma;
    // fitted on the pooled residuals of the unseen families, it must cover 0.683 within a binomial
    // tolerance (4 sd of 3000 stars plus the fit's own error).
    std::mt19937_64 rng(19);
    std::normal_distribution<double> z;
    std::uniform_real_distribution<double> u(0.03, 0.15);
    const double tau[4] = {0.10, 0.14, 0.12, 0.12};  // families A, B, C trained on; D held out
    std::vector<rrl_calibration_point> in_family, unseen, held_out;
    for (int f = 0; f < 4; ++f)
        for (int i = 0; i < 3000; ++i) {
            const double raw = u(rng);
            const std::size_t n = std::size_t(20 + i % 200);
            const double shifted = std::sqrt(raw * raw + tau[f] * tau[f]) * z(rng);
            if (f == 3) {
                held_out.push_back({rr_type::rrab, n, shifted, raw});
            } else {
                in_family.push_back({rr_type::rrab, n, raw * z(rng), raw});
                unseen.push_back({rr_type::rrab, n, shifted, raw});
            }
        }
    const auto min_bin = rrlyrae_model::calibration_min_per_bin(9000);
    const auto c_in = rrl_sigma_calibration::fit(in_family, 20, min_bin);
    const auto c_cross = rrl_sigma_calibration::fit(unseen, 20, min_bin);
    auto coverage = [&](const rrl_sigma_calibration& c, double k) {
        std::vector<double> r, s;
        for (const auto& p : held_out) {
            r.push_back(p.residual);
            s.push_back(c.apply(p.type, p.n_epochs, p.sigma_raw));
        }
        return rrl_coverage(r, s, k);
    };
    const double tol1 = 4 * std::sqrt(0.683 * 0.317 / 3000) + 0.01, tol2 = 4 * std::sqrt(0.954 * 0.046 / 3000) + 0.005;
    INFO("in-family " << coverage(c_in, 1) << " / " << coverage(c_in, 2) << ", cross-family " << coverage(c_cross, 1)
                      << " / " << coverage(c_cross, 2));
    CHECK(coverage(c_in, 1) < 0.55);
    CHECK(coverage(c_in, 2) < 0.85);
    CHECK(coverage(c_cross, 1) == Approx(0.683).margin(tol1));
    CHECK(coverage(c_cross, 2) == Approx(0.954).margin(tol2));
}

TEST_CASE("rrl_cross_family_calibration: the floor of the pooled residuals of models that never saw the family",
          "[rrlyrae][sigma][transfer]") {
    // the oracle: ridge models refitted by hand on every family but one, predicting that one; the ridge
    // model has no raw sigma, and 3 x 70 stars (< 100 per epoch range) pool into one fit per type, whose
    // ML floor is the RMS of those residuals. Labels carry noise of a width that differs by family.
    std::vector<rrl_star_input> stars;
    std::vector<double> y;
    std::vector<std::string> family;
    std::mt19937_64 rng(5);
    std::normal_distribution<double> z;
    const double noise[3] = {0.05, 0.15, 0.30};
    for (int f = 0; f < 3; ++f) {
        auto s = simulate(70, rr_type::rrc, 41 + std::uint64_t(f));
        for (std::size_t i = 0; i < s.stars.size(); ++i) {
            if (!s.stars[i].ok()) continue;
            stars.push_back(s.stars[i]);
            y.push_back(s.feh_true[i] + noise[f] * z(rng));
            family.push_back("fam" + std::to_string(f));
        }
    }
    std::vector<std::size_t> idx(stars.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    rrl_model_options mo;
    mo.architecture = rrl_architecture::fourier_linear;
    mo.types = {rr_type::rrc};
    rrl_training_options to;
    to.progress = false;
    const auto cf = rrl_cross_family_calibration(stars, y, idx, family, mo, to);
    double ss = 0;
    std::size_t n = 0;
    for (int f = 0; f < 3; ++f) {
        std::vector<std::size_t> tr;
        std::vector<rrl_star_input> te;
        std::vector<double> yte;
        for (auto i : idx)
            if (family[i] == "fam" + std::to_string(f)) {
                te.push_back(stars[i]);
                yte.push_back(y[i]);
            } else {
                tr.push_back(i);
            }
        rrlyrae_model m(mo);
        rrl_training_options t = to;
        t.calibrate = false;
        m.fit(stars, y, tr, t);
        const auto p = m.predict(te);
        for (std::size_t k = 0; k < te.size(); ++k) {
            ss += (p[k].feh - yte[k]) * (p[k].feh - yte[k]);
            ++n;
        }
    }
    REQUIRE(n == idx.size());
    CHECK(cf.points.size() == n);
    CHECK(cf.calibration.apply(rr_type::rrc, 60, 0.0) == Approx(std::sqrt(ss / double(n))).epsilon(1e-6));
    const auto& fams = cf.calibration.fitted_on().at("families");
    REQUIRE(fams.size() == 3);
    // the noisiest family is covered least: what a family unlike the others does under one calibration
    CHECK(fams[2]["coverage_1sigma"].get<double>() < fams[0]["coverage_1sigma"].get<double>());

    SECTION("the label-error term: predict adds the star's classical sigma times the factor") {
        rrlyrae_model m(mo);
        m.fit(stars, y, idx, to);
        auto c = cf.calibration;
        c.set_label_scale(rr_type::rrc, 0.8);
        m.set_calibration(c);
        const auto p = m.predict(stars);
        const auto cl = classical_feh(stars);
        const double f0 = cf.calibration.apply(rr_type::rrc, 60, 0.0);
        for (std::size_t i = 0; i < stars.size(); i += 13)
            CHECK(p[i].sigma == Approx(std::hypot(f0, 0.8 * cl[i].sigma)).epsilon(1e-9));
        // it travels in the model file
        const auto back = rrlyrae_model::from_json(m.to_json(), "m.json");
        CHECK(back.predict({stars[3]})[0].sigma == Approx(p[3].sigma).epsilon(1e-9));
        CHECK_THROWS_AS(c.set_label_scale(rr_type::rrc, -1.0), value_error);
    }
    SECTION("one family is not enough") {
        std::vector<std::size_t> one;
        for (auto i : idx)
            if (family[i] == "fam0") one.push_back(i);
        CHECK_THROWS_AS(rrl_cross_family_calibration(stars, y, one, family, mo, to), value_error);
    }
}

TEST_CASE("the label-error factor recovers a known label-noise variance", "[rrlyrae][sigma]") {
    // a model that reproduces curve-derived labels: against the labels its residual is
    // N(0, (s raw)^2 + f^2); against the truth the label's own error lambda * sigma_label (known per star)
    // adds in quadrature. Fitting lambda on residuals against the truth must recover it; the calibration
    // without it must not cover the truth.
    std::mt19937_64 rng(23);
    std::normal_distribution<double> z;
    std::uniform_real_distribution<double> u(0.02, 0.2), ul(0.05, 0.5);
    const double s_true = 1.3, f_true = 0.05, lam_true = 0.7;
    std::vector<rrl_calibration_point> vs_label, vs_truth;
    for (int i = 0; i < 8000; ++i) {
        const double raw = u(rng), sl = ul(rng);
        const std::size_t n = std::size_t(30 + i % 150);
        const double model_err = std::sqrt(s_true * s_true * raw * raw + f_true * f_true) * z(rng);
        const rr_type t = i % 2 ? rr_type::rrab : rr_type::rrc;
        vs_label.push_back({t, n, model_err, raw, sl});
        vs_truth.push_back({t, n, model_err + lam_true * sl * z(rng), raw, sl});
    }
    auto c = rrl_sigma_calibration::fit(vs_label, 20, 400);
    CHECK(!c.has_label_term());
    auto cover = [&](const rrl_sigma_calibration& cal) {
        std::vector<double> r, s;
        for (const auto& p : vs_truth) {
            r.push_back(p.residual);
            s.push_back(cal.apply(p.type, p.n_epochs, p.sigma_raw, p.sigma_label));
        }
        return rrl_coverage(r, s, 1.0);
    };
    CHECK(cover(c) < 0.5);
    const auto lam = c.fit_label_scale(vs_truth);
    CHECK(lam.first == Approx(lam_true).epsilon(0.05));
    CHECK(lam.second == Approx(lam_true).epsilon(0.05));
    CHECK(c.has_label_term());
    CHECK(cover(c) == Approx(0.683).margin(4 * std::sqrt(0.683 * 0.317 / 8000) + 0.01));
    const auto back = rrl_sigma_calibration::from_json(c.to_json());
    CHECK(back.apply(rr_type::rrab, 60, 0.1, 0.3) == Approx(c.apply(rr_type::rrab, 60, 0.1, 0.3)).epsilon(1e-12));
    CHECK(back.apply(rr_type::rrab, 60, 0.1, std::nan("")) == Approx(c.apply(rr_type::rrab, 60, 0.1)).epsilon(1e-12));
    auto j = c.to_json();
    j["bins"][0]["label_scale"] = -0.5;
    CHECK_THROWS_AS(rrl_sigma_calibration::from_json(j), value_error);
}

TEST_CASE("inverse_variance_combine: the closed form of two independent Gaussian estimates", "[rrlyrae][sigma]") {
    // (-1.0 +- 0.3) and (-1.6 +- 0.4): weights 1/0.09 and 1/0.16 -> mean -1.216, sigma 0.24 exactly
    const auto c = inverse_variance_combine({-1.0, 0.3}, {-1.6, 0.4});
    CHECK(c.feh == Approx(-1.216).epsilon(1e-12));
    CHECK(c.sigma == Approx(0.24).epsilon(1e-12));
    // symmetric, and equal sigmas give the plain mean with sigma / sqrt(2)
    const auto d = inverse_variance_combine({-1.6, 0.4}, {-1.0, 0.3});
    CHECK(d.feh == Approx(c.feh).epsilon(1e-14));
    const auto e = inverse_variance_combine({-1.0, 0.2}, {-2.0, 0.2});
    CHECK(e.feh == Approx(-1.5).epsilon(1e-14));
    CHECK(e.sigma == Approx(0.2 / std::sqrt(2.0)).epsilon(1e-14));
    // an unusable estimate is left out
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto f = inverse_variance_combine({-1.0, 0.3}, {nan, 0.1});
    CHECK(f.feh == -1.0);
    CHECK(f.sigma == 0.3);
    CHECK(inverse_variance_combine({-1.0, 0.0}, {-1.2, 0.1}).feh == -1.2);
    CHECK_FALSE(inverse_variance_combine({nan, 0.3}, {-1.0, nan}).usable());
}

TEST_CASE("rrl_classical_map: a classical estimate on another scale, mapped, calibrated and combined, beats both",
          "[rrlyrae][sigma]") {
    // truth t; a network estimate t + N(0, 0.15) with sigma 0.15; a classical estimate on another scale,
    // 0.2 + 0.8 t + N(0, s_i), whose reported sigma is 0.7 s_i (too small) and s_i spans 0.04-0.8 dex.
    // The oracle: the inverse-variance combination with the true map and the true sigmas.
    std::mt19937_64 rng(2027);
    std::normal_distribution<double> z(0.0, 1.0);
    std::uniform_real_distribution<double> u(std::log(0.04), std::log(0.8));
    const auto make = [&](std::size_t n, std::vector<rrl_star_input>& st, std::vector<rrl_prediction>& net,
                          std::vector<rrl_prediction>& cl, std::vector<double>& truth, std::vector<double>& s_true) {
        for (std::size_t i = 0; i < n; ++i) {
            rrl_star_input s;
            s.id = std::to_string(i);
            s.type = rr_type::rrab;
            s.n_epochs = 40;
            st.push_back(s);
            const double t = -1.5 + 0.4 * z(rng), si = std::exp(u(rng));
            truth.push_back(t);
            s_true.push_back(si);
            rrl_prediction p;
            p.feh = t + 0.15 * z(rng);
            p.sigma = 0.15;
            net.push_back(p);
            rrl_prediction c;
            c.feh = 0.2 + 0.8 * t + si * z(rng);
            c.sigma = 0.7 * si;
            cl.push_back(c);
        }
    };
    std::vector<rrl_star_input> st, st2;
    std::vector<rrl_prediction> net, cl, net2, cl2;
    std::vector<double> truth, s_true, truth2, s_true2;
    make(3000, st, net, cl, truth, s_true);
    make(3000, st2, net2, cl2, truth2, s_true2);
    const auto map = rrl_classical_map::fit(st, cl, truth);
    REQUIRE(map.lines().size() == 1);
    CHECK(map.lines()[0].slope == Approx(1.25).epsilon(0.05));   // 1 / 0.8
    CHECK(map.lines()[0].offset == Approx(-0.25).margin(0.08));  // -0.2 / 0.8
    // the reported sigma was 0.7 of the true one: the calibration's scale undoes it (1 / 0.7)
    CHECK(map.calibration().bins().front().scale == Approx(1.0 / 0.7).epsilon(0.08));

    const auto comb = rrl_combine_with_classical(st2, net2, cl2, map);
    double se_net = 0, se_cl = 0, se_comb = 0, se_oracle = 0;
    std::vector<double> res, sig;
    for (std::size_t i = 0; i < st2.size(); ++i) {
        const auto m = map.apply(rr_type::rrab, 40, cl2[i]);
        se_net += std::pow(net2[i].feh - truth2[i], 2);
        se_cl += std::pow(m.feh - truth2[i], 2);
        se_comb += std::pow(comb[i].feh - truth2[i], 2);
        const auto o = inverse_variance_combine({net2[i].feh, 0.15}, {(cl2[i].feh - 0.2) / 0.8, s_true2[i] / 0.8});
        se_oracle += std::pow(o.feh - truth2[i], 2);
        res.push_back(comb[i].feh - truth2[i]);
        sig.push_back(comb[i].sigma);
        CHECK(comb[i].sigma <= 0.15 + 1e-12);  // never less sure than the better input
    }
    CHECK(se_comb < 0.85 * se_net);
    CHECK(se_comb < 0.5 * se_cl);
    CHECK(se_comb < 1.1 * se_oracle);  // close to the combination that knows the truth's map and sigmas
    CHECK(rrl_coverage(res, sig, 1.0) == Approx(0.683).margin(0.04));
    CHECK(rrl_coverage(res, sig, 2.0) == Approx(0.954).margin(0.03));
    // a model prediction without a sigma, or a flagged one, is left as it is
    net2[0].sigma = std::numeric_limits<double>::quiet_NaN();
    net2[1].flag = "too_few_epochs";
    const auto comb2 = rrl_combine_with_classical(st2, net2, cl2, map);
    CHECK(comb2[0].feh == net2[0].feh);
    CHECK_FALSE(comb2[1].ok());
    // a classical estimate that does not rise with the label cannot be mapped
    for (auto& c : cl) c.feh = -c.feh;
    CHECK_THROWS_AS(rrl_classical_map::fit(st, cl, truth), value_error);
}

TEST_CASE("leave-one-family-out scores a held-out family's test set and the classical combination",
          "[rrlyrae][transfer]") {
    std::vector<rrl_family> fam, test;
    for (std::uint64_t seed : {41, 42, 43}) {
        const std::string name = "seed" + std::to_string(seed);
        fam.push_back(truth_family(name, simulate(70, rr_type::rrc, seed)));
        // every star with >= 100 epochs
        test.push_back(truth_family(name, simulate(30, rr_type::rrc, seed + 100, 100), false));
    }
    rrl_transfer_options o;
    o.model.architecture = rrl_architecture::fourier_linear;
    o.training.progress = false;
    o.combine_classical = true;
    const auto folds = leave_one_family_out(fam, o, &test);
    REQUIRE(folds.size() == 3);
    for (std::size_t h = 0; h < 3; ++h) {
        std::size_t usable = 0;
        for (const auto& x : test[h].stars) usable += x.ok();
        std::size_t trainable = 0;  // the other two families' usable stars, no test star
        for (std::size_t f = 0; f < 3; ++f)
            if (f != h)
                for (const auto& x : fam[f].stars) trainable += x.ok();
        CHECK(folds[h].n_train == trainable);
        REQUIRE(folds[h].model.size() == usable);
        REQUIRE(folds[h].combined.size() == usable);
        for (std::size_t k = 0; k < usable; ++k) {
            CHECK(folds[h].model[k].n_epochs >= 100);
            CHECK(folds[h].combined[k].id == folds[h].model[k].id);
            CHECK(folds[h].combined[k].sigma <= folds[h].model[k].sigma + 1e-12);
        }
        CHECK(folds[h].to_json().contains("combined_vs_truth"));
    }
    test.pop_back();
    CHECK_THROWS_AS(leave_one_family_out(fam, o, &test), value_error);
}
