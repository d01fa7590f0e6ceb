// RR Lyrae [Fe/H] models: input flags, the classical relation against its closed form, training that learns
// (seeded, against predicting the mean), model files (round trip, self-test catches corruption), MC dropout.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <thread>

#include <ferrum/core/json_file.hpp>
#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

#include "simulated_rrlyrae.hpp"

using namespace ferrum;
using namespace ferrum::models;

namespace {

double mse(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s / double(a.size());
}

/// A small simulated RRab set for the architecture tests: its inputs, the usable stars for training, the first
/// few of them to predict, and short training options.
struct rrl_small_set {
    ferrum_test::simulated_rrlyrae set;
    std::vector<rrl_star_input> in, test;
    std::vector<std::size_t> tr;
    rrl_training_options to;
    rrl_small_set(std::size_t n, std::uint64_t seed, std::size_t n_test, int epochs, std::size_t batch)
        : set(ferrum_test::simulate_rrlyrae(n, rr_type::rrab, seed)),
          in(prepare_rrlyrae_inputs(set.curves, set.eph, {}, 2, false)) {
        for (std::size_t i = 0; i < in.size(); ++i)
            if (in[i].ok()) {
                tr.push_back(i);
                if (test.size() < n_test) test.push_back(in[i]);
            }
        to.max_epochs = epochs;
        to.batch_size = batch;
        to.progress = false;
        to.calibration_mc_samples = 2;
    }
};

}  // namespace

TEST_CASE("the models' batch tensor is the preprocessor's: one path from a light curve to a batch", "[rrlyrae]") {
    const auto set = ferrum_test::simulate_rrlyrae(6, rr_type::rrab, 5);
    const rrl_input_options opt;
    const auto stars = prepare_rrlyrae_inputs(set.curves, set.eph, opt, 1, false);
    // the same curves through the preprocessor as the example uses it (preprocess_curves, preprocessed_curve)
    std::vector<double> periods, epochs;
    for (const auto& e : set.eph) {
        periods.push_back(e.period);
        epochs.push_back(e.epoch);
    }
    batch_options b;
    b.threads = 1;
    b.show_progress = false;
    const auto pre = preprocess_curves(set.curves, periods, epochs,
                                       models::detail::rrl_preprocess_options(opt.n_phases_rrab, opt), b);
    std::vector<preprocessed_curve> curves;
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < stars.size(); ++i) {
        REQUIRE(stars[i].ok());
        REQUIRE(pre[i].ok());
        curves.push_back(pre[i].curve);
        rows.push_back(stars.size() - 1 - i);  // any order of rows
    }
    const auto from_stars = batch_tensor<float>(stars, rows);
    const auto from_curves = batch_tensor<float>(curves, rows);
    REQUIRE(from_stars.shape() == from_curves.shape());
    CHECK(from_stars == from_curves);  // bitwise
    // a model's time scaling is applied where the batch is built, to the time channel only
    const time_scaling ts{0.3, 0.2};
    std::vector<std::size_t> lengths{99};
    const auto scaled = batch_tensor<float>(stars, rows, ts, &lengths);
    CHECK(lengths.empty());  // all rows have 264 steps
    for (std::size_t k = 0; k < rows.size(); ++k)
        for (std::size_t t = 0; t < paper_phases_rrab; t += 37) {
            CHECK(scaled(k, t, 0) == static_cast<float>((double(from_stars(k, t, 0)) - 0.3) / 0.2));
            CHECK(scaled(k, t, 1) == from_stars(k, t, 1));
        }
}

TEST_CASE("stars that cannot be predicted are flagged, not guessed", "[rrlyrae]") {
    auto set = ferrum_test::simulate_rrlyrae(4, rr_type::rrab, 3);
    set.curves[0].time.resize(10);  // too few epochs
    set.curves[0].mag.resize(10);
    set.curves[0].mag_err.resize(10);
    set.eph[1].problem = "no_period: pf is missing";
    set.eph[2].type = rr_type::rrd;  // a type the RRab model does not serve
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, {}, 1, false);
    CHECK(in[0].flag.rfind("too_few_epochs", 0) == 0);
    CHECK(in[1].flag.rfind("no_period", 0) == 0);
    CHECK(in[3].ok());
    REQUIRE(in[3].steps() == paper_phases_rrab);

    // a folded curve without a period cannot feed a model that needs one
    folded_curve fc;
    fc.source_id = 42;
    for (int i = 0; i < 60; ++i) {
        fc.phase.push_back(i / 60.0);
        fc.mag.push_back(15 + 0.3 * std::cos(2 * M_PI * i / 60.0));
    }
    const auto f = prepare_rrlyrae_inputs(std::vector<folded_curve>{fc}, {rr_type::rrab}, {}, 1, false);
    CHECK(f[0].flag.rfind("no_period", 0) == 0);
    const auto u = prepare_rrlyrae_inputs(std::vector<folded_curve>{fc}, {rr_type::unknown}, {}, 1, false);
    CHECK(u[0].flag.rfind("unknown_type", 0) == 0);

    // a trained RRab model flags the RRd star instead of predicting it, and keeps the others' flags
    std::vector<rrl_star_input> train;
    auto more = ferrum_test::simulate_rrlyrae(60, rr_type::rrab, 5);
    const auto tin = prepare_rrlyrae_inputs(more.curves, more.eph, {}, 1, false);
    rrl_model_options mo;
    mo.architecture = rrl_architecture::fourier_linear;
    rrlyrae_model m(mo);
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < tin.size(); ++i)
        if (tin[i].ok()) idx.push_back(i);
    m.fit(tin, more.feh, idx, rrl_training_options{});
    const auto p = m.predict(in);
    CHECK(std::isnan(p[0].feh));
    CHECK(!p[0].ok());
    CHECK(std::isnan(p[1].feh));
    CHECK(p[2].flag.rfind("type_not_in_model", 0) == 0);
    CHECK(std::isnan(p[2].feh));
    CHECK(p[3].ok());
    CHECK(std::isfinite(p[3].feh));
}

TEST_CASE("classical pipeline equals the Muraveva et al. (2025) relation on a noise-free curve", "[rrlyrae]") {
    // m = 15 + sum A_k cos(2 pi k t / P + phi_k): phi31 = phi_3 - 3 phi_1 exactly, A2 = 0.1
    const double P = 0.55, phi1 = 0.4, phi2 = 2.0, phi3 = 1.3;
    light_curve lc;
    lc.source_id = 7;
    for (int i = 0; i < 90; ++i) {
        const double t = 13.37 * i + 0.01 * (i % 7);
        const double x = 2 * M_PI * t / P;
        lc.time.push_back(t);
        lc.mag.push_back(15 + 0.3 * std::cos(x + phi1) + 0.1 * std::cos(2 * x + phi2) + 0.05 * std::cos(3 * x + phi3));
        lc.mag_err.push_back(0.01);
    }
    const double phi31 = wrap_two_pi(phi3 - 3 * phi1);
    for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
        const auto in = prepare_rrlyrae_inputs({lc}, {{t, P, 1.234, 0.0, {}}}, {}, 1, false);
        REQUIRE(in[0].ok());
        const auto c = classical_feh(in);
        const double expect = t == rr_type::rrab ? -0.37 - 5.55 * P + 0.94 * phi31
                                                 : 0.80 - 8.54 * P + 0.23 * phi31 - 9.34 * 0.1;
        CHECK(c[0].feh == Approx(expect).margin(1e-6));
        // the networks see the same classical inputs and estimate as tabular features
        const auto& names = rrl_feature_names();
        auto feature = [&](const std::string& n) {
            const auto k = std::size_t(std::find(names.begin(), names.end(), n) - names.begin());
            REQUIRE(k < names.size());
            REQUIRE(in[0].features.size() == names.size());
            return in[0].features[k];
        };
        CHECK(feature("feh_classical") == Approx(expect).margin(1e-6));
        CHECK(feature("phi31_catalogue_order") == Approx(phi31).margin(1e-6));
        CHECK(feature("A2_catalogue_order") == Approx(0.1).margin(1e-7));
    }
}

TEST_CASE("training reduces the validation loss and beats predicting the mean; files round-trip", "[rrlyrae]") {
    auto set = ferrum_test::simulate_rrlyrae(420, rr_type::rrab, 11);
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, {}, 2, false);
    std::vector<std::size_t> tr, te;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].ok()) (i % 5 == 0 ? te : tr).push_back(i);
    REQUIRE(tr.size() > 250);

    rrl_model_options mo;
    mo.architecture = rrl_architecture::gru_fourier;
    mo.gru_sizes = {8, 8};
    mo.dropout = {0.1, 0.1};
    rrl_training_options to;
    to.max_epochs = 12;
    to.batch_size = 64;
    to.learning_rate = 0.01;
    to.progress = false;
    to.seed = 3;
    rrlyrae_model m(mo, 3);
    const auto h = m.fit(in, set.feh, tr, to);
    REQUIRE(h.epochs.size() >= 2);
    CHECK(h.best_val_loss < h.epochs.front().val_loss);

    std::vector<rrl_star_input> test;
    std::vector<double> yte;
    double ymean = 0;
    for (auto i : tr) ymean += set.feh[i];
    ymean /= double(tr.size());
    for (auto i : te) {
        test.push_back(in[i]);
        yte.push_back(set.feh[i]);
    }
    const auto p = m.predict(test, 16, 99);
    std::vector<double> pv;
    for (const auto& q : p) pv.push_back(q.feh);
    const double mse_model = mse(yte, pv), mse_mean = mse(yte, std::vector<double>(yte.size(), ymean));
    INFO("test MSE " << mse_model << " vs mean predictor " << mse_mean);
    CHECK(mse_model < 0.7 * mse_mean);

    SECTION("MC-dropout sigma is positive with dropout and zero without") {
        for (const auto& q : p) CHECK(q.sigma > 0);
        rrl_model_options m0 = mo;
        m0.dropout = {0.0, 0.0};
        m0.heteroscedastic = false;  // no aleatoric head either: the raw sigma is the MC spread alone
        rrl_training_options t0 = to;
        t0.max_epochs = 2;
        rrlyrae_model z(m0, 4);
        z.fit(in, set.feh, tr, t0);
        for (const auto& q : z.predict_raw(test, 8, 5)) CHECK(q.sigma == 0.0);  // raw: before the calibration's floor
    }

    SECTION("save, load (self-test re-checked), same predictions; a corrupted file is refused") {
        const auto path = (std::filesystem::temp_directory_path() / "ferrum_test_rrl_model.json").string();
        m.save(path);
        auto back = rrlyrae_model::load(path);
        const auto q = back.predict(test);
        for (std::size_t i = 0; i < q.size(); ++i) CHECK(q[i].feh == Approx(p[i].feh).margin(1e-6));
        auto j = m.to_json();
        auto& bias = j["network"]["parameters"]["out.bias"];
        bias[0] = bias[0].get<double>() + 0.5;
        CHECK_THROWS_AS(rrlyrae_model::from_json(j, "corrupt.json"), input_error);
        // the self-test starts from raw light curves: a change of the preprocessing (here the spline's
        // criterion and padding, or the time scaling) changes its outputs and the file is refused. gamma 8
        // leaves the spline fewer than the 9 degrees of freedom of the curves' 4 harmonics, so the change is
        // certain (gamma 1 without padding barely moves these clean, dense curves: how much the outputs then
        // move depended on the training draw)
        auto spline = m.to_json();
        spline["preprocessing"]["input"]["spline"] = {{"gamma", 8.0}, {"wrap_padding", 0.5}};
        CHECK_THROWS_WITH(rrlyrae_model::from_json(spline, "spline.json"),
                          Catch::Contains("spline.json") && Catch::Contains("self_test"));
        auto scaled = m.to_json();
        scaled["preprocessing"]["time_scale"]["mean"] = scaled["preprocessing"]["time_scale"]["mean"].get<double>() +
                                                        0.3;
        CHECK_THROWS_WITH(rrlyrae_model::from_json(scaled, "scaled.json"), Catch::Contains("self_test"));
        auto older = m.to_json();  // a file from a version with other Fourier features
        older["preprocessing"]["features"]["names"].erase(older["preprocessing"]["features"]["names"].size() - 1);
        CHECK_THROWS_WITH(rrlyrae_model::from_json(older, "old.json"),
                          Catch::Contains("old.json") && Catch::Contains("features.names"));
        auto unknown = m.to_json();
        unknown["preprocessing"]["input"]["n_phase"] = 10;
        CHECK_THROWS_WITH(rrlyrae_model::from_json(unknown, "u.json"),
                          Catch::Contains("u.json") && Catch::Contains("n_phase"));
        std::filesystem::remove(path);
    }
}

TEST_CASE("bigru, lstm and bilstm models train, and their files round-trip with the self-test", "[rrlyrae]") {
    const rrl_small_set d(90, 31, 5, 2, 32);
    const auto& [set, in, test, tr, to] = d;
    for (auto arch : {rrl_architecture::bigru, rrl_architecture::lstm, rrl_architecture::bilstm}) {
        INFO(to_string(arch));
        rrl_model_options mo = arch == rrl_architecture::bilstm ? rrl_bilstm_model_options() : rrl_model_options{};
        mo.architecture = arch;
        if (arch != rrl_architecture::bilstm) {
            mo.gru_sizes = {6, 4};
            mo.dropout = {0.1, 0.1};
        }
        rrlyrae_model m(mo, 5);
        m.fit(in, set.feh, tr, to);
        const auto p = m.predict(test);
        const auto path = (std::filesystem::temp_directory_path() / "ferrum_test_rrl_recurrent.json").string();
        m.save(path);
        const auto j = m.to_json();
        const std::string cell = arch == rrl_architecture::bigru ? "gru" : "lstm";
        bool found = false;
        for (const auto& l : j["network"]["architecture"]["layers"])
            if (l["type"] == cell) {
                found = true;
                CHECK(l.value("bidirectional", false) == (arch != rrl_architecture::lstm));
            }
        CHECK(found);
        auto back = rrlyrae_model::load(path);  // re-runs the self-test from raw light curves
        const auto q = back.predict(test);
        for (std::size_t i = 0; i < q.size(); ++i) CHECK(q[i].feh == Approx(p[i].feh).margin(1e-6));
        std::filesystem::remove(path);
    }
}

TEST_CASE("the fcn trunk trains, keeps its batch-norm running statistics in its file and reloads", "[rrlyrae]") {
    const rrl_small_set d(40, 33, 4, 1, 16);
    const auto& [set, in, test, tr, to] = d;
    rrl_model_options mo;
    mo.architecture = rrl_architecture::fcn;
    rrlyrae_model m(mo, 7);
    m.fit(in, set.feh, tr, to);
    const auto j = m.to_json();
    std::size_t conv = 0, bn = 0, gap = 0;
    bool running_moved = false;  // a trained batch norm's running mean is no longer its initial 0
    for (const auto& l : j["network"]["architecture"]["layers"]) {
        conv += l["type"] == "conv1d";
        gap += l["type"] == "global_average_pooling";
        if (l["type"] == "batch_norm") {
            ++bn;
            CHECK(l["num_batches_tracked"].get<std::uint64_t>() > 0);
            for (const auto& v : l["running_mean"]) running_moved = running_moved || v.get<double>() != 0.0;
        }
    }
    CHECK(conv == 3);
    CHECK(bn == 3);
    CHECK(gap == 1);
    CHECK(running_moved);
    const auto p = m.predict(test);
    const auto path = (std::filesystem::temp_directory_path() / "ferrum_test_rrl_fcn.json").string();
    m.save(path);
    auto back = rrlyrae_model::load(path);  // re-runs the self-test from raw light curves
    const auto q = back.predict(test);
    for (std::size_t i = 0; i < q.size(); ++i) {
        CHECK(std::isfinite(p[i].feh));
        CHECK(q[i].feh == Approx(p[i].feh).margin(1e-6));
    }
    std::filesystem::remove(path);
}

TEST_CASE("the resnet and inception_time trunks train (their loss falls), and their files round-trip", "[rrlyrae]") {
    // curves resampled to 48 phases (264 in the paper) keep the test short; the trunks take any length
    auto set = ferrum_test::simulate_rrlyrae(48, rr_type::rrab, 41);
    rrl_input_options io;
    io.n_phases_rrab = 48;
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, io, 2, false);
    std::vector<std::size_t> tr;
    std::vector<rrl_star_input> test;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].ok()) {
            tr.push_back(i);
            if (test.size() < 4) test.push_back(in[i]);
        }
    REQUIRE(in[tr.front()].steps() == 48);
    rrl_training_options to;
    to.max_epochs = 4;
    to.patience = 10;
    to.batch_size = 16;
    to.progress = false;
    to.calibration_mc_samples = 2;
    for (auto arch : {rrl_architecture::resnet, rrl_architecture::inception_time}) {
        INFO(to_string(arch));
        rrl_model_options mo;
        mo.architecture = arch;
        mo.input = io;
        rrlyrae_model m(mo, 9);
        const auto h = m.fit(in, set.feh, tr, to);
        REQUIRE(h.epochs.size() == 4);
        INFO("train loss " << h.epochs.front().train_loss << " -> " << h.epochs.back().train_loss);
        CHECK(h.epochs.back().train_loss < h.epochs.front().train_loss);
        const auto j = m.to_json();
        std::size_t adds = 0, concats = 0, pools = 0;
        for (const auto& l : j["network"]["architecture"]["layers"]) {
            adds += l["type"] == "add";
            concats += l["type"] == "concat";  // the inception modules' and the Fourier head's
            pools += l["type"] == "max_pool1d";
        }
        if (arch == rrl_architecture::resnet) {
            CHECK(adds == 3);
            CHECK(concats == 1);
        } else {
            CHECK(adds == 2);
            CHECK(concats == 7);
            CHECK(pools == 6);
        }
        const auto p = m.predict(test);
        const auto path = (std::filesystem::temp_directory_path() / "ferrum_test_rrl_conv_trunk.json").string();
        m.save(path);
        auto back = rrlyrae_model::load(path);  // re-runs the self-test from raw light curves
        const auto q = back.predict(test);
        REQUIRE(q.size() == p.size());
        for (std::size_t i = 0; i < q.size(); ++i) {
            CHECK(std::isfinite(p[i].feh));
            CHECK(q[i].feh == Approx(p[i].feh).margin(1e-6));
            CHECK(q[i].sigma == Approx(p[i].sigma).margin(1e-6));
        }
        std::filesystem::remove(path);
    }
}

TEST_CASE("the paper's GRU learns from resampled curves; unified RRab+RRc model with ragged lengths", "[rrlyrae]") {
    auto ab = ferrum_test::simulate_rrlyrae(200, rr_type::rrab, 21);
    auto c = ferrum_test::simulate_rrlyrae(200, rr_type::rrc, 22);
    std::vector<light_curve> curves = ab.curves;
    curves.insert(curves.end(), c.curves.begin(), c.curves.end());
    std::vector<rrl_ephemeris> eph = ab.eph;
    eph.insert(eph.end(), c.eph.begin(), c.eph.end());
    std::vector<double> y = ab.feh;
    y.insert(y.end(), c.feh.begin(), c.feh.end());
    const auto in = prepare_rrlyrae_inputs(curves, eph, {}, 2, false);
    CHECK(in[0].steps() == 264);
    CHECK(in[250].steps() == 265);
    std::vector<std::size_t> tr, te;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].ok()) (i % 4 == 0 ? te : tr).push_back(i);
    rrl_model_options mo = rrl_paper_model_options();  // the paper's network
    mo.types = {rr_type::rrab, rr_type::rrc};
    rrl_training_options to = rrl_paper_training_options();
    to.max_epochs = 10;
    to.batch_size = 32;
    to.progress = false;
    rrlyrae_model m(mo, 1);
    const auto h = m.fit(in, y, tr, to);
    CHECK(h.best_val_loss < h.epochs.front().val_loss);
    // the two types differ in label mean and strongly in curve shape: the unified network must put the
    // RRc predictions on the same side of the RRab ones as the labels are
    double yab = 0, yc = 0, pab = 0, pc = 0, nab = 0, nc = 0;
    std::vector<rrl_star_input> test;
    for (auto i : te) test.push_back(in[i]);
    const auto p = m.predict(test);
    for (std::size_t k = 0; k < te.size(); ++k) {
        const bool ab = in[te[k]].type == rr_type::rrab;
        (ab ? yab : yc) += y[te[k]];
        (ab ? pab : pc) += p[k].feh;
        (ab ? nab : nc) += 1;
    }
    INFO("label means " << yab / nab << " " << yc / nc << ", predicted " << pab / nab << " " << pc / nc);
    CHECK((yab / nab - yc / nc) * (pab / nab - pc / nc) > 0);
}

TEST_CASE("raw folded epochs (variable length) and curves without a period", "[rrlyrae]") {
    auto set = ferrum_test::simulate_rrlyrae(160, rr_type::rrab, 31);
    rrl_input_options raw;
    raw.sequence = rrl_sequence::raw_epochs;
    const auto in = prepare_rrlyrae_inputs(set.curves, set.eph, raw, 2, false);
    std::vector<std::size_t> idx;
    bool ragged = false;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].ok()) {
            CHECK(in[i].steps() == std::min<std::size_t>(in[i].n_epochs, raw.max_raw_steps));
            ragged = ragged || in[i].steps() != in[idx.empty() ? i : idx[0]].steps();
            idx.push_back(i);
        }
    REQUIRE(ragged);
    rrl_model_options mo = rrl_paper_model_options();
    mo.input = raw;
    mo.gru_sizes = {6, 4};
    mo.dropout = {0.1, 0.1};
    rrl_training_options to;
    to.max_epochs = 3;
    to.batch_size = 32;
    to.progress = false;
    rrlyrae_model m(mo, 2);
    m.fit(in, set.feh, idx, to);
    const auto p = m.predict(in, 4, 1);
    for (auto i : idx) CHECK(std::isfinite(p[i].feh));
    // the file records the raw-epoch preprocessing, and the reloaded model predicts the same numbers
    const auto back = rrlyrae_model::from_json(m.to_json(), "raw.json");
    CHECK(back.options().input.sequence == rrl_sequence::raw_epochs);
    auto b = back;
    const auto q = b.predict(in);
    for (auto i : idx) CHECK(q[i].feh == Approx(p[i].feh).margin(1e-6));

    // folded curves without a period: channel 0 is the phase, and the model trains and predicts
    std::vector<folded_curve> folded;
    for (std::size_t i = 0; i < set.curves.size(); ++i) {
        folded_curve fc = phase_fold(set.curves[i], set.eph[i].period, set.eph[i].epoch);
        fc.period = 0.0;
        folded.push_back(fc);
    }
    rrl_input_options np;
    np.use_period = false;
    const auto fin = prepare_rrlyrae_inputs(folded, {rr_type::rrab}, np, 2, false);
    std::vector<std::size_t> fidx;
    for (std::size_t i = 0; i < fin.size(); ++i)
        if (fin[i].ok()) fidx.push_back(i);
    REQUIRE(fidx.size() > 100);
    CHECK(fin[fidx[0]].sequence[2 * 263] == Approx(1.0));  // phase grid end, not phase x P
    rrl_model_options mn = rrl_paper_model_options();
    mn.input = np;
    mn.gru_sizes = {6};
    mn.dropout = {0.1};
    rrlyrae_model z(mn, 3);
    z.fit(fin, set.feh, fidx, to);
    const auto zp = z.predict(fin);
    for (auto i : fidx) CHECK(std::isfinite(zp[i].feh));
}

TEST_CASE("config files: the flat fields of the options declarations, strict, round trip", "[rrlyrae][config]") {
    // every field ferrum-rrl's usage has listed since the first config files keeps working
    const auto old = nlohmann::json::parse(
        R"({"architecture": "gru_fourier", "gru_sizes": [6, 6], "dropout": [0.1, 0.1],
        "head_width": 16, "ridge": 0.01, "sequence": "raw_epochs", "use_period": false, "min_epochs": 30,
        "learning_rate": 0.005, "batch_size": 64, "max_epochs": 3, "patience": 4, "kernel_l1": 1e-6, "kernel_l2": 1e-4,
        "density_weighting": false, "max_weight": 5, "validation_fraction": 0.2, "reduce_lr_factor": 0.5,
        "reduce_lr_patience": 2, "clip_norm": 1.0, "folds": 3, "repeats": 2, "seed": 7, "unified": true,
        "paper_cuts": true})");
    const rrl_config c = rrl_config_from_json(old, "cfg.json");
    CHECK(c.model.architecture == rrl_architecture::gru_fourier);
    CHECK(c.model.gru_sizes == std::vector<std::size_t>{6, 6});
    CHECK(c.model.head_width == 16);
    CHECK(c.model.input.sequence == rrl_sequence::raw_epochs);
    CHECK(!c.model.input.use_period);
    CHECK(c.model.input.min_epochs == 30);
    CHECK(c.train.learning_rate == 0.005);
    CHECK(c.train.batch_size == 64);
    CHECK(c.train.max_weight == 5.0);
    CHECK(c.train.seed == 7);
    CHECK(c.cv.folds == 3);
    CHECK(c.cv.repeats == 2);
    CHECK(c.cv.unified);
    CHECK(c.cv.paper_cuts);
    CHECK(c.model.types == std::vector<rr_type>{rr_type::rrab});  // not a config field: left alone
    // what tune writes reads back to the same settings
    const auto j = rrl_config_to_json(c);
    CHECK(rrl_config_to_json(rrl_config_from_json(j, "back.json")) == j);
    CHECK(!j.contains("types"));
    CHECK(!j.contains("progress"));
    // fields not given keep the base's values
    rrl_config base;
    base.train.patience = 99;
    CHECK(rrl_config_from_json(nlohmann::json::parse(R"({"seed": 3})"), "x.json", base).train.patience == 99);

    auto refused = [](const std::string& text, const std::string& field) {
        INFO(text);
        try {
            rrl_config_from_json(nlohmann::json::parse(text), "bad.json");
            FAIL("accepted");
        } catch (const input_error& e) {
            CHECK(e.file() == "bad.json");
            CHECK(e.field() == field);
        }
    };
    refused(R"({"learning_rate": 0.01, "lerning_rate": 0.1})", "lerning_rate");
    refused(R"({"batch_size": "64"})", "batch_size");
    refused(R"({"batch_size": 6.5})", "batch_size");
    refused(R"({"min_epochs": -3})", "min_epochs");
    refused(R"({"architecture": "gru"})", "architecture");
    refused(R"({"sequence": "resample"})", "sequence");
    refused(R"({"gru_sizes": [8, "x"]})", "gru_sizes[1]");
    refused(R"({"types": ["RRab"]})", "types");     // the data decide the types
    refused(R"({"progress": false})", "progress");  // the command line's
    refused(R"({"spline": {"gama": 1.0}})", "spline.gama");
    CHECK_THROWS_AS(rrl_config_from_json(nlohmann::json::array(), "bad.json"), input_error);
    // --help lists every field with its default, from the same declarations
    const auto help = rrl_config_help();
    for (const auto& f : rrl_config_fields()) CHECK(help.find("  " + f + " = ") != std::string::npos);
    CHECK(help.find("  learning_rate = 0.005\n") != std::string::npos);
}

TEST_CASE("model options: RR Lyrae types are parsed strictly", "[rrlyrae][config]") {
    nlohmann::json j = rrl_model_options{};
    CHECK(j.at("types") == nlohmann::json::array({"RRab"}));
    j["types"] = nlohmann::json::array({"RRab", "RRx"});
    try {
        options_from_json<rrl_model_options>(j, "m.json");
        FAIL("an unknown type was accepted");
    } catch (const input_error& e) {
        CHECK(e.field() == "types[1]");
        CHECK(std::string(e.what()).find("RRx") != std::string::npos);
    }
    j["types"] = nlohmann::json::array({"rrc"});
    CHECK(options_from_json<rrl_model_options>(j, "m.json").types == std::vector<rr_type>{rr_type::rrc});
}

TEST_CASE("a model file of format 1 loads, reproduces its predictions and is saved as format 2", "[rrlyrae][file]") {
    // tests/data/models/rrlyrae_v1.json: written by ferrum-rrl train at commit 66bfca3 (gru_fourier, one
    // model per type); rrlyrae_v1_predictions.json: that build's predictions of it for five stars
    const std::string dir = std::string(FERRUM_TEST_DATA_DIR) + "/models/";
    auto models = load_rrlyrae_models(dir + "rrlyrae_v1.json");
    REQUIRE(models.size() == 2);
    CHECK(models[0].options().architecture == rrl_architecture::gru_fourier);
    const auto want = read_json_file(dir + "rrlyrae_v1_predictions.json");
    std::vector<light_curve> curves;
    std::vector<rrl_ephemeris> eph;
    std::vector<double> feh;
    for (const auto& s : want.at("stars")) {
        light_curve lc;
        lc.source_id = s.at("source_id").get<std::int64_t>();
        lc.time = s.at("time").get<std::vector<double>>();
        lc.mag = s.at("mag").get<std::vector<double>>();
        lc.mag_err = s.at("mag_err").get<std::vector<double>>();
        curves.push_back(lc);
        rrl_ephemeris e;
        e.type = parse_rr_type(s.at("type").get<std::string>());
        e.period = s.at("period").get<double>();
        e.epoch = s.at("epoch").get<double>();
        eph.push_back(e);
        feh.push_back(s.at("feh").get<double>());
    }
    REQUIRE(feh.size() == 5);
    auto check = [&](std::vector<rrlyrae_model>& m) {
        const auto in = prepare_rrlyrae_inputs(curves, eph, m.front().options().input, 1, false);
        const auto p = predict_rrlyrae(m, in, 0, 12345, 1);
        for (std::size_t i = 0; i < p.size(); ++i) {
            REQUIRE(p[i].ok());
            CHECK(p[i].feh == Approx(feh[i]).margin(1e-6));
        }
    };
    check(models);

    // one loaded model serves many threads: predict is const, its buffers live in the call, and the
    // MC-dropout sigma is a function of the seed alone (not of the thread count or of other callers)
    {
        const std::vector<rrlyrae_model>& shared = models;
        const auto in = prepare_rrlyrae_inputs(curves, eph, shared.front().options().input, 1, false);
        const auto serial = predict_rrlyrae(shared, in, 8, 777, 1);
        std::vector<rrl_prediction> p1, p2;
        std::thread t1([&] { p1 = predict_rrlyrae(shared, in, 8, 777, 2); });
        std::thread t2([&] { p2 = predict_rrlyrae(shared, in, 8, 777, 1); });
        t1.join();
        t2.join();
        for (std::size_t i = 0; i < serial.size(); ++i) {
            CHECK(serial[i].sigma > 0);
            CHECK(p1[i].feh == serial[i].feh);
            CHECK(p1[i].sigma == serial[i].sigma);
            CHECK(p2[i].sigma == serial[i].sigma);
        }
        CHECK(predict_rrlyrae(shared, in, 8, 778, 1)[0].sigma != serial[0].sigma);
    }

    // saved again, the file is format 2 with raw-input self-tests, and it predicts the same
    const auto path = (std::filesystem::temp_directory_path() / "ferrum_test_rrl_v2.json").string();
    save_rrlyrae_models(path, models);
    const auto j = read_json_file(path);
    const auto& m0 = j.at("models").at(0);
    CHECK(j.at("format") == "ferrum.model");  // the envelope of every ferrum model file
    CHECK(j.at("kind") == "rrlyrae_set");
    CHECK(m0.at("format") == "ferrum.model");
    CHECK(m0.at("version") == 2);
    CHECK(m0.at("kind") == "rrlyrae");
    CHECK(m0.at("network").at("format") == "ferrum.model");
    CHECK(m0.at("network").at("kind") == "nn");
    CHECK(m0.at("self_test").at("light_curves").size() == 2);
    CHECK(m0.at("preprocessing").at("input").at("spline").at("gamma") == 1.4);
    auto back = load_rrlyrae_models(path);
    check(back);
    std::filesystem::remove(path);

    // an unknown RR Lyrae type in a model file is an error naming it, in either format
    auto v1 = read_json_file(dir + "rrlyrae_v1.json");
    v1["models"][0]["types"][0] = "RRx";
    CHECK_THROWS_WITH(rrlyrae_model::from_json(v1["models"][0], "v1.json"),
                      Catch::Contains("v1.json") && Catch::Contains("RRx"));
    auto v2 = m0;
    v2["options"]["types"][0] = "RRx";
    CHECK_THROWS_WITH(rrlyrae_model::from_json(v2, "v2.json"),
                      Catch::Contains("v2.json") && Catch::Contains("options.types[0]") && Catch::Contains("RRx"));
    v2 = m0;
    v2["options"]["types"][0] = "RRd";  // known, but no model serves it
    CHECK_THROWS_AS(rrlyrae_model::from_json(v2, "v2.json"), input_error);
    v2 = m0;
    v2["version"] = 3;
    CHECK_THROWS_WITH(rrlyrae_model::from_json(v2, "v2.json"), Catch::Contains("version"));
    v2 = m0;
    v2["kind"] = "ua_csnet";  // another model's file in the same envelope
    CHECK_THROWS_WITH(rrlyrae_model::from_json(v2, "v2.json"), Catch::Contains("kind") && Catch::Contains("ua_csnet"));
}
