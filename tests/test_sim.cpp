// The Gaia-like RR Lyrae simulator against independent facts: the Muraveva et al. (2025) table itself,
// the Gaia error table and residual scatter of real curves, the cadence rules, the embedded parameter
// distributions (within sampling error) and the archive's CSV conventions read back by a plain parser.
#include <catch2/catch.hpp>

#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/sim.hpp>

#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace ferrum::sim;

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

double quantile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const double x = p * double(v.size() - 1);
    const auto i = static_cast<std::size_t>(x);
    return i + 1 < v.size() ? v[i] + (x - double(i)) * (v[i + 1] - v[i]) : v[i];
}

// Spearman's rank correlation (no ties in continuous draws).
double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    const auto ranks = [](const std::vector<double>& v) {
        std::vector<std::size_t> idx(v.size());
        for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
        std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
        std::vector<double> r(v.size());
        for (std::size_t i = 0; i < idx.size(); ++i) r[idx[i]] = double(i);
        return r;
    };
    const auto rx = ranks(x), ry = ranks(y);
    const double n = double(x.size()), mean = (n - 1) / 2;
    double sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < rx.size(); ++i) {
        sxy += (rx[i] - mean) * (ry[i] - mean);
        sxx += (rx[i] - mean) * (rx[i] - mean);
    }
    return sxy / sxx;
}

double wrap(double x) {
    double r = std::fmod(x, two_pi);
    return r < 0 ? r + two_pi : r;
}

std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream in(line);
    while (std::getline(in, cell, ',')) out.push_back(cell);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
}

// A CSV file as rows of column -> text, read by header keys.
std::vector<std::map<std::string, std::string>> read_csv(const fs::path& path, std::string* header = nullptr) {
    std::ifstream in(path);
    REQUIRE(in);
    std::string line;
    std::getline(in, line);
    if (header) *header = line;
    const auto keys = split(line);
    std::vector<std::map<std::string, std::string>> rows;
    while (std::getline(in, line)) {
        const auto cells = split(line);
        REQUIRE(cells.size() == keys.size());
        std::map<std::string, std::string> row;
        for (std::size_t i = 0; i < keys.size(); ++i) row[keys[i]] = cells[i];
        rows.push_back(std::move(row));
    }
    return rows;
}

simulation_options ideal_bright() {
    simulation_options o;
    o.seed = 11;
    o.g_min = o.g_max = 14.0;
    o.min_epochs = 100;
    o.max_epochs = 120;
    o.epochs_median = 110;
    o.excess_scatter = false;
    o.blazhko_fraction_rrab = 0.0;
    o.rejected_fraction = 0.0;
    return o;
}

// Residual RMS (dof-corrected) of a star's clean epochs around an unweighted Fourier fit of order K.
double residual_rms(const simulated_rrlyrae& s, int K) {
    std::vector<double> ph, m;
    for (const auto& x : s.epochs)
        if (!x.rejected_by_variability) {
            ph.push_back(x.time / s.truth.period);
            m.push_back(x.mag);
        }
    ferrum::fourier_options fo;
    fo.order = K;
    fo.use_errors = false;
    const auto f = ferrum::fit_fourier(ph, m, {}, fo);
    double ss = 0;
    for (std::size_t i = 0; i < ph.size(); ++i) ss += std::pow(m[i] - f(ph[i]), 2);
    return std::sqrt(ss / double(ph.size() - 2 * K - 1));
}

}  // namespace

TEST_CASE("the Muraveva relations reproduce the [Fe/H] column of the LMC table", "[sim]") {
    const std::string dir = ferrum_test::shared_data_dir();
    if (dir.empty()) {
        WARN("shared data not found: skipped");
        return;
    }
    const auto rows = read_csv(fs::path(dir) / "muraveva2025_lmc_gaiadr3" / "rrl_params.csv");
    REQUIRE(rows.size() == 13728);
    double worst = 0;
    int n_ab = 0, n_c = 0;
    for (const auto& r : rows) {
        const bool ab = r.at("Type") == "RRab";
        (ab ? n_ab : n_c)++;
        const double feh = feh_muraveva2025(ab ? rr_type::rrab : rr_type::rrc, std::stod(r.at("Period")),
                                            std::stod(r.at("Phi31")), std::stod(r.at("A2")));
        worst = std::max(worst, std::abs(feh - std::stod(r.at("[Fe/H]"))));
    }
    CHECK(n_ab == 12877);
    CHECK(n_c == 851);
    CHECK(worst < 1e-12);
}

TEST_CASE("feh_true is the relation on the true parameters, feh the relation on the catalogue fit", "[sim]") {
    rrlyrae_simulator sim;
    for (std::uint64_t i = 0; i < 200; ++i) {
        const auto s = sim.star(i);
        const auto& t = s.truth;
        const double phi31 = wrap(t.phase[2] - 3 * t.phase[0]);
        const double phi31_cat = wrap(s.catalogue.phase[2] - 3 * s.catalogue.phase[0]);
        if (s.type == rr_type::rrab) {
            CHECK(s.feh_true == Approx(-0.37 - 5.55 * t.period + 0.94 * phi31).margin(1e-12));
            CHECK(s.feh == Approx(-0.37 - 5.55 * s.catalogue.period + 0.94 * phi31_cat).margin(1e-12));
        } else {
            CHECK(s.feh_true == Approx(0.80 - 8.54 * t.period + 0.23 * phi31 - 9.34 * t.amplitude[1]).margin(1e-12));
            CHECK(s.feh == Approx(0.80 - 8.54 * s.catalogue.period + 0.23 * phi31_cat - 9.34 * s.catalogue.amplitude[1])
                               .margin(1e-12));
        }
        CHECK(s.feh_error > 0.2);
        CHECK(s.feh_error <= 0.4);
    }
}

TEST_CASE("stars are reproducible from the seed, whatever the order or thread count", "[sim]") {
    simulation_options o;
    o.seed = 42;
    const rrlyrae_simulator a(o), b(o);
    const auto s7 = a.star(7);
    for (std::uint64_t i = 0; i < 7; ++i) (void)b.star(i);  // b has done other work first
    const auto t7 = b.star(7);
    REQUIRE(s7.epochs.size() == t7.epochs.size());
    for (std::size_t k = 0; k < s7.epochs.size(); ++k) {
        CHECK(s7.epochs[k].time == t7.epochs[k].time);
        CHECK(s7.epochs[k].mag == t7.epochs[k].mag);
        CHECK(s7.epochs[k].mag_error == t7.epochs[k].mag_error);
        CHECK(s7.epochs[k].transit_id == t7.epochs[k].transit_id);
    }
    CHECK(s7.feh == t7.feh);
    CHECK(a.truth(7, s7.type).period == s7.truth.period);

    o.seed = 43;
    const rrlyrae_simulator c(o);
    CHECK(c.star(7).truth.period != s7.truth.period);

    // the files do not depend on the number of threads or the chunking
    const fs::path d1 = fs::temp_directory_path() / "ferrum_test_sim_t1";
    const fs::path d2 = fs::temp_directory_path() / "ferrum_test_sim_t2";
    write_options w1, w2;
    w1.threads = 1;
    w1.chunk = 64;
    w2.threads = 2;
    w2.chunk = 7;
    w1.progress = w2.progress = false;
    write_gaia_like_set(d1, 60, 25, o, w1);
    write_gaia_like_set(d2, 60, 25, o, w2);
    for (const char* f : {"epoch_photometry.csv", "vari_rrlyrae.csv", "labels.csv"}) {
        std::ifstream x(d1 / f), y(d2 / f);
        std::stringstream sx, sy;
        sx << x.rdbuf();
        sy << y.rdbuf();
        CHECK(sx.str() == sy.str());
        CHECK(sx.str().size() > 100);
    }
    fs::remove_all(d1);
    fs::remove_all(d2);
}

TEST_CASE("Gaia cadence: epoch counts in range, transits in pairs 106.5 min apart within the DR3 baseline",
          "[sim]") {
    simulation_options o;
    o.seed = 3;
    const rrlyrae_simulator sim(o);
    const double pair = 106.5 / 1440.0, spin = 0.25;
    std::vector<double> counts;
    std::size_t intervals = 0, pairs = 0, other_short = 0;
    for (std::uint64_t i = 0; i < 400; ++i) {
        const auto s = sim.star(i);
        const auto n = s.epochs.size();
        counts.push_back(double(n));
        CHECK(n >= 20);
        CHECK(n <= 260);
        for (std::size_t k = 0; k < n; ++k) {
            CHECK(s.epochs[k].time >= 1666.0);  // 2014-07-25
            CHECK(s.epochs[k].time <= 2704.0);  // 2017-05-28
            if (k == 0) continue;
            const double dt = s.epochs[k].time - s.epochs[k - 1].time;
            REQUIRE(dt > 0);
            CHECK(s.epochs[k].transit_id > s.epochs[k - 1].transit_id);
            ++intervals;
            if (std::abs(dt - pair) < 1e-9) {
                ++pairs;
            } else if (dt < 2.0) {
                // within a visit: the next spin (6 h), possibly with one field of view missed
                const bool ok = std::abs(dt - (spin - pair)) < 1e-9 || std::abs(dt - spin) < 1e-9 ||
                                std::abs(dt - (spin + pair)) < 1e-9;
                if (!ok) ++other_short;
            }
        }
    }
    CHECK(other_short == 0);
    CHECK(double(pairs) / double(intervals) > 0.4);  // most spins see both fields of view
    CHECK(quantile(counts, 0.5) == Approx(44).margin(5));
}

TEST_CASE("per-transit errors follow the Gaia G table", "[sim]") {
    // the table of ../shared/data/README.md (mmag)
    const std::vector<std::pair<double, double>> table{{15, 1.7}, {16, 2.8}, {17, 4.6}, {18, 8.0},
                                                       {19, 14.8}, {19.5, 20}, {20, 28}, {20.5, 40}};
    for (const auto& [g, mmag] : table) CHECK(detail::g_transit_error(g) * 1e3 == Approx(mmag).epsilon(1e-9));
    CHECK(detail::g_transit_error(13.0) * 1e3 == Approx(1.15).epsilon(0.05));
    const double mid = detail::g_transit_error(19.25);
    CHECK(mid > 0.0148);
    CHECK(mid < 0.020);

    // simulated epochs: formal error / table at the epoch's true magnitude has median 1 and ln-spread 0.3
    for (double g : {15.0, 17.0, 19.0}) {
        simulation_options o;
        o.seed = 5;
        o.g_min = o.g_max = g;
        const rrlyrae_simulator sim(o);
        std::vector<double> ln_ratio;
        for (std::uint64_t i = 0; i < 60; ++i) {
            const auto s = sim.star(i);
            for (const auto& e : s.epochs)
                if (!e.rejected_by_variability)
                    ln_ratio.push_back(std::log(e.mag_error / detail::g_transit_error(s.truth.modulated_magnitude(e.time))));
        }
        INFO("G = " << g);
        CHECK(std::exp(quantile(ln_ratio, 0.5)) == Approx(1.0).margin(0.03));
        CHECK(0.5 * (quantile(ln_ratio, 0.8413) - quantile(ln_ratio, 0.1587)) == Approx(0.3).margin(0.03));
    }
}

TEST_CASE("scatter around an order-8 fit matches the real Gaia DR2 RRab curves", "[sim]") {
    // order8_residual_rms: medians over 1,244 real curves with >= 40 epochs (fit_sim_params.py)
    for (std::size_t b : {1, 3, 5}) {
        const auto& bin = detail::order8_residual_rms[b];
        simulation_options o;
        o.seed = 9;
        o.g_min = o.g_max = bin.g;
        o.min_epochs = 40;
        o.max_epochs = 97;
        const rrlyrae_simulator sim(o);
        std::vector<double> rms;
        for (std::uint64_t i = 0; i < 300; ++i) rms.push_back(residual_rms(sim.star(i, rr_type::rrab), 8));
        INFO("G = " << bin.g);
        CHECK(quantile(rms, 0.5) == Approx(bin.median).epsilon(0.2));
        CHECK(quantile(rms, 0.84) == Approx(bin.p84).epsilon(0.3));
    }
}

TEST_CASE("catalogue labels are close to the true ones for bright, dense curves and degrade with noise", "[sim]") {
    const rrlyrae_simulator bright(ideal_bright());
    simulation_options faint_opt;
    faint_opt.seed = 11;
    faint_opt.g_min = faint_opt.g_max = 20.0;
    faint_opt.min_epochs = 20;
    faint_opt.max_epochs = 30;
    const rrlyrae_simulator faint(faint_opt);
    for (rr_type type : {rr_type::rrab, rr_type::rrc}) {
        std::vector<double> d_bright, d_faint, dphi_bright;
        for (std::uint64_t i = 0; i < 300; ++i) {
            const auto s = bright.star(i, type);
            d_bright.push_back(std::abs(s.feh - s.feh_true));
            dphi_bright.push_back(std::abs(std::remainder(s.catalogue.phi31() - s.truth.phi31(), two_pi)));
            const auto f = faint.star(i, type);
            d_faint.push_back(std::abs(f.feh - f.feh_true));
        }
        INFO(to_string(type));
        // bright: what is left is the aliasing of the unfitted harmonics (RRab: 5-8) on Gaia's sampling
        CHECK(quantile(d_bright, 0.5) < (type == rr_type::rrab ? 0.1 : 0.03));
        CHECK(quantile(dphi_bright, 0.5) < 0.1);
        CHECK(quantile(d_faint, 0.5) > 2.0 * quantile(d_bright, 0.5));
    }
}

TEST_CASE("simulated true parameters follow the embedded Gaussians within sampling error", "[sim]") {
    const rrlyrae_simulator sim;
    const int n = 20000;
    for (rr_type type : {rr_type::rrab, rr_type::rrc}) {
        const auto& g = type == rr_type::rrab ? detail::rrab_gaussian : detail::rrc_gaussian;
        std::vector<std::array<double, 6>> xs;
        for (int i = 0; i < n; ++i) {
            const auto t = sim.truth(static_cast<std::uint64_t>(i), type);
            xs.push_back({std::log(t.period), std::log(t.A1()), std::log(t.R21()), std::log(t.R31()), t.phi21(), t.phi31()});
        }
        std::array<double, 6> mean{};
        for (const auto& x : xs)
            for (int j = 0; j < 6; ++j) mean[j] += x[j] / n;
        auto sigma = [&](int i, int j) {
            const int a = std::max(i, j), b = std::min(i, j);
            return g.covariance[static_cast<std::size_t>(a * (a + 1) / 2 + b)];
        };
        INFO(to_string(type));
        for (int i = 0; i < 6; ++i) {
            CHECK(std::abs(mean[i] - g.mean[i]) < 4.5 * std::sqrt(sigma(i, i) / n));
            for (int j = 0; j <= i; ++j) {
                double c = 0;
                for (const auto& x : xs) c += (x[i] - mean[i]) * (x[j] - mean[j]);
                c /= n - 1;
                // sampling sd of a covariance: sqrt((S_ii S_jj + S_ij^2) / n); the truncation at the
                // 99.9 % ellipsoid shrinks it by 0.3 %, far inside the tolerance
                const double sd = std::sqrt((sigma(i, i) * sigma(j, j) + sigma(i, j) * sigma(i, j)) / n);
                INFO("covariance " << i << "," << j);
                CHECK(std::abs(c - sigma(i, j)) < 5 * sd);
            }
        }
    }
}

TEST_CASE("simulated marginals and correlations plus catalogue noise match the LMC table", "[sim]") {
    // True parameters + white-noise Fourier errors of the table's size should look like the observed
    // table: each A_k gets the table's median A1 error s, each phase phi_k an error s / A_k, so that R21 and
    // R31 share the error of A1 and phi21 = phi2 - 2 phi1, phi31 = phi3 - 3 phi1 share that of phi1.
    const rrlyrae_simulator sim;
    detail::star_rng noise(1234, 0);
    for (rr_type type : {rr_type::rrab, rr_type::rrc}) {
        const auto& tab = type == rr_type::rrab ? detail::rrab_table : detail::rrc_table;
        std::vector<std::vector<double>> v(7);
        std::vector<double> r4, r8;
        for (std::uint64_t i = 0; i < 20000; ++i) {
            const auto t = sim.truth(i, type);
            const double s = tab.median_error[1];
            const double A1 = t.A1() + s * noise.normal(), A2 = t.A2() + s * noise.normal();
            const double A3 = t.A3() + s * noise.normal();
            const double d1 = s / t.A1() * noise.normal(), d2 = s / t.A2() * noise.normal();
            const double d3 = s / t.A3() * noise.normal();
            const double p21 = t.phi21() + d2 - 2 * d1, p31 = t.phi31() + d3 - 3 * d1;
            const double vals[7] = {t.period, A1, A2 / A1, A3 / A1, p21, p31, feh_muraveva2025(type, t.period, p31, A2)};
            for (int k = 0; k < 7; ++k) v[k].push_back(vals[k]);
            if (type == rr_type::rrab) {
                r4.push_back(t.R(4));
                r8.push_back(t.R(8));
            }
        }
        for (int k = 0; k < 7; ++k) {
            const auto& q = tab.quantiles[k];
            const double width = q[2] - q[0];
            INFO(to_string(type) << " variable " << k);
            CHECK(std::abs(quantile(v[k], 0.16) - q[0]) < 0.2 * width);
            CHECK(std::abs(quantile(v[k], 0.50) - q[1]) < 0.2 * width);
            CHECK(std::abs(quantile(v[k], 0.84) - q[2]) < 0.2 * width);
        }
        // the correlations of the table (Spearman, so that its misclassified stars do not dominate)
        std::size_t pair = 0;
        for (int i = 0; i < 6; ++i)
            for (int j = i + 1; j < 6; ++j) {
                const double rho = spearman(v[i], v[j]);
                INFO(to_string(type) << " correlation " << i << "," << j << ": simulated " << rho << ", table "
                                     << tab.spearman[pair]);
                CHECK(std::abs(rho - tab.spearman[pair++]) < 0.15);
            }
        if (type == rr_type::rrab) {
            // harmonics 4 and 8 against the medians of the order-8 fits of real DR2 curves
            CHECK(quantile(r4, 0.5) == Approx(detail::rrab_high_harmonics[0].median_r).epsilon(0.1));
            CHECK(quantile(r8, 0.5) == Approx(detail::rrab_high_harmonics[4].median_r).epsilon(0.15));
        }
    }
}

TEST_CASE("the written files follow the archive's formats and read back", "[sim]") {
    simulation_options o;
    o.seed = 17;
    write_options w;
    w.progress = false;
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_sim_files";
    fs::remove_all(dir);
    const auto set = write_gaia_like_set(dir, 30, 12, o, w);
    CHECK(set.stars == 42);

    std::string header;
    const auto ep = read_csv(set.epoch_photometry, &header);
    CHECK(header ==
          "source_id,transit_id,band,time,mag,flux,flux_error,flux_over_error,rejected_by_photometry,"
          "rejected_by_variability,other_flags,solution_id");
    CHECK(ep.size() == set.epochs);

    const rrlyrae_simulator sim(o);
    std::size_t row = 0;
    std::map<std::string, int> clean;
    for (std::uint64_t i = 0; i < 42; ++i) {
        const auto s = sim.star(i, i < 30 ? rr_type::rrab : rr_type::rrc);
        for (const auto& e : s.epochs) {
            const auto& r = ep.at(row++);
            CHECK(std::stoll(r.at("source_id")) == s.source_id);
            CHECK(r.at("band") == "G");
            CHECK(std::stod(r.at("time")) == e.time);  // shortest round-trip text
            CHECK(std::stod(r.at("mag")) == e.mag);
            const double flux = std::stod(r.at("flux")), foe = std::stod(r.at("flux_over_error"));
            CHECK(25.6874 - 2.5 * std::log10(flux) == Approx(e.mag).margin(1e-9));
            CHECK(1.0857362 / foe == Approx(e.mag_error).epsilon(1e-6));
            CHECK(flux / std::stod(r.at("flux_error")) == Approx(foe).epsilon(1e-6));
            CHECK(r.at("rejected_by_photometry") == "false");
            CHECK(r.at("rejected_by_variability") == (e.rejected_by_variability ? "true" : "false"));
            if (r.at("rejected_by_variability") == "false") clean[r.at("source_id")]++;
        }
    }

    const auto vr = read_csv(set.vari_rrlyrae, &header);
    CHECK(header == "source_id,best_classification,pf,p1_o,epoch_g,num_clean_epochs_g,peak_to_peak_g,int_average_g,"
                    "phi31_g,r21_g");
    REQUIRE(vr.size() == 42);
    for (const auto& r : vr) {
        const bool ab = r.at("best_classification") == "RRab";
        CHECK((ab || r.at("best_classification") == "RRc"));
        CHECK(r.at(ab ? "pf" : "p1_o").size() > 0);
        CHECK(r.at(ab ? "p1_o" : "pf").empty());
        CHECK(std::stoi(r.at("num_clean_epochs_g")) == clean[r.at("source_id")]);
        const double phi31 = std::stod(r.at("phi31_g"));
        CHECK(phi31 >= 0);
        CHECK(phi31 < two_pi);
        CHECK(std::stod(r.at("epoch_g")) >= 1666.0);
    }
    const auto lb = read_csv(set.labels);
    REQUIRE(lb.size() == 42);
    for (std::size_t i = 0; i < lb.size(); ++i) {
        CHECK(lb[i].at("source_id") == vr[i].at("source_id"));
        const double e = std::stod(lb[i].at("feh_error"));
        CHECK(e > 0.2);
        CHECK(e <= 0.4);
        const bool ab = lb[i].at("type") == "RRab";
        const double cat = feh_muraveva2025(ab ? rr_type::rrab : rr_type::rrc, std::stod(lb[i].at("period")),
                                            std::stod(vr[i].at("phi31_g")), std::stod(lb[i].at("a2_catalogue")));
        CHECK(std::stod(lb[i].at("feh")) == Approx(cat).margin(1e-12));
    }

    // ferrum's own readers (lightcurve/) accept the files: clean epochs per source, errors, catalogue
    auto opts = ferrum::gaia_read_options{};
    opts.show_progress = false;
    const auto curves = ferrum::read_gaia_epoch_photometry(set.epoch_photometry.string(), opts);
    REQUIRE(curves.curves.size() == 42);
    const ferrum::rrlyrae_catalogue cat(set.vari_rrlyrae.string());
    REQUIRE(cat.size() == 42);
    for (std::uint64_t i = 0; i < 42; ++i) {
        const auto s = sim.star(i, i < 30 ? rr_type::rrab : rr_type::rrc);
        const auto lc = s.light_curve();
        const auto& read = curves.curves[i];
        CHECK(read.source_id == s.source_id);
        REQUIRE(read.size() == lc.size());
        for (std::size_t k = 0; k < lc.size(); ++k) {
            CHECK(read.time[k] == lc.time[k]);
            CHECK(read.mag_err[k] == Approx(lc.mag_err[k]).epsilon(1e-6));
        }
        const auto& star = cat.at(s.source_id);
        CHECK(star.type == s.type);
        CHECK(star.folding_problem().empty());
        CHECK(static_cast<std::size_t>(*star.num_clean_epochs_g) == lc.size());
    }

    // no temporary files left behind
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 3);
    fs::remove_all(dir);
}

TEST_CASE("light_curve() hands the clean epochs to the lightcurve module", "[sim]") {
    const auto s = rrlyrae_simulator().star(2);
    const auto lc = s.light_curve();
    std::size_t clean = 0;
    for (const auto& e : s.epochs) clean += e.rejected_by_variability ? 0 : 1;
    CHECK(lc.size() == clean);
    CHECK(lc.has_errors());
    CHECK(lc.source_id == s.source_id);
    CHECK(s.light_curve(true).size() == s.epochs.size());
}

TEST_CASE("the faintest, sparsest allowed stars still get a sane catalogue entry", "[sim]") {
    simulation_options o;
    o.seed = 100;
    o.g_min = o.g_max = 20.5;
    o.min_epochs = o.max_epochs = simulation_options::min_clean_epochs(o.fit_order_rrab);  // 18
    o.rejected_fraction = 0.5;  // capped so that two clean epochs per coefficient remain (RRab 18, RRc 14)
    const rrlyrae_simulator sim(o);
    for (std::uint64_t i = 0; i < 500; ++i) {
        const auto s = sim.star(i);
        const int order = s.type == rr_type::rrab ? o.fit_order_rrab : o.fit_order_rrc;
        CHECK(s.catalogue.num_clean_epochs >= simulation_options::min_clean_epochs(order));
        CHECK(s.catalogue.num_clean_epochs <= 18);
        CHECK(std::isfinite(s.feh));
        CHECK(std::isfinite(s.catalogue.int_average));
        CHECK(s.catalogue.peak_to_peak <= std::max(2.5, 2 * s.truth.peak_to_peak));
    }
}

TEST_CASE("inconsistent options are refused with a sentence", "[sim]") {
    simulation_options o;
    o.min_epochs = 5;
    CHECK_THROWS_AS(rrlyrae_simulator(o), ferrum::value_error);
    o = {};
    o.g_min = 21;
    o.g_max = 14;
    CHECK_THROWS_AS(rrlyrae_simulator(o), ferrum::value_error);
    o = {};
    o.fit_order_rrab = 2;
    CHECK_THROWS_WITH(rrlyrae_simulator(o), Catch::Contains("phi31"));
    CHECK_THROWS_AS(rrlyrae_simulator().star(0, rr_type::rrd), ferrum::value_error);
    CHECK_THROWS_AS(feh_muraveva2025(rr_type::unknown, 0.5, 2.0, 0.1), ferrum::value_error);
}
