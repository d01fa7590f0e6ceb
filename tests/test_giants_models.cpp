// The giant-star [Fe/H] models on simulated giants with known answers: UA-CSNet (architecture, training,
// calibration of sigma, the cost-sensitive weights against unweighted training on the metal-poor tail,
// model files, const predict from many threads), the Bayesian MLP (eq. 5, MC dropout seeded, sigma growing outside the training range),
// the photometric parallax relations (eqs. 6, 8, inverse variance) and the two-stage colour model.
// Untagged cases are small (a few seconds); [slow] cases train at the size the docs report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "ferrum/models/photometric_parallax.hpp"
#include "ferrum/models/ua_csnet.hpp"
#include "ferrum/sim/giants.hpp"

namespace fs = std::filesystem;
using namespace ferrum;
using namespace ferrum::models;

namespace {

struct xp_data {
    std::vector<spectra::xp_pixels> x;
    std::vector<double> feh, feh_true, bp_rp0;
};

xp_data xp_sample(std::size_t n, std::uint64_t seed) {
    const auto s = sim::simulate_giants(n, {}, seed);
    xp_data d;
    for (const auto& g : s.stars) {
        d.x.push_back(spectra::resample_xp(s.wavelength, g.xp_flux, g.xp_flux_error));
        d.feh.push_back(g.feh);
        d.feh_true.push_back(g.feh_true);
        d.bp_rp0.push_back(g.bp_rp0);
    }
    return d;
}

/// Colour features with the true parallax (so the Bayesian MLP is tested on its own).
struct colour_data {
    std::vector<std::vector<double>> x;
    std::vector<double> feh, feh_error, feh_true;
};

colour_data colour_sample(std::size_t n, std::uint64_t seed, sim::giant_sim_options o = {}) {
    o.spectra = false;
    const auto s = sim::simulate_giants(n, o, seed);
    colour_data d;
    for (const auto& g : s.stars) {
        const auto f = photometry::make_colour_features(g.mag, g.parallax_true);
        REQUIRE(f.ok());
        d.x.push_back(f.values);
        d.feh.push_back(g.feh);
        d.feh_error.push_back(g.feh_error);
        d.feh_true.push_back(g.feh_true);
    }
    return d;
}

/// The photometry table a survey would give for the simulated stars, with their labels.
std::vector<photometry::photometry_row> photometry_rows(const sim::giant_sample& s, std::vector<double>& y,
                                                        std::vector<double>& ye) {
    std::vector<photometry::photometry_row> rows;
    for (const auto& g : s.stars) {
        photometry::photometry_row r;
        r.source_id = g.source_id;
        r.mag = g.mag;
        r.parallax = g.parallax;
        r.parallax_error = g.parallax_error;
        rows.push_back(r);
        y.push_back(g.feh);
        ye.push_back(g.feh_error);
    }
    return rows;
}

fs::path temp_dir() {
    const fs::path d = fs::temp_directory_path() / ("ferrum_giants_models_" + std::to_string(std::random_device{}()));
    fs::create_directories(d);
    return d;
}

double stdev(const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= double(v.size());
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / double(v.size()));
}

std::vector<std::size_t> range(std::size_t lo, std::size_t hi) {
    std::vector<std::size_t> v;
    for (std::size_t i = lo; i < hi; ++i) v.push_back(i);
    return v;
}

}  // namespace

TEST_CASE("UA-CSNet has the paper's layer widths", "[giants][ua_csnet]") {
    ua_csnet m;
    std::size_t n = 0;
    for (const auto& p : m.network().parameters()) n += p.size();
    // [Fe/H] branch 60-256-64-16-8-1, errors 60-16, concat(8 + 16)-8-1
    const std::size_t want = (60 * 256 + 256) + (256 * 64 + 64) + (64 * 16 + 16) + (16 * 8 + 8) + (8 + 1) +
                             (60 * 16 + 16) + (24 * 8 + 8) + (8 + 1);
    CHECK(n == want);
    CHECK_THROWS_AS(ua_csnet(ua_csnet_options{60, {}, 16, 8, 0.02}), value_error);
}

TEST_CASE("UA-CSNet trains on simulated XP spectra, predicts floored sigmas and round-trips its model file",
          "[giants][ua_csnet]") {
    const auto d = xp_sample(3500, 21);
    const auto tr = range(0, 2500), te = range(2500, 3500);
    ua_csnet m;
    ua_csnet_training_options t;
    t.max_epochs = 25;
    t.progress = false;
    m.fit(d.x, d.feh, d.bp_rp0, tr, t);
    const auto p = m.predict(d.x);
    std::vector<double> yte;
    for (auto i : te) yte.push_back(d.feh[i]);
    const auto c = calibration(d.feh, p, {}, te);
    // it learnt [Fe/H]: the test residuals are far smaller than the spread of the labels
    CHECK(c.rms < 0.6 * stdev(yte));
    for (const auto& q : p) CHECK(q.sigma >= std::sqrt(0.02) - 1e-9);
    // a short run is not yet calibrated to +-0.03 (the [slow] case is); it must be in the neighbourhood
    CHECK(c.within_1sigma > 0.55);
    CHECK(c.within_1sigma < 0.85);

    const auto dir = temp_dir();
    const auto path = (dir / "ua.json").string();
    m.save(path);
    auto back = ua_csnet::load(path);
    const auto p2 = back.predict(d.x);
    for (std::size_t i = 0; i < p.size(); i += 97) {
        CHECK(p2[i].value == p[i].value);
        CHECK(p2[i].sigma == p[i].sigma);
    }
    // the file is the version-2 envelope; its network is a kind "nn" document of the same envelope: the
    // generic loader reads it and re-runs its self-test vector
    auto j = nlohmann::json::parse(std::ifstream(path));
    CHECK(j.at("format") == "ferrum.model");
    CHECK(j.at("version") == 2);
    CHECK(j.at("kind") == "ua_csnet");
    CHECK_NOTHROW(nn::model_from_json<float>(j.at("network"), path));
    const auto original = j;
    // a changed weight is caught by the embedded test vector
    auto& bias = j["network"]["parameters"]["feh_out.bias"];
    bias[0] = bias[0].get<double>() + 0.5;
    { std::ofstream(path) << j.dump(); }
    CHECK_THROWS_AS(ua_csnet::load(path), input_error);
    CHECK_NOTHROW(ua_csnet::load(path, false));
    // a change in preprocessing is caught by the raw-input self-test (the network's own vector still passes)
    j = original;
    j["preprocessing"]["flux"]["mean"][5] = j["preprocessing"]["flux"]["mean"][5].get<double>() + 0.05;
    { std::ofstream(path) << j.dump(); }
    CHECK_THROWS_AS(ua_csnet::load(path), input_error);
    j = original;
    j["kind"] = "bnn_mlp";
    CHECK_THROWS_AS(ua_csnet::from_json(j, path), input_error);
    CHECK_THROWS_AS(ua_csnet::load((dir / "missing.json").string()), io_error);
    fs::remove_all(dir);

    std::vector<spectra::xp_pixels> bad{d.x[0]};
    bad[0].flux.pop_back();
    CHECK_THROWS_AS(m.predict(bad), value_error);
}

TEST_CASE("UA-CSNet: calibrated sigma, and cost-sensitive weights reduce the metal-poor bias",
          "[giants][ua_csnet][slow]") {
    const auto d = xp_sample(14000, 7);
    const auto tr = range(0, 10000), te = range(10000, 14000);
    ua_csnet_training_options t;
    t.progress = false;
    ua_csnet weighted;
    weighted.fit(d.x, d.feh, d.bp_rp0, tr, t);
    const auto pw = weighted.predict(d.x);
    const auto c = calibration(d.feh, pw, {}, te);
    CHECK(c.within_1sigma == Approx(0.68).margin(0.03));
    CHECK(c.within_2sigma == Approx(0.95).margin(0.02));

    t.cost_sensitive = false;
    ua_csnet plain;
    plain.fit(d.x, d.feh, d.bp_rp0, tr, t);
    const auto pu = plain.predict(d.x);
    std::vector<std::size_t> tail;
    for (auto i : te)
        if (d.feh_true[i] < -2.0) tail.push_back(i);
    REQUIRE(tail.size() > 50);
    const auto bw = calibration(d.feh_true, pw, {}, tail).bias, bu = calibration(d.feh_true, pu, {}, tail).bias;
    WARN("metal-poor tail bias: cost-sensitive " << bw << ", unweighted " << bu);
    CHECK(std::abs(bw) < std::abs(bu));
}

TEST_CASE("Bayesian MLP: eq. 5 sigma, seeded MC dropout, and sigma_dropout grows outside the training range",
          "[giants][bnn]") {
    sim::giant_sim_options in_range;
    in_range.uniform_feh = true;
    in_range.feh_min = -1.0;
    in_range.feh_max = 0.5;
    const auto d = colour_sample(3000, 3, in_range);
    bnn_mlp m;
    bnn_training_options t;
    t.max_epochs = 40;
    t.progress = false;
    m.fit(d.x, d.feh, d.feh_error, {}, t);
    CHECK(m.sigma_scale() > 0.0);

    sim::giant_sim_options poor = in_range;
    poor.feh_min = -3.0;
    poor.feh_max = -2.2;
    const auto inside = colour_sample(500, 4, in_range), outside = colour_sample(500, 5, poor);
    const auto pi = m.predict(inside.x, 40, 9), po = m.predict(outside.x, 40, 9);
    for (const auto& q : pi) CHECK(q.sigma == Approx(std::hypot(q.sigma_dropout, q.sigma_model)).epsilon(1e-12));
    auto median_drop = [](std::vector<giant_prediction> p) {
        std::vector<double> v;
        for (const auto& q : p) v.push_back(q.sigma_dropout);
        std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
        return v[v.size() / 2];
    };
    const double s_in = median_drop(pi), s_out = median_drop(po);
    WARN("median sigma_dropout inside " << s_in << ", outside " << s_out);
    CHECK(s_out > 1.2 * s_in);

    const auto again = m.predict(inside.x, 40, 9);
    CHECK(again[7].value == pi[7].value);
    CHECK(again[7].sigma == pi[7].sigma);
    const auto det = m.predict(inside.x, 1);
    CHECK(det[7].sigma_dropout == 0.0);

    const auto dir = temp_dir();
    m.save((dir / "bnn.json").string());
    auto back = bnn_mlp::load((dir / "bnn.json").string());
    CHECK(back.predict(inside.x, 40, 9)[7].sigma == pi[7].sigma);
    fs::remove_all(dir);

    auto bad = inside.x;
    bad[3][2] = NAN;
    CHECK_THROWS_AS(m.predict(bad), value_error);
}

TEST_CASE("sigma recalibration: the coverage factor of Gaussian residuals is their true scale", "[giants][bnn]") {
    // r_i ~ N(0, (2 s_i)^2 + e_i^2): the factor k with P(|r| < sqrt(k^2 s^2 + e^2)) = 0.6827 is 2
    std::mt19937_64 rng(17);
    std::normal_distribution<double> z;
    std::uniform_real_distribution<double> u(0.05, 0.5);
    std::vector<double> r, s, e0, e;
    for (int i = 0; i < 200000; ++i) {
        const double si = u(rng), ei = i % 2 ? u(rng) : 0.0;
        s.push_back(si);
        e.push_back(ei);
        e0.push_back(0.0);
        r.push_back(std::sqrt(4 * si * si + ei * ei) * z(rng));
    }
    std::vector<double> r0;  // the same without label errors
    for (std::size_t i = 0; i < r.size(); ++i)
        r0.push_back(2 * s[i] * (r[i] / std::sqrt(4 * s[i] * s[i] + e[i] * e[i])));
    CHECK(models::detail::coverage_scale(r0, s, e0) == Approx(2.0).epsilon(0.02));
    CHECK(models::detail::coverage_scale(r, s, e) == Approx(2.0).epsilon(0.03));
    // too few stars, or label errors that alone cover more than 68.3 %: sigma is left alone
    CHECK(models::detail::coverage_scale({0.1, 0.2}, {1, 1}, {0, 0}) == 1.0);
    CHECK(models::detail::coverage_scale(std::vector<double>(100, 0.01), std::vector<double>(100, 1.0),
                                         std::vector<double>(100, 1.0)) == 1.0);
}

TEST_CASE("photometric parallax relations: eqs. 6 and 8 and the inverse-variance mean", "[giants][parallax]") {
    // 1 mas at J_c = 10: distance 1 kpc, M_J = 10 - 10 = 0, 10^(0.2 M_J) = 1
    CHECK(pseudo_magnitude(1.0, 10.0) == Approx(1.0).epsilon(1e-14));
    CHECK(pseudo_magnitude(0.5, 12.0) ==
          Approx(std::pow(10.0, 0.2 * (12.0 + 5 * std::log10(0.5e-3) + 5))).epsilon(1e-12));
    CHECK(parallax_from_pseudo(pseudo_magnitude(0.37, 13.1), 13.1) == Approx(0.37).epsilon(1e-14));
    const auto m = inverse_variance_mean({1.0, 0.1}, {2.0, 0.2});
    CHECK(m.value == Approx((1.0 / 0.01 + 2.0 / 0.04) / (1 / 0.01 + 1 / 0.04)).epsilon(1e-14));
    CHECK(m.error == Approx(1 / std::sqrt(1 / 0.01 + 1 / 0.04)).epsilon(1e-14));
    CHECK(inverse_variance_mean({NAN, 0.1}, {2.0, 0.2}).value == 2.0);
    CHECK(std::isnan(inverse_variance_mean({NAN, 0.1}, {2.0, -1}).value));
    giant_cut cut;
    CHECK(cut.is_giant(pseudo_magnitude(1.0, 10.0), 0.7));      // M_J = 0
    CHECK_FALSE(cut.is_giant(std::pow(10.0, 0.2 * 4.0), 0.5));  // M_J = 4: a dwarf
}

TEST_CASE("two-stage colour model: cross-trained parallaxes, [Fe/H] with sigmas, flags, model file", "[giants][bnn]") {
    sim::giant_sim_options o;
    o.spectra = false;
    const auto s = sim::simulate_giants(1800, o, 17);
    std::vector<double> y, ye;
    auto rows = photometry_rows(s, y, ye);
    rows[5].mag[photometry::W1] = NAN;
    std::vector<photometry::photometry_row> tr(rows.begin(), rows.begin() + 1500), te(rows.begin() + 1500, rows.end());
    photometric_parallax_options po;
    po.folds = 2;
    po.mc_samples = 10;
    po.training.max_epochs = 60;
    po.training.progress = false;
    bnn_training_options t;
    t.max_epochs = 80;
    t.progress = false;
    colour_feh_model m;
    const auto fit = m.fit(tr, std::vector<double>(y.begin(), y.begin() + 1500),
                           std::vector<double>(ye.begin(), ye.begin() + 1500), po, t);
    CHECK(fit[5].flag == "missing bands: W1");
    CHECK(std::isnan(fit[5].feh.value));
    // the combined parallax is at least as precise as Gaia's
    for (std::size_t i = 0; i < 1500; i += 50)
        if (fit[i].flag.empty()) CHECK(fit[i].parallax.parallax.error <= rows[i].parallax_error + 1e-12);
    const auto p = m.predict(te);
    std::vector<giant_prediction> fp;
    std::vector<double> yl;
    std::size_t flagged = 0;
    for (std::size_t i = 0; i < te.size(); ++i) {
        if (!p[i].flag.empty()) {
            // only a non-positive combined parallax may stop a star with complete photometry
            CHECK(p[i].flag.find("parallax") != std::string::npos);
            CHECK(std::isnan(p[i].feh.value));
            // ... and only where Gaia's own parallax is weak: a combination by inverse variance cannot turn a
            // 3-sigma Gaia parallax non-positive unless the network's is badly wrong
            CHECK(te[i].parallax < 3 * te[i].parallax_error);
            ++flagged;
            continue;
        }
        fp.push_back(p[i].feh);
        yl.push_back(y[1500 + i]);
    }
    // The count moves with the training trajectory (7 of 300 after constant input columns became exact
    // zeros, 5 before): bound it loosely, the per-star check above is the sharp one.
    CHECK(flagged < te.size() / 25);
    CHECK(calibration(yl, fp).rms < 0.8 * stdev(yl));

    const auto dir = temp_dir();
    const auto path = (dir / "colour.json").string();
    m.save(path);
    auto back = colour_feh_model::load(path);
    const auto p2 = back.predict(te);
    CHECK(p2[10].feh.value == p[10].feh.value);
    CHECK(p2[10].parallax.parallax.value == p[10].parallax.parallax.value);
    // version 2 with a raw-photometry self-test: a changed extinction law is caught at load
    auto j = nlohmann::json::parse(std::ifstream(path));
    CHECK(j.at("kind") == "colour_feh");
    CHECK(j.at("self_test").at("rows").size() == 2);
    j["preprocessing"]["a_over_av"][3] = j["preprocessing"]["a_over_av"][3].get<double>() * 1.5;
    CHECK_THROWS_AS(colour_feh_model::from_json(j, path), input_error);
    // one loaded model serves two threads with the serial result
    std::vector<colour_feh_result> ta, tb;
    std::thread t1([&] { ta = std::as_const(back).predict(te, 5); });
    std::thread t2([&] { tb = std::as_const(back).predict(te, 5); });
    t1.join();
    t2.join();
    const auto ts = std::as_const(back).predict(te, 5);
    std::size_t same = 0;
    for (std::size_t i = 0; i < te.size(); ++i)
        same += (ts[i].feh.sigma == ta[i].feh.sigma || (std::isnan(ts[i].feh.sigma) && std::isnan(ta[i].feh.sigma))) &&
                (ts[i].feh.sigma == tb[i].feh.sigma || (std::isnan(ts[i].feh.sigma) && std::isnan(tb[i].feh.sigma)));
    CHECK(same == te.size());
    fs::remove_all(dir);
}

TEST_CASE("two-stage colour model: calibrated [Fe/H] sigmas at the documented size", "[giants][bnn][slow]") {
    sim::giant_sim_options o;
    o.spectra = false;
    const auto s = sim::simulate_giants(14000, o, 7);
    std::vector<double> y, ye;
    auto rows = photometry_rows(s, y, ye);
    const std::size_t n = 10000;
    std::vector<photometry::photometry_row> tr(rows.begin(), rows.begin() + n), te(rows.begin() + n, rows.end());
    photometric_parallax_options po;
    po.training.max_epochs = 200;
    po.training.progress = false;
    po.mc_samples = 30;
    bnn_training_options t;
    t.max_epochs = 200;
    t.progress = false;
    colour_feh_model m;
    m.fit(tr, std::vector<double>(y.begin(), y.begin() + n), std::vector<double>(ye.begin(), ye.begin() + n), po, t);
    const auto p = m.predict(te);
    std::vector<giant_prediction> fp;
    std::vector<double> yl, el;
    for (std::size_t i = 0; i < te.size(); ++i) {
        fp.push_back(p[i].feh);
        yl.push_back(y[n + i]);
        el.push_back(ye[n + i]);
    }
    const auto c = calibration(yl, fp, el);
    CHECK(c.within_1sigma == Approx(0.68).margin(0.03));
    CHECK(c.within_2sigma == Approx(0.95).margin(0.02));
}

TEST_CASE("giants model files written before the options were declared once still load, with the same fields",
          "[giants][model_io]") {
    // tests/data/giants/*.json: small models saved by the code of commit 9dae619, whose hand-written JSON the
    // FERRUM_OPTIONS declarations replaced. Loading re-runs each file's embedded test vector (verify).
    const std::string dir = std::string(FERRUM_TEST_DATA_DIR) + "/giants/";
    const auto read = [](const std::string& path) {
        std::ifstream in(path);
        return nlohmann::json::parse(in);
    };
    const auto ua_doc = read(dir + "ua_csnet_small.json");
    auto ua = ua_csnet::from_json(ua_doc, "ua_csnet_small.json");
    CHECK(ua.options().pixels == 60);
    CHECK(ua.options().feh_widths == std::vector<std::size_t>{4, 2});
    CHECK(ua.options().error_width == 3);
    CHECK(ua.options().uncertainty_width == 2);
    CHECK(ua.options().epsilon == 0.03);
    // written back field for field, in the version-2 envelope: the architecture under "options"
    const auto ua_v2 = ua.to_json();
    for (const auto& f : {"feh_widths", "error_width", "uncertainty_width", "epsilon"})
        CHECK(ua_v2.at("options").at(f) == ua_doc.at("preprocessing").at(f));
    for (const auto& f : {"resampling", "flux", "flux_error"})
        CHECK(ua_v2.at("preprocessing").at(f) == ua_doc.at("preprocessing").at(f));
    // the network written back in the version-2 envelope holds the same weights the version-1 file had
    CHECK(ua_v2.at("network").at("format") == "ferrum.model");
    CHECK(ua_v2.at("network").at("parameters") ==
          nn::model_to_json(nn::model_from_json<float>(ua_doc, "ua_csnet_small.json").model).at("parameters"));

    const auto bnn_doc = read(dir + "bnn_mlp_small.json");
    auto bnn = bnn_mlp::from_json(bnn_doc, "bnn_mlp_small.json");
    CHECK(bnn.options().inputs == 3);
    CHECK(bnn.options().hidden == std::vector<std::size_t>{4});
    CHECK(bnn.options().dropout == 0.1);
    const auto bnn_v2 = bnn.to_json();
    for (const auto& f : {"hidden", "dropout"}) CHECK(bnn_v2.at("options").at(f) == bnn_doc.at("preprocessing").at(f));
    for (const auto& f : {"target", "features", "target_scale", "sigma_scale"})
        CHECK(bnn_v2.at("preprocessing").at(f) == bnn_doc.at("preprocessing").at(f));
    CHECK(bnn_v2.at("network").at("parameters") ==
          nn::model_to_json(nn::model_from_json<float>(bnn_doc, "bnn_mlp_small.json").model).at("parameters"));

    // an unknown, a missing or an ill-typed architecture field is an input_error naming it
    const auto refused = [](auto load, nlohmann::json doc, const std::string& field) {
        INFO(field);
        try {
            load(doc);
            FAIL("loaded");
        } catch (const input_error& e) {
            CHECK(e.field() == field);
        }
    };
    const auto load_ua = [](const nlohmann::json& d) { return ua_csnet::from_json(d, "f.json"); };
    const auto load_bnn = [](const nlohmann::json& d) { return bnn_mlp::from_json(d, "f.json"); };
    auto d = ua_doc;
    d["preprocessing"]["feh_width"] = 4;
    refused(load_ua, d, "preprocessing.feh_width");
    d = ua_doc;
    d["preprocessing"].erase("epsilon");
    refused(load_ua, d, "preprocessing.epsilon");
    d = ua_doc;
    d["preprocessing"]["error_width"] = -3;
    refused(load_ua, d, "preprocessing.error_width");
    d = bnn_doc;
    d["preprocessing"]["dropout"] = "0.1";
    refused(load_bnn, d, "preprocessing.dropout");
    d = bnn_doc;
    d["preprocessing"].erase("hidden");
    refused(load_bnn, d, "preprocessing.hidden");
}

TEST_CASE("one trained model serves many threads: const predict from two threads equals a serial call",
          "[giants][bnn][ua_csnet]") {
    // bit for bit, MC dropout included (its masks are a pure function of the caller's seed)
    const auto d = colour_sample(600, 13, {});
    bnn_mlp m(bnn_options{24, {16, 16}, 0.2}, 3);
    bnn_training_options t;
    t.max_epochs = 5;
    t.progress = false;
    t.calibration_folds = 0;
    m.fit(d.x, d.feh, d.feh_error, {}, t);
    const bnn_mlp& cm = m;
    const auto serial = cm.predict(d.x, 20, 77, 1);
    std::vector<giant_prediction> a, b;
    std::thread ta([&] { a = cm.predict(d.x, 20, 77, 1); });
    std::thread tb([&] { b = cm.predict(d.x, 20, 77, 2); });
    ta.join();
    tb.join();
    REQUIRE(a.size() == serial.size());
    REQUIRE(b.size() == serial.size());
    std::size_t same = 0;
    for (std::size_t i = 0; i < serial.size(); ++i) {
        same += a[i].value == serial[i].value && a[i].sigma == serial[i].sigma && b[i].value == serial[i].value &&
                b[i].sigma == serial[i].sigma && b[i].sigma_dropout == serial[i].sigma_dropout;
    }
    CHECK(same == serial.size());
    // a different seed draws other masks: the MC sigma changes
    const auto other = cm.predict(d.x, 20, 78, 1);
    std::size_t changed = 0;
    for (std::size_t i = 0; i < serial.size(); ++i) changed += other[i].sigma_dropout != serial[i].sigma_dropout;
    CHECK(changed > serial.size() / 2);
    // deterministic prediction does not depend on the seed
    CHECK(cm.predict(d.x, 1, 5)[9].value == cm.predict(d.x, 1, 6)[9].value);

    const auto x = xp_sample(300, 5);
    ua_csnet u(ua_csnet_options{60, {16, 8}, 4, 4, 0.02});
    ua_csnet_training_options ut;
    ut.max_epochs = 3;
    ut.progress = false;
    u.fit(x.x, x.feh, x.bp_rp0, {}, ut);
    const ua_csnet& cu = u;
    const auto us = cu.predict(x.x, 1);
    std::vector<giant_prediction> ua, ub;
    std::thread tc([&] { ua = cu.predict(x.x, 1); });
    std::thread td([&] { ub = cu.predict(x.x, 2); });
    tc.join();
    td.join();
    std::size_t usame = 0;
    for (std::size_t i = 0; i < us.size(); ++i)
        usame += ua[i].value == us[i].value && ua[i].sigma == us[i].sigma && ub[i].value == us[i].value &&
                 ub[i].sigma == us[i].sigma;
    CHECK(usame == us.size());
}

TEST_CASE("giants model files of version 1 convert to version 2 with raw-input self-tests and the same predictions",
          "[giants][model_io]") {
    const std::string dir = std::string(FERRUM_TEST_DATA_DIR) + "/giants/";
    const auto read = [](const std::string& path) {
        std::ifstream in(path);
        return nlohmann::json::parse(in);
    };
    const auto tmp = temp_dir();

    // UA-CSNet: version 1 (tests/data, written by earlier code) -> version 2 -> the same predictions
    auto ua1 = ua_csnet::load(dir + "ua_csnet_small.json");
    const auto x = xp_sample(50, 17);
    const auto p1 = ua1.predict(x.x, 1);
    const auto path = (tmp / "ua2.json").string();
    ua1.save(path);
    const auto j2 = read(path);
    CHECK(j2.at("version") == 2);
    CHECK(j2.at("kind") == "ua_csnet");
    REQUIRE(j2.at("self_test").at("spectra").size() == 2);
    CHECK(j2.at("self_test").at("spectra")[0].at("flux").size() == 60);
    const auto ua2 = ua_csnet::load(path);
    const auto p2 = ua2.predict(x.x, 1);
    for (std::size_t i = 0; i < p1.size(); ++i) {
        CHECK(p2[i].value == p1[i].value);
        CHECK(p2[i].sigma == p1[i].sigma);
    }
    auto bad = j2;  // a changed error standardiser (preprocessing) is caught by the raw-input self-test
    bad["preprocessing"]["flux_error"]["scale"][7] = bad["preprocessing"]["flux_error"]["scale"][7].get<double>() * 3;
    CHECK_THROWS_AS(ua_csnet::from_json(bad, "bad.json"), input_error);
    CHECK_NOTHROW(ua_csnet::from_json(bad, "bad.json", false));
    bad = j2;
    bad["extra"] = 1;
    CHECK_THROWS_AS(ua_csnet::from_json(bad, "bad.json"), input_error);

    // Bayesian MLP: the same, deterministic and MC predictions
    auto b1 = bnn_mlp::load(dir + "bnn_mlp_small.json");
    std::vector<std::vector<double>> rows;
    std::mt19937_64 g(3);
    std::normal_distribution<double> nd(0.0, 1.0);
    for (int i = 0; i < 40; ++i) rows.push_back({nd(g), nd(g), nd(g)});
    const auto q1 = b1.predict(rows, 1), m1 = b1.predict(rows, 10, 4);
    const auto bpath = (tmp / "bnn2.json").string();
    b1.save(bpath);
    const auto k2 = read(bpath);
    CHECK(k2.at("version") == 2);
    CHECK(k2.at("kind") == "bnn_mlp");
    CHECK(k2.at("self_test").at("rows").size() == 2);
    const auto b2 = bnn_mlp::load(bpath);
    const auto q2 = b2.predict(rows, 1), m2 = b2.predict(rows, 10, 4);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CHECK(q2[i].value == q1[i].value);
        CHECK(q2[i].sigma == q1[i].sigma);
        CHECK(m2[i].value == m1[i].value);
        CHECK(m2[i].sigma == m1[i].sigma);
    }
    auto kb = k2;
    kb["preprocessing"]["target_scale"]["mean"] = kb["preprocessing"]["target_scale"]["mean"].get<double>() + 0.1;
    CHECK_THROWS_AS(bnn_mlp::from_json(kb, "bad.json"), input_error);
    kb = k2;
    kb["self_test"]["rows"][0][1] = kb["self_test"]["rows"][0][1].get<double>() + 1.0;
    CHECK_THROWS_AS(bnn_mlp::from_json(kb, "bad.json"), input_error);
    fs::remove_all(tmp);
}
