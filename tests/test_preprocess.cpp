// The pre-processing pipeline (fold -> GCV spline -> N phases -> standardise -> channels + features)
// against SciPy (tests/data/preprocess_scipy.json, from benchmarks/preprocess_peer.py make-reference),
// analytic curves, and its batch contract (per-curve errors, results independent of the thread count).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ferrum/lightcurve/preprocess.hpp"
#include "ferrum/lightcurve/tables.hpp"
#include "ferrum/sim/rrlyrae.hpp"
#include "reference.hpp"
#include "tolerances.hpp"

using namespace ferrum;

namespace {

// The oracle is this module's own file: read it from FERRUM_REFERENCE_DIR when that set has it, else from
// tests/data.
nlohmann::json load_preprocess_oracle() {
    const std::string name = "preprocess_scipy.json";
    if (std::filesystem::exists(ferrum_test::reference_dir() + "/" + name)) return ferrum_test::load_reference(name);
    std::ifstream in(std::string(FERRUM_TEST_DATA_DIR) + "/" + name);
    return nlohmann::json::parse(in);
}

light_curve from_json(const nlohmann::json& c) {
    light_curve lc;
    lc.source_id = 1000;
    lc.time = ferrum_test::vec(c["time"]);
    lc.mag = ferrum_test::vec(c["mag"]);
    lc.mag_err = ferrum_test::vec(c["mag_err"]);
    return lc;
}

using ferrum_test::max_abs_diff;

// An RRab-like series in the cosine convention, and Gaia-like irregular sampling of it.
double rrab_shape(double phi) {
    const double A[4] = {0.3, 0.15, 0.1, 0.065}, p[4] = {4.1, 2.3, 0.7, 5.6};
    double m = 16.0;
    for (int k = 1; k <= 4; ++k) m += A[k - 1] * std::cos(2 * M_PI * k * phi + p[k - 1]);
    return m;
}

light_curve sampled_curve(std::int64_t id, std::size_t n, double period, double epoch, double noise, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> t(1700.0, 2700.0);
    std::normal_distribution<double> g(0.0, noise);
    light_curve lc;
    lc.source_id = id;
    for (std::size_t i = 0; i < n; ++i) {
        const double ti = t(rng);
        lc.time.push_back(ti);
        lc.mag.push_back(rrab_shape(fold_phase(ti, period, epoch)) + g(rng));
        lc.mag_err.push_back(noise);
    }
    return lc;
}

}  // namespace

TEST_CASE("uniform_phase_grid is np.linspace(0, 1, N) with or without the end point", "[preprocess]") {
    const auto g = uniform_phase_grid(264);
    REQUIRE(g.size() == 264);
    CHECK(g.front() == 0.0);
    CHECK(g.back() == 1.0);
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] * 263 == Approx(double(i)).margin(1e-12));
    const auto h = uniform_phase_grid(265, false);
    REQUIRE(h.size() == 265);
    CHECK(h.back() == Approx(264.0 / 265.0).epsilon(1e-15));
    CHECK_THROWS_AS(uniform_phase_grid(1), value_error);
    CHECK_NOTHROW(uniform_phase_grid(1, false));
    CHECK_THROWS_AS(uniform_phase_grid(0, false), value_error);
}

TEST_CASE("resample evaluates scalar and vectorised curves and refuses non-finite values", "[preprocess]") {
    const auto g = uniform_phase_grid(11);
    const auto a = resample([](double x) { return x * x; }, g);
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(a[i] == Approx(g[i] * g[i]));
    struct vectorised {
        std::vector<double> operator()(const std::vector<double>& x) const {
            std::vector<double> y(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) y[i] = 2 * x[i];
            return y;
        }
    };
    CHECK(resample(vectorised{}, 5, true) == std::vector<double>{0.0, 0.5, 1.0, 1.5, 2.0});
    CHECK_THROWS_AS(resample([](double x) { return std::log(x - 0.5); }, g), value_error);
}

TEST_CASE("standardise uses the population std and refuses flat curves", "[preprocess]") {
    const auto z = standardise({1.0, 2.0, 3.0, 4.0});
    CHECK(z.mean == 2.5);
    CHECK(z.std == Approx(std::sqrt(1.25)).epsilon(1e-15));  // np.std(ddof=0)
    CHECK(z.peak_to_peak == 3.0);
    CHECK(z.values[0] == Approx(-1.5 / std::sqrt(1.25)));
    // A 15th-magnitude curve with 1e-3 mag variations keeps its digits (two-pass variance).
    std::vector<double> m;
    for (int i = 0; i < 100; ++i) m.push_back(15.0 + 1e-3 * std::sin(0.1 * i));
    const auto y = standardise(m);
    double s = 0, ss = 0;
    for (double v : y.values) {
        s += v;
        ss += v * v;
    }
    // Rounding of the mean (eps * 15 mag) divided by std (7e-4 mag) bounds what can be asked: ~1e-12 * 1e3.
    CHECK(std::abs(s / 100) < 1e-9);
    CHECK(ss / 100 == Approx(1.0).epsilon(1e-9));
    CHECK_THROWS_WITH(standardise(std::vector<double>(50, 15.3)), Catch::Matchers::Contains("flat"));
    CHECK_THROWS_AS(standardise({}), value_error);
    CHECK_THROWS_AS(standardise({1.0, NAN}), value_error);
}

TEST_CASE("the pipeline with a fixed lam equals SciPy's fold + make_smoothing_spline + linspace + std",
          "[preprocess]") {
    const auto oracle = load_preprocess_oracle();
    for (const auto& c : oracle["cases"]) {
        INFO("case " << c["name"].get<std::string>());
        preprocess_options o;
        o.n_phases = c["n_phases"].get<std::size_t>();
        o.lam = c["lam"].get<double>();
        o.wrap_padding = 0.0;  // SciPy's spline sees the folded epochs only
        o.fourier.order = c["fourier_order"].get<int>();
        const auto r = preprocess_curve(from_json(c), c["period"].get<double>(), c["epoch"].get<double>(), o);
        const auto z = ferrum_test::vec(c["standardised"]);
        CHECK(max_abs_diff(r.mag, z) < 1e-8);
        CHECK(r.features.mean == Approx(c["mean"].get<double>()).epsilon(1e-11));
        CHECK(r.features.std == Approx(c["std"].get<double>()).epsilon(1e-9));
        CHECK(r.features.peak_to_peak == Approx(c["peak_to_peak"].get<double>()).epsilon(1e-9));
        CHECK(r.features.lam == c["lam"].get<double>());
        CHECK(r.features.n_epochs == c["time"].size());
        // Channel 1 is phase x period on the same grid.
        REQUIRE(r.time.size() == o.n_phases);
        CHECK(r.time.back() == Approx(c["period"].get<double>()));
        CHECK(r.time[1] == Approx(c["period"].get<double>() / double(o.n_phases - 1)));
        // Fourier parameters equal numpy's weighted lstsq on the folded epochs.
        REQUIRE(r.features.fourier);
        const auto& f = *r.features.fourier;
        CHECK(f.weighted);
        CHECK(f.A0 == Approx(c["A0"].get<double>()).epsilon(1e-10));
        const auto A = ferrum_test::vec(c["amplitude"]), P = ferrum_test::vec(c["phase"]);
        for (std::size_t k = 0; k < A.size(); ++k) {
            CHECK(f.amplitude[k] == Approx(A[k]).epsilon(1e-9));
            const double d = wrap_two_pi(f.phase[k] - P[k]);
            CHECK(std::min(d, two_pi - d) < 1e-9);
        }
    }
}

TEST_CASE("the pipeline recovers an analytic RRab shape through GCV and names bad curves", "[preprocess]") {
    const double period = 0.5712, epoch = 1800.125;
    const auto lc = sampled_curve(5550001, 150, period, epoch, 0.01, 1);
    for (const double pad : {0.0, 0.15}) {
        INFO("wrap_padding " << pad);
        preprocess_options o;
        o.wrap_padding = pad;
        preprocessor p(o);
        const auto r = p(lc, period, epoch);
        REQUIRE(r.mag.size() == 264);
        double s = 0, ss = 0, worst = 0;
        for (std::size_t i = 0; i < r.mag.size(); ++i) {
            s += r.mag[i];
            ss += r.mag[i] * r.mag[i];
            const double m = r.mag[i] * r.features.std + r.features.mean;
            worst = std::max(worst, std::abs(m - rrab_shape(p.grid()[i])));
        }
        CHECK(std::abs(s / 264) < 1e-12);
        CHECK(ss / 264 == Approx(1.0).epsilon(1e-12));
        // 150 epochs with 0.01 mag noise: the spline follows the true shape to a few noise sigmas, also at
        // the ends of the cycle, where without padding it extrapolates.
        CHECK(worst < 0.04);
        CHECK(r.features.lam > 0);
        const auto& f = *r.features.fourier;
        CHECK(f.order >= 4);
        const double phi31_true = wrap_two_pi(0.7 - 3 * 4.1);
        CHECK(std::abs(f.phi31().value - phi31_true) < 4 * f.phi31().sigma);
        double lo = 1e9, hi = -1e9;  // the true peak-to-peak, on a fine grid
        for (int i = 0; i <= 100000; ++i) {
            lo = std::min(lo, rrab_shape(i / 1e5));
            hi = std::max(hi, rrab_shape(i / 1e5));
        }
        CHECK(r.features.peak_to_peak == Approx(hi - lo).margin(0.04));
    }

    using Catch::Matchers::Contains;
    light_curve flat = lc;
    for (double& m : flat.mag) m = 17.25;
    CHECK_THROWS_WITH(preprocess_curve(flat, period, epoch), Contains("5550001") && Contains("flat"));
    light_curve few = lc;
    few.time.resize(8);
    few.mag.resize(8);
    few.mag_err.resize(8);
    CHECK_THROWS_WITH(preprocess_curve(few, period, epoch), Contains("5550001") && Contains("8 epochs"));
    CHECK_THROWS_WITH(preprocess_curve(lc, 0.0, epoch), Contains("5550001") && Contains("period"));
    preprocess_options bad;
    bad.wrap_padding = 0.7;
    CHECK_THROWS_AS(preprocessor(bad), value_error);
}

TEST_CASE("wrap padding makes the resampled curve continuous across phase 0 = 1", "[preprocess]") {
    // Sparse epochs far from both ends of the cycle: without padding the spline extrapolates there.
    folded_curve fc;
    fc.source_id = 77;
    for (int i = 0; i < 30; ++i) {
        const double phi = 0.08 + 0.84 * i / 29.0;
        fc.phase.push_back(phi);
        fc.mag.push_back(rrab_shape(phi));
    }
    preprocess_options o;
    o.lam = 1e-7;
    o.fit_fourier = false;
    o.wrap_padding = 0.0;
    const auto plain = preprocess_curve(fc, o);
    o.wrap_padding = 0.2;
    const auto padded = preprocess_curve(fc, o);
    auto jump = [](const preprocessed_curve& r) { return std::abs(r.mag.front() - r.mag.back()) * r.features.std; };
    CHECK(jump(padded) < 0.01);  // mag
    CHECK(jump(padded) < 0.25 * jump(plain));
    CHECK_FALSE(padded.features.fourier);
    // Unknown period: channel 1 is the phase itself.
    CHECK(padded.time == uniform_phase_grid(264));
}

TEST_CASE("preprocess_curves: per-curve errors, results independent of the thread count", "[preprocess]") {
    std::vector<light_curve> curves;
    std::vector<double> periods, epochs;
    for (int i = 0; i < 150; ++i) {
        const double P = 0.45 + 0.003 * i;
        curves.push_back(sampled_curve(9000 + i, 40 + i % 50, P, 1750.0, 0.02, 100 + i));
        periods.push_back(P);
        epochs.push_back(1750.0);
    }
    periods[17] = -1.0;         // bad period
    curves[42].time.resize(5);  // too few epochs
    curves[42].mag.resize(5);
    curves[42].mag_err.resize(5);
    for (double& m : curves[99].mag) m = 15.0;  // flat
    batch_options one;
    one.threads = 1;
    one.show_progress = false;
    batch_options two = one;
    two.threads = 2;
    const auto a = preprocess_curves(curves, periods, epochs, {}, one);
    const auto b = preprocess_curves(curves, periods, epochs, {}, two);
    REQUIRE(a.size() == curves.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        const bool bad = i == 17 || i == 42 || i == 99;
        CHECK(a[i].ok() == !bad);
        CHECK(a[i].error == b[i].error);
        if (bad) {
            CHECK_THAT(a[i].error, Catch::Matchers::Contains(std::to_string(9000 + i)));
            continue;
        }
        CHECK(a[i].curve.source_id == 9000 + std::int64_t(i));
        CHECK(a[i].curve.mag == b[i].curve.mag);  // bitwise
        CHECK(a[i].curve.features.lam == b[i].curve.features.lam);
        for (double v : a[i].curve.mag) REQUIRE(std::isfinite(v));
    }
    CHECK_THROWS_AS(preprocess_curves(curves, {0.5}, epochs), value_error);

    std::vector<preprocessed_curve> good;
    for (const auto& r : a)
        if (r.ok()) good.push_back(r.curve);
    const auto t = batch_tensor(good);
    REQUIRE(t.shape()[0] == good.size());
    REQUIRE(t.shape()[1] == 264);
    REQUIRE(t.shape()[2] == 2);
    CHECK(t(3, 100, 0) == good[3].time[100]);
    CHECK(t(3, 100, 1) == good[3].mag[100]);

    // chosen rows with a time scaling; curves of different lengths only with `lengths` (zero-padded)
    const auto s = batch_tensor<float>(good, {3, 0}, time_scaling{0.25, 0.5});
    REQUIRE(s.shape()[0] == 2);
    CHECK(s(0, 100, 0) == static_cast<float>((good[3].time[100] - 0.25) / 0.5));
    CHECK(s(1, 7, 1) == static_cast<float>(good[0].mag[7]));
    std::vector<preprocessed_curve> ragged{good[0], good[1]};
    ragged[1].time.resize(200);
    ragged[1].mag.resize(200);
    CHECK_THROWS_AS(batch_tensor(ragged), value_error);
    CHECK_THROWS_AS(batch_tensor(ragged, {0, 2}), value_error);
    std::vector<std::size_t> lengths;
    const auto r = batch_tensor(ragged, {1, 0}, {}, &lengths);
    REQUIRE(lengths == std::vector<std::size_t>{200, 264});
    CHECK(r(0, 199, 1) == ragged[1].mag[199]);
    CHECK(r(0, 200, 0) == 0.0);
    CHECK(r(0, 263, 1) == 0.0);
    CHECK(r(1, 263, 1) == ragged[0].mag[263]);

    // the preprocessor writing a curve straight into a batch row gives operator()'s values
    preprocessor p;
    const folded_curve fc = phase_fold(curves[3], periods[3], epochs[3]);
    const preprocessed_curve whole = p(fc);
    std::vector<float> row(2 * 264, -1.0f);
    const curve_features f = p(fc, row.data());
    CHECK(f.lam == whole.features.lam);
    CHECK(f.std == whole.features.std);
    for (std::size_t i = 0; i < 264; ++i) {
        CHECK(row[2 * i] == static_cast<float>(whole.time[i]));
        CHECK(row[2 * i + 1] == static_cast<float>(whole.mag[i]));
    }
}

TEST_CASE("real Gaia DR2 RRab curves (Dekany & Grebel 2022) all pre-process, in Dekany's phase convention",
          "[preprocess]") {
    const std::string dir = ferrum_test::shared_data_dir();
    const std::string path = dir + "/dekany2022_gaiadr2_rrab_g/lightcurves.csv";
    if (dir.empty() || !std::filesystem::exists(path)) {
        WARN("shared data absent: skipped");
        return;
    }
    table_read_options ro;
    ro.show_progress = false;
    const auto all = read_folded_table(path, ro).curves;
    REQUIRE(all.size() > 1000);
    std::vector<folded_curve> sample;  // every 20th curve: ~620 of all brightnesses and epoch counts
    for (std::size_t i = 0; i < all.size(); i += 20) sample.push_back(all[i]);
    batch_options b;
    b.threads = 2;
    b.show_progress = false;
    const auto res = preprocess_curves(sample, {}, b);
    double sx = 0, sy = 0;
    for (const auto& r : res) {
        INFO(r.error);
        REQUIRE(r.ok());
        REQUIRE(r.curve.mag.size() == 264);
        double s = 0, ss = 0;
        for (double v : r.curve.mag) {
            REQUIRE(std::isfinite(v));
            s += v;
            ss += v * v;
        }
        CHECK(std::abs(s / 264) < 1e-9);
        CHECK(ss / 264 == Approx(1.0).epsilon(1e-9));
        CHECK(r.curve.features.peak_to_peak > 0.05);
        CHECK(r.curve.period == 0.0);
        // Dekany folded each curve so that its first (sine-convention) Fourier phase is 0.
        const double phi1_sin = phase_cos_to_sin(r.curve.features.fourier->phase[0]);
        sx += std::cos(phi1_sin);
        sy += std::sin(phi1_sin);
    }
    // The circular mean of phi1 in the sine convention is 0 (it is 3 pi/2 in Gaia's cosine convention).
    const double mean_phi1 = std::atan2(sy, sx);
    CHECK(std::abs(mean_phi1) < 0.1);
    CHECK(std::hypot(sx, sy) / double(res.size()) > 0.5);  // and the phases are concentrated there
}

TEST_CASE("default options keep sparse, noisy Gaia-like curves close to the truth", "[preprocess]") {
    // Simulated DR3-like stars (sim/), no Blazhko so that the folded truth is one curve. Plain GCV
    // interpolates some of these (close pairs of epochs) and then swings by magnitudes between epochs; the
    // defaults (modified GCV, wrap padding) must not.
    ferrum::sim::simulation_options so;
    so.seed = 17;
    so.blazhko_fraction_rrab = 0.0;
    const ferrum::sim::rrlyrae_simulator sim(so);
    preprocessor p;
    std::vector<double> rms;
    for (std::uint64_t i = 0; i < 300; ++i) {
        const auto s = sim.star(i);
        const auto r = p(s.light_curve(), s.catalogue.period, s.catalogue.epoch_g);
        double ss = 0, lo = 1e9, hi = -1e9;
        for (std::size_t j = 0; j < r.mag.size(); ++j) {
            const double truth = s.truth.magnitude(s.catalogue.epoch_g + p.grid()[j] * s.catalogue.period);
            const double m = r.mag[j] * r.features.std + r.features.mean;
            ss += (m - truth) * (m - truth);
            lo = std::min(lo, truth);
            hi = std::max(hi, truth);
        }
        INFO("star " << i << ", " << r.features.n_epochs << " epochs, lam " << r.features.lam);
        CHECK(r.features.peak_to_peak < 1.5 * (hi - lo) + 0.3);
        rms.push_back(std::sqrt(ss / double(r.mag.size())));
    }
    std::sort(rms.begin(), rms.end());
    CHECK(rms[rms.size() / 2] < 0.05);  // mag; the epochs scatter by 0.01-0.1 mag
    CHECK(rms.back() < 0.6);
}
