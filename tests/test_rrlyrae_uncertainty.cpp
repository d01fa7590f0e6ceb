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
#include <numeric>
#include <random>

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
    for (std::uint64_t seed : {31, 32, 33}) {
        auto s = simulate(70, rr_type::rrc, seed);
        rrl_family f;
        f.name = "seed" + std::to_string(seed);
        f.stars = s.stars;
        f.label = s.feh_true;
        f.truth = s.feh_true;
        fam.push_back(f);
    }
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
