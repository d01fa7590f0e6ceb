// The Gaia-like RR Lyrae simulator against independent facts: the Muraveva et al. (2025) table itself,
// the Gaia error table and residual scatter of real curves, the cadence rules, the embedded parameter
// distributions (within sampling error) and the archive's CSV conventions read back by a plain parser.
#include <catch2/catch.hpp>

#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/models/rrlyrae_model.hpp>
#include <ferrum/sim.hpp>

#include <Eigen/Dense>

#include "reference.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace ferrum::sim;

namespace {

constexpr double k_two_pi = 6.283185307179586476925286766559;

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
    double r = std::fmod(x, k_two_pi);
    return r < 0 ? r + k_two_pi : r;
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

// Epochs, catalogue and labels of two stars agree exactly.
void check_same_star(const simulated_rrlyrae& a, const simulated_rrlyrae& b) {
    REQUIRE(a.epochs.size() == b.epochs.size());
    for (std::size_t k = 0; k < a.epochs.size(); ++k) {
        CHECK(a.epochs[k].time == b.epochs[k].time);
        CHECK(a.epochs[k].mag == b.epochs[k].mag);
        CHECK(a.epochs[k].mag_error == b.epochs[k].mag_error);
        CHECK(a.epochs[k].transit_id == b.epochs[k].transit_id);
        CHECK(a.epochs[k].rejected_by_variability == b.epochs[k].rejected_by_variability);
    }
    CHECK(a.truth.amplitude == b.truth.amplitude);
    CHECK(a.truth.phase == b.truth.phase);
    CHECK(a.catalogue.amplitude == b.catalogue.amplitude);
    CHECK(a.feh == b.feh);
    CHECK(a.feh_error == b.feh_error);
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
    check_same_star(s7, t7);
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

TEST_CASE("Gaia cadence: epoch counts in range, transits in pairs 106.5 min apart within the DR3 baseline", "[sim]") {
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
    const std::vector<std::pair<double, double>> table{{15, 1.7},  {16, 2.8},  {17, 4.6}, {18, 8.0},
                                                       {19, 14.8}, {19.5, 20}, {20, 28},  {20.5, 40}};
    for (const auto& [g, mmag] : table) CHECK(ferrum::sim::detail::g_transit_error(g) * 1e3 == Approx(mmag).epsilon(1e-9));
    CHECK(ferrum::sim::detail::g_transit_error(13.0) * 1e3 == Approx(1.15).epsilon(0.05));
    const double mid = ferrum::sim::detail::g_transit_error(19.25);
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
                    ln_ratio.push_back(
                        std::log(e.mag_error / ferrum::sim::detail::g_transit_error(s.truth.modulated_magnitude(e.time))));
        }
        INFO("G = " << g);
        CHECK(std::exp(quantile(ln_ratio, 0.5)) == Approx(1.0).margin(0.03));
        CHECK(0.5 * (quantile(ln_ratio, 0.8413) - quantile(ln_ratio, 0.1587)) == Approx(0.3).margin(0.03));
    }
}

TEST_CASE("scatter around an order-8 fit matches the real Gaia DR2 RRab curves", "[sim]") {
    // order8_residual_rms: medians over 1,244 real curves with >= 40 epochs (fit_sim_params.py)
    for (std::size_t b : {1, 3, 5}) {
        const auto& bin = ferrum::sim::detail::order8_residual_rms[b];
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
            dphi_bright.push_back(std::abs(std::remainder(s.catalogue.phi31() - s.truth.phi31(), k_two_pi)));
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
        const auto& g = type == rr_type::rrab ? ferrum::sim::detail::rrab_gaussian : ferrum::sim::detail::rrc_gaussian;
        std::vector<std::array<double, 6>> xs;
        for (int i = 0; i < n; ++i) {
            const auto t = sim.truth(static_cast<std::uint64_t>(i), type);
            xs.push_back(
                {std::log(t.period), std::log(t.A1()), std::log(t.R21()), std::log(t.R31()), t.phi21(), t.phi31()});
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
    ferrum::sim::detail::star_rng noise(1234, 0);
    for (rr_type type : {rr_type::rrab, rr_type::rrc}) {
        const auto& tab = type == rr_type::rrab ? ferrum::sim::detail::rrab_table : ferrum::sim::detail::rrc_table;
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
            const double vals[7] = {
                t.period, A1, A2 / A1, A3 / A1, p21, p31, feh_muraveva2025(type, t.period, p31, A2)};
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
            CHECK(quantile(r4, 0.5) == Approx(ferrum::sim::detail::rrab_high_harmonics[0].median_r).epsilon(0.1));
            CHECK(quantile(r8, 0.5) == Approx(ferrum::sim::detail::rrab_high_harmonics[4].median_r).epsilon(0.15));
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
    CHECK(header ==
          "source_id,best_classification,pf,p1_o,epoch_g,num_clean_epochs_g,peak_to_peak_g,int_average_g,"
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
        CHECK(phi31 < k_two_pi);
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
    o.min_epochs = simulation_options::min_clean_epochs(o.fit_order_rrab);  // 18
    o.max_epochs = 24;
    o.rejected_fraction = 0.5;  // capped so that min_epochs clean epochs remain (>= two per coefficient)
    const rrlyrae_simulator sim(o);
    std::size_t rejected = 0;
    for (std::uint64_t i = 0; i < 500; ++i) {
        const auto s = sim.star(i);
        const int order = s.type == rr_type::rrab ? o.fit_order_rrab : o.fit_order_rrc;
        CHECK(s.catalogue.num_clean_epochs >= simulation_options::min_clean_epochs(order));
        CHECK(s.catalogue.num_clean_epochs >= o.min_epochs);
        CHECK(s.catalogue.num_clean_epochs <= 24);
        rejected += s.epochs.size() - std::size_t(s.catalogue.num_clean_epochs);
        CHECK(std::isfinite(s.feh));
        CHECK(std::isfinite(s.catalogue.int_average));
        CHECK(s.catalogue.peak_to_peak <= std::max(2.5, 2 * s.truth.peak_to_peak));
    }
    CHECK(rejected > 500);  // the cap binds, it does not stop the rejections
}

TEST_CASE("the simulator's min_epochs counts clean epochs: a model with the same min_epochs flags no star", "[sim]") {
    // Before the fix, the rejected epochs could leave a star with 20 transits fewer than 20 clean epochs (39
    // of 5,000 default stars), which prepare_rrlyrae_inputs then flagged too_few_epochs.
    for (const int min_epochs : {20, 30}) {
        simulation_options o;
        o.seed = 11;
        o.min_epochs = min_epochs;
        o.epochs_median = min_epochs + 2.0;  // most stars at the bound, where the rejections used to bite
        o.rejected_fraction = 0.2;
        const rrlyrae_simulator sim(o);
        std::vector<ferrum::light_curve> curves;
        std::vector<ferrum::models::rrl_ephemeris> ephemerides;
        std::vector<double> feh;
        std::size_t with_rejected = 0;
        for (std::uint64_t i = 0; i < 400; ++i) {
            const auto s = sim.star(i, rr_type::rrab);
            curves.push_back(s.light_curve());
            ephemerides.push_back({s.type, s.catalogue.period, s.catalogue.epoch_g, 0.0, ""});
            feh.push_back(s.feh);
            with_rejected += s.epochs.size() > curves.back().size() ? 1 : 0;
        }
        CHECK(with_rejected > 100);
        ferrum::models::rrl_input_options in;
        in.min_epochs = std::size_t(min_epochs);
        const auto stars = ferrum::models::prepare_rrlyrae_inputs(curves, ephemerides, in, 0, false);
        ferrum::models::rrl_model_options mo;
        mo.architecture = ferrum::models::rrl_architecture::fourier_linear;
        mo.input = in;
        ferrum::models::rrlyrae_model model(mo);
        std::vector<std::size_t> usable;
        for (std::size_t i = 0; i < stars.size(); ++i)
            if (stars[i].ok()) usable.push_back(i);
        REQUIRE(usable.size() > 300);
        ferrum::models::rrl_training_options t;
        t.progress = false;
        model.fit(stars, feh, usable, t);
        const auto predictions = model.predict(stars);
        for (std::size_t i = 0; i < predictions.size(); ++i) {
            INFO("star " << stars[i].id << " with " << curves[i].size() << " clean epochs");
            CHECK(predictions[i].flag.rfind("too_few_epochs", 0) == std::string::npos);
        }
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

// ------------------------------------------------------------------------------------------------
// Families: options for what another simulator may do differently (leave-one-family-out, issue #19)

namespace {

// Residuals of the clean epochs about the true (modulated) curve.
std::vector<double> true_residuals(const simulated_rrlyrae& s) {
    std::vector<double> r;
    for (const auto& e : s.epochs)
        if (!e.rejected_by_variability) r.push_back(e.mag - s.truth.modulated_magnitude(e.time));
    return r;
}

// Excess kurtosis of values whose mean is known to be 0.
double excess_kurtosis(const std::vector<double>& r) {
    double m2 = 0, m4 = 0;
    for (double x : r) {
        m2 += x * x;
        m4 += x * x * x * x;
    }
    m2 /= double(r.size());
    m4 /= double(r.size());
    return m4 / (m2 * m2) - 3.0;
}

double mean_of(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / double(v.size());
}

double sd_of(const std::vector<double>& v) {
    const double m = mean_of(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / double(v.size() - 1));
}

// Stars with many bright epochs and nothing but white noise, so that residuals show the noise model.
simulation_options noise_probe(double g) {
    simulation_options o;
    o.seed = 29;
    o.g_min = o.g_max = g;
    o.min_epochs = o.max_epochs = 200;
    o.formal_error_sigma_ln = 0.0;
    o.rejected_fraction = 0.0;
    o.blazhko_fraction_rrab = o.blazhko_fraction_rrc = 0.0;
    return o;
}

}  // namespace

TEST_CASE("family ferrum is the default simulator, and options that are off draw nothing", "[sim][family]") {
    const simulation_options d;
    CHECK(d.noise_model == noise_kind::table);
    CHECK(d.cadence == cadence_kind::gaia);
    CHECK(d.label_fit_order == fit_order_rule::fixed);
    CHECK(d.label_fit_weighted);
    CHECK(d.high_harmonics_scale == 1.0);
    CHECK(d.high_harmonics_phase_sd == 0.0);
    CHECK(d.feh_intrinsic_scatter == 0.0);
    CHECK(d.family == "ferrum");

    simulation_options o;
    o.seed = 5;
    auto f = family_options("ferrum");
    f.seed = 5;
    const rrlyrae_simulator plain(o), fam(f);
    // the spread of feh_true comes from the second stream: epochs, fit and feh stay as they were
    auto spread = o;
    spread.feh_intrinsic_scatter = 0.2;
    const rrlyrae_simulator spread_sim(spread);
    for (std::uint64_t i = 0; i < 40; ++i) {
        const auto a = plain.star(i), b = fam.star(i), c = spread_sim.star(i);
        check_same_star(a, b);
        CHECK(a.feh_true == b.feh_true);
        check_same_star(a, c);
        CHECK(a.feh_true != c.feh_true);
        CHECK(b.family == "ferrum");
    }
    // truth() draws the second stream as star() does
    auto bic = family_options("bic");
    bic.seed = 5;
    const rrlyrae_simulator bs(bic);
    for (std::uint64_t i = 0; i < 20; ++i) {
        const auto type = i % 2 ? rr_type::rrc : rr_type::rrab;
        const auto s = bs.star(i, type);
        CHECK(bs.truth(i, type).phase == s.truth.phase);
        CHECK(bs.truth(i, type).amplitude == s.truth.amplitude);
    }
}

TEST_CASE("harmonics above the third: amplitudes scale exactly, phases scatter by the asked sd", "[sim][family]") {
    simulation_options o;
    o.seed = 8;
    auto scaled = o;
    scaled.high_harmonics_scale = 1.5;
    auto turned = o;
    turned.high_harmonics_phase_sd = 0.3;
    const rrlyrae_simulator base(o), big(scaled), twisted(turned);
    std::vector<double> dphi;
    for (std::uint64_t i = 0; i < 600; ++i) {
        const auto type = i % 3 == 0 ? rr_type::rrc : rr_type::rrab;
        const auto t0 = base.truth(i, type), t1 = big.truth(i, type), t2 = twisted.truth(i, type);
        REQUIRE(t0.order() == (type == rr_type::rrab ? 8 : 4));
        for (int k = 1; k <= t0.order(); ++k) {
            const auto j = static_cast<std::size_t>(k - 1);
            CHECK(t1.amplitude[j] == Approx((k > 3 ? 1.5 : 1.0) * t0.amplitude[j]).epsilon(1e-12));
            CHECK(t1.phase[j] == t0.phase[j]);
            CHECK(t2.amplitude[j] == t0.amplitude[j]);
            if (k <= 3) CHECK(t2.phase[j] == t0.phase[j]);
            else dphi.push_back(std::remainder(t2.phase[j] - t0.phase[j], k_two_pi));
        }
    }
    const double n = double(dphi.size()), sd = sd_of(dphi);
    CHECK(std::abs(mean_of(dphi)) < 3 * 0.3 / std::sqrt(n));
    CHECK(std::abs(sd - 0.3) < 3 * 0.3 / std::sqrt(2 * n));
}

TEST_CASE("student_t excess noise has heavy tails at the table's RMS; table noise is Gaussian", "[sim][family]") {
    auto o = noise_probe(14.0);  // formal errors 1.2 mmag, excess scatter ~13 mmag
    auto t = o;
    t.noise_model = noise_kind::student_t;
    const rrlyrae_simulator gauss(o), heavy(t);
    std::vector<double> k_gauss, k_heavy;
    double ss_gauss = 0, ss_heavy = 0;
    for (std::uint64_t i = 0; i < 40; ++i) {
        const auto rg = true_residuals(gauss.star(i, rr_type::rrab));
        const auto rh = true_residuals(heavy.star(i, rr_type::rrab));
        k_gauss.push_back(excess_kurtosis(rg));
        k_heavy.push_back(excess_kurtosis(rh));
        for (double x : rg) ss_gauss += x * x;
        for (double x : rh) ss_heavy += x * x;
    }
    // Gaussian: excess kurtosis 0 with a standard error of sqrt(24 / 200) per star, 0.055 for the mean
    CHECK(std::abs(mean_of(k_gauss)) < 0.25);
    // t with nu = 3 has infinite kurtosis; 200 draws show several units of it
    CHECK(mean_of(k_heavy) > 1.5);
    CHECK(quantile(k_heavy, 0.5) > 0.5);
    // the same per-star scatter (the same main-stream draws), rescaled to the same variance
    CHECK(ss_heavy / ss_gauss == Approx(1.0).margin(0.25));
}

TEST_CASE("lognormal noise: excess RMS is the table median at G times exp(0.5 z)", "[sim][family]") {
    auto o = noise_probe(16.0);
    o.noise_model = noise_kind::lognormal;
    o.blazhko_fraction_rrab = 0.5;  // no effect on the scatter: the Blazhko state is ignored
    const rrlyrae_simulator sim(o);
    // the residual-RMS table's median at G 16 (Dekany & Grebel 2022): 13.26 mmag at G 15.67 and 16.3 at
    // 16.51, interpolated in ln
    const double median_16 = 0.01326 * std::exp((16.0 - 15.67) / (16.51 - 15.67) * std::log(0.0163 / 0.01326));
    std::vector<double> ln_ratio, ln_blazhko, ln_plain;
    for (std::uint64_t i = 0; i < 300; ++i) {
        const auto s = sim.star(i, rr_type::rrab);
        double ss = 0, formal = 0;
        std::size_t n = 0;
        for (const auto& e : s.epochs) {
            ss += std::pow(e.mag - s.truth.modulated_magnitude(e.time), 2);
            formal += e.mag_error * e.mag_error;
            ++n;
        }
        const double excess = std::sqrt(std::max(ss / double(n) - formal / double(n), 1e-12));
        ln_ratio.push_back(std::log(excess / median_16));
        (s.truth.blazhko.active() ? ln_blazhko : ln_plain).push_back(ln_ratio.back());
    }
    // sd 0.5 plus the estimate's own ~1/sqrt(2 * 200) = 0.05 in quadrature
    CHECK(sd_of(ln_ratio) == Approx(std::hypot(0.5, 0.05)).margin(3 * 0.5 / std::sqrt(600.0)));
    CHECK(std::abs(quantile(ln_ratio, 0.5)) < 0.08);
    CHECK(std::abs(mean_of(ln_blazhko) - mean_of(ln_plain)) < 4 * 0.5 * std::sqrt(1.0 / 150 + 1.0 / 150));
}

TEST_CASE("BIC labels: orders in [3, 6] that vary between stars and minimise the BIC", "[sim][family]") {
    auto o = family_options("bic");
    o.seed = 13;
    const rrlyrae_simulator sim(o);
    std::map<int, int> orders;
    for (std::uint64_t i = 0; i < 200; ++i) {
        const auto s = sim.star(i);
        const int K = s.catalogue.order();
        ++orders[K];
        CHECK(K >= 3);
        CHECK(K <= 6);
        CHECK(s.catalogue.num_clean_epochs >= simulation_options::min_clean_epochs(K));
        // recompute the criterion: n ln(chi2 / n) + (2K + 1) ln n over the orders the clean epochs support
        std::vector<double> ph, m, e;
        for (const auto& x : s.epochs)
            if (!x.rejected_by_variability) {
                ph.push_back(x.time / s.truth.period);
                m.push_back(x.mag);
                e.push_back(x.mag_error);
            }
        const double n = double(ph.size());
        int best = 0;
        double best_bic = 0;
        for (int k = 3; k <= 6 && int(ph.size()) >= simulation_options::min_clean_epochs(k); ++k) {
            ferrum::fourier_options fo;
            fo.order = k;
            const auto f = ferrum::fit_fourier(ph, m, e, fo);
            double chi2 = 0;
            for (std::size_t j = 0; j < ph.size(); ++j) chi2 += std::pow((m[j] - f(ph[j])) / e[j], 2);
            const double bic = n * std::log(chi2 / n) + (2 * k + 1) * std::log(n);
            if (best == 0 || bic < best_bic) {
                best = k;
                best_bic = bic;
            }
        }
        CHECK(K == best);
    }
    CHECK(orders.size() >= 3);
    for (const auto& [K, count] : orders) CHECK(count < 180);
}

TEST_CASE("unweighted label fits are ordinary least squares and differ from the weighted ones", "[sim][family]") {
    simulation_options w;
    w.seed = 21;
    auto u = w;
    u.label_fit_weighted = false;
    const rrlyrae_simulator ws(w), us(u);
    int differ = 0, compared = 0;
    for (std::uint64_t i = 0; i < 60; ++i) {
        const auto a = ws.star(i), b = us.star(i);
        if (a.epochs.size() != b.epochs.size()) continue;  // a redrawn sampling (rare)
        ++compared;
        // the fits by hand: [1, cos 2 pi k phase, sin 2 pi k phase] by normal equations
        const int K = b.catalogue.order();
        std::vector<std::size_t> clean;
        for (std::size_t j = 0; j < b.epochs.size(); ++j)
            if (!b.epochs[j].rejected_by_variability) clean.push_back(j);
        Eigen::MatrixXd X(clean.size(), 2 * K + 1);
        Eigen::VectorXd y(clean.size()), wt(clean.size());
        for (std::size_t r = 0; r < clean.size(); ++r) {
            const auto& e = b.epochs[clean[r]];
            const double ph = e.time / b.truth.period;
            X(r, 0) = 1;
            for (int k = 1; k <= K; ++k) {
                X(r, 2 * k - 1) = std::cos(k_two_pi * k * ph);
                X(r, 2 * k) = std::sin(k_two_pi * k * ph);
            }
            y(r) = e.mag;
            wt(r) = 1.0 / (e.mag_error * e.mag_error);
        }
        const Eigen::VectorXd beta_u = (X.transpose() * X).ldlt().solve(X.transpose() * y);
        const Eigen::VectorXd beta_w =
            (X.transpose() * wt.asDiagonal() * X).ldlt().solve(X.transpose() * wt.asDiagonal() * y);
        CHECK(b.catalogue.mean_mag == Approx(beta_u(0)).margin(1e-8));
        CHECK(a.catalogue.mean_mag == Approx(beta_w(0)).margin(1e-8));
        for (int k = 1; k <= K; ++k) {
            CHECK(b.catalogue.A(k) == Approx(std::hypot(beta_u(2 * k - 1), beta_u(2 * k))).margin(1e-8));
            CHECK(a.catalogue.A(k) == Approx(std::hypot(beta_w(2 * k - 1), beta_w(2 * k))).margin(1e-8));
        }
        differ += std::abs(a.catalogue.phi31() - b.catalogue.phi31()) > 1e-6 && a.feh != b.feh;
    }
    CHECK(compared >= 55);
    CHECK(differ >= compared - 1);  // errors vary (log-normal factor, magnitude): the weights matter
}

TEST_CASE("feh_true carries the intrinsic scatter; the catalogue label feh does not", "[sim][family]") {
    simulation_options o;
    o.seed = 31;
    o.feh_intrinsic_scatter = 0.2;
    const rrlyrae_simulator sim(o);
    std::vector<double> d;
    for (std::uint64_t i = 0; i < 3000; ++i) {
        const auto s = sim.star(i);
        const auto& t = s.truth;
        d.push_back(s.feh_true - feh_muraveva2025(s.type, t.period, t.phi31(), t.A2()));
        CHECK(s.feh == feh_muraveva2025(s.type, s.catalogue.period, s.catalogue.phi31(), s.catalogue.A2()));
    }
    const double n = double(d.size());
    CHECK(std::abs(mean_of(d)) < 3 * 0.2 / std::sqrt(n));
    CHECK(std::abs(sd_of(d) - 0.2) < 3 * 0.2 / std::sqrt(2 * n));
}

TEST_CASE("Blazhko fractions of a family match the asked rates within binomial 4 sigma", "[sim][family]") {
    auto o = family_options("bic");
    o.seed = 37;
    const rrlyrae_simulator sim(o);
    for (const auto& [type, p] : {std::pair{rr_type::rrab, 0.4}, std::pair{rr_type::rrc, 0.1}}) {
        const int n = 5000;
        int on = 0;
        for (int i = 0; i < n; ++i) {
            const auto t = sim.truth(std::uint64_t(i), type);
            if (t.blazhko.active()) {
                ++on;
                CHECK(t.blazhko.period >= o.blazhko_period_min);
                CHECK(t.blazhko.period <= o.blazhko_period_max);
            }
        }
        CHECK(std::abs(on / double(n) - p) < 4 * std::sqrt(p * (1 - p) / n));
    }
}

TEST_CASE("uniform cadence spreads the transits uniformly over the DR3 baseline", "[sim][family]") {
    auto o = family_options("dense");
    o.seed = 41;
    const rrlyrae_simulator sim(o);
    std::vector<double> u;
    for (std::uint64_t i = 0; i < 60; ++i) {
        const auto s = sim.star(i);
        CHECK(int(s.epochs.size()) >= o.min_epochs);
        CHECK(int(s.epochs.size()) <= o.max_epochs);
        for (std::size_t k = 0; k < s.epochs.size(); ++k) {
            const double t = s.epochs[k].time;
            CHECK(t >= 1666.0);
            CHECK(t <= 2704.0);
            if (k > 0) {
                CHECK(t >= s.epochs[k - 1].time);
                CHECK(s.epochs[k].transit_id > s.epochs[k - 1].transit_id);
            }
            u.push_back((t - 1666.0) / (2704.0 - 1666.0));
        }
    }
    // Kolmogorov-Smirnov distance to U(0, 1); 1.95 / sqrt(N) is the 0.1 % critical value
    std::sort(u.begin(), u.end());
    const double N = double(u.size());
    double D = 0;
    for (std::size_t i = 0; i < u.size(); ++i) D = std::max({D, (i + 1) / N - u[i], u[i] - i / N});
    CHECK(N > 3000);
    CHECK(D < 1.95 / std::sqrt(N));
}

TEST_CASE("families: every name validates and writes its name to labels.csv; unknown names are refused",
          "[sim][family]") {
    const auto names = family_names();
    REQUIRE(names.size() == 5);
    CHECK(names.front() == "ferrum");
    for (const auto& name : names) {
        const auto o = family_options(name);
        CHECK(o.family == name);
        CHECK_NOTHROW(o.validate());
    }
    CHECK_THROWS_AS(family_options("nope"), ferrum::value_error);
    CHECK_THROWS_WITH(family_options("nope"), Catch::Contains("nope") && Catch::Contains("ferrum") &&
                                                  Catch::Contains("bic") && Catch::Contains("heavy") &&
                                                  Catch::Contains("dense") && Catch::Contains("spectro"));

    auto o = family_options("heavy");
    o.seed = 3;
    write_options w;
    w.progress = false;
    const fs::path dir = fs::temp_directory_path() / "ferrum_test_sim_family";
    fs::remove_all(dir);
    const auto set = write_gaia_like_set(dir, 6, 3, o, w);
    std::string header;
    const auto lb = read_csv(set.labels, &header);
    CHECK(header.substr(header.rfind(',') + 1) == "family");
    REQUIRE(lb.size() == 9);
    for (const auto& r : lb) CHECK(r.at("family") == "heavy");
    fs::remove_all(dir);

    simulation_options bad;
    bad.label_fit_order = fit_order_rule::bic;
    bad.bic_min_order = 2;
    CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("bic_min_order"));
    bad = {};
    bad.label_fit_order = fit_order_rule::bic;
    bad.bic_min_order = 5;
    bad.bic_max_order = 4;
    CHECK_THROWS_AS(rrlyrae_simulator(bad), ferrum::value_error);
    bad = {};
    bad.label_fit_order = fit_order_rule::bic;
    bad.min_epochs = 12;  // fewer than two epochs per coefficient of an order-3 fit
    CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("min_epochs"));
    bad = {};
    bad.feh_intrinsic_scatter = -0.1;
    CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("feh_intrinsic_scatter"));
    bad = {};
    bad.high_harmonics_scale = -1;
    CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("high_harmonics_scale"));
    bad = {};
    bad.family = "a,b";
    CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("family"));
}

namespace {

// SplitMix64's output function (Steele, Lea & Flood 2014; constants of Vigna's splitmix64.c), written out
// here from the published algorithm: the field table's half of a source_id is its lowest bit (0: a).
char field_half_by_splitmix(std::int64_t source_id) {
    std::uint64_t z = static_cast<std::uint64_t>(source_id) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (z & 1U) ? 'b' : 'a';
}

// Two-sample Kolmogorov-Smirnov statistic D = sup |F1 - F2|.
double ks_statistic(std::vector<double> x, std::vector<double> y) {
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    std::size_t i = 0, j = 0;
    double d = 0;
    while (i < x.size() && j < y.size()) {
        const double v = std::min(x[i], y[j]);
        while (i < x.size() && x[i] <= v) ++i;
        while (j < y.size() && y[j] <= v) ++j;
        d = std::max(d, std::abs(double(i) / double(x.size()) - double(j) / double(y.size())));
    }
    return d;
}

}  // namespace

TEST_CASE("field family: RRab resampled from the real table's half a, feh_true the parent's LAMOST [Fe/H]",
          "[sim][family]") {
    const std::string dir = ferrum_test::shared_data_dir();
    if (dir.empty()) {
        WARN("shared data not found: the field-family test is skipped");
        return;
    }
    const fs::path table = fs::path(dir) / "liu2020_lamost_gaiadr3_rrl" / "rrl_params_lamost.csv";
    // the table read by the test's own parser, split by the test's own hash
    std::map<std::int64_t, std::map<std::string, std::string>> half_a;
    std::size_t n_b = 0;
    for (const auto& r : read_csv(table)) {
        const auto id = std::stoll(r.at("source_id"));
        if (field_half_by_splitmix(id) == 'a') half_a[id] = r;
        else ++n_b;
    }
    REQUIRE(half_a.size() + n_b == 2184);
    // a fair coin per star: each half within 4 binomial sd (23.4) of 1092
    CHECK(std::abs(double(half_a.size()) - 1092.0) < 4 * 23.4);
    const auto stars = read_field_rrab_table(table, field_half::a);
    REQUIRE(stars.size() == half_a.size());
    for (const auto& s : stars) CHECK(half_a.count(s.source_id) == 1);
    CHECK(read_field_rrab_table(table, field_half::b).size() == n_b);
    CHECK(read_field_rrab_table(table, field_half::all).size() == 2184);

    auto o = field_family_options(table);
    CHECK(o.family == "field");
    o.seed = 5;
    const auto col = [](const std::map<std::string, std::string>& r, const char* c) { return std::stod(r.at(c)); };

    SECTION("every star is an RRab whose feh_true is its parent's LAMOST value, shape within the jitter") {
        const rrlyrae_simulator sim(o);
        std::set<std::int64_t> parents;
        for (std::uint64_t i = 0; i < 150; ++i) {
            const auto s = sim.star(i);
            REQUIRE(s.type == ferrum::rr_type::rrab);
            REQUIRE(s.truth.parent);
            const auto it = half_a.find(s.truth.parent->source_id);
            REQUIRE(it != half_a.end());
            const auto& r = it->second;
            parents.insert(it->first);
            CHECK(s.feh_true == std::stod(r.at("FeH")));  // the same decimal text, parsed twice
            // 0.5 sigma of jitter: within 3 of the parent's sigmas (6 jitter sd) in every parameter
            CHECK(std::abs(s.truth.period - col(r, "pf")) <= 3 * col(r, "pf_error") + 1e-12);
            CHECK(std::abs(s.truth.A1() - col(r, "A1")) <= 3 * col(r, "A1_error"));
            CHECK(std::abs(s.truth.A2() - col(r, "A2")) <= 3 * col(r, "A2_error"));
            CHECK(std::abs(s.truth.A3() - col(r, "A3")) <= 3 * col(r, "A3_error"));
            const double d31 = std::remainder(s.truth.phi31() - col(r, "phi31_g"), k_two_pi);
            CHECK(std::abs(d31) <= 3 * col(r, "phi31_g_error") + 1e-9);
        }
        CHECK(parents.size() > 130);  // 150 uniform draws from ~1100 stars: ~140 distinct
        CHECK_THROWS_WITH(sim.star(0, ferrum::rr_type::rrc), Catch::Contains("RRab only"));
    }

    SECTION("without jitter the true shapes are the parents' catalogue values exactly") {
        o.field_jitter = 0;
        const rrlyrae_simulator sim(o);
        for (std::uint64_t i = 0; i < 200; ++i) {
            const auto t = sim.truth(i, ferrum::rr_type::rrab);
            REQUIRE(t.parent);
            const auto& r = half_a.at(t.parent->source_id);
            CHECK(t.period == Approx(col(r, "pf")).epsilon(1e-14));
            CHECK(t.A1() == Approx(col(r, "A1")).epsilon(1e-13));
            CHECK(t.A2() == Approx(col(r, "A2")).epsilon(1e-13));
            CHECK(t.A3() == Approx(col(r, "A3")).epsilon(1e-13));
            CHECK(t.phi21() == Approx(wrap(col(r, "phi21_g"))).margin(1e-12));
            CHECK(t.phi31() == Approx(wrap(col(r, "phi31_g"))).margin(1e-12));
        }
    }

    SECTION("P, phi31 and A2 of 3,000 draws follow the half's distribution (two-sample KS, alpha 0.001)") {
        const rrlyrae_simulator sim(o);
        std::vector<double> p, f31, a2, tp, tf31, ta2;
        for (std::uint64_t i = 0; i < 3000; ++i) {
            const auto t = sim.truth(i, ferrum::rr_type::rrab);
            p.push_back(t.period), f31.push_back(t.phi31()), a2.push_back(t.A2());
        }
        for (const auto& kv : half_a) {
            tp.push_back(col(kv.second, "pf"));
            tf31.push_back(wrap(col(kv.second, "phi31_g")));
            ta2.push_back(col(kv.second, "A2"));
        }
        const double n = 3000, m = double(half_a.size()), crit = 1.95 * std::sqrt((n + m) / (n * m));
        CHECK(ks_statistic(p, tp) < crit);
        CHECK(ks_statistic(f31, tf31) < crit);
        CHECK(ks_statistic(a2, ta2) < crit);
        // the parents are drawn uniformly: their [Fe/H] follow the half's
        std::vector<double> feh, tfeh;
        for (std::uint64_t i = 0; i < 3000; ++i) feh.push_back(sim.truth(i, ferrum::rr_type::rrab).parent->feh);
        for (const auto& kv : half_a) tfeh.push_back(col(kv.second, "FeH"));
        CHECK(ks_statistic(feh, tfeh) < crit);
    }

    SECTION("RRc and a truth relation are refused; the written set has parents.csv") {
        write_options w;
        w.progress = false;
        const fs::path out = fs::temp_directory_path() / "ferrum_test_sim_field";
        fs::remove_all(out);
        CHECK_THROWS_WITH(write_gaia_like_set(out, 5, 1, o, w), Catch::Contains("RRab only"));
        auto bad = o;
        bad.truth = truth_relation::lamost;
        CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("truth"));
        bad = family_options("field");
        CHECK_THROWS_WITH(rrlyrae_simulator(bad), Catch::Contains("field_stars"));
        const auto set = write_gaia_like_set(out, 8, 0, o, w);
        const auto lb = read_csv(set.labels), pa = read_csv(set.parents);
        REQUIRE(lb.size() == 8);
        REQUIRE(pa.size() == 8);
        for (std::size_t i = 0; i < 8; ++i) {
            CHECK(lb[i].at("family") == "field");
            CHECK(lb[i].at("type") == "RRab");
            CHECK(pa[i].at("source_id") == lb[i].at("source_id"));
            const auto& r = half_a.at(std::stoll(pa[i].at("parent_source_id")));
            CHECK(std::stod(lb[i].at("feh_true")) == Approx(std::stod(r.at("FeH"))).margin(1e-12));
        }
        fs::remove_all(out);
    }
}

TEST_CASE("field table: bad rows are input errors naming line and field", "[sim][family]") {
    const fs::path f = fs::temp_directory_path() / "ferrum_test_sim_field_bad.csv";
    const std::string head =
        "source_id,pf,pf_error,phi31_g,phi31_g_error,phi21_g,phi21_g_error,A1,A1_error,A2,A2_error,A3,A3_error,FeH,"
        "FeH_err\n";
    const std::string good = "1,0.55,1e-6,2.0,0.1,4.0,0.1,0.3,0.01,0.15,0.01,0.1,0.01,-1.5,0.1\n";
    std::ofstream(f) << head << good << "2,0.55,1e-6,2.0,0.1,4.0,0.1,0.3,0.01,abc,0.01,0.1,0.01,-1.5,0.1\n";
    CHECK_THROWS_WITH(read_field_rrab_table(f, field_half::all), Catch::Contains(":3") && Catch::Contains("A2"));
    std::ofstream(f) << head << good << "2,0.55,1e-6,2.0,0.1,4.0,0.1,-0.3,0.01,0.1,0.01,0.1,0.01,-1.5,0.1\n";
    CHECK_THROWS_WITH(read_field_rrab_table(f, field_half::all), Catch::Contains("A1") && Catch::Contains("positive"));
    std::ofstream(f) << head << good << "2,3.5,1e-6,2.0,0.1,4.0,0.1,0.3,0.01,0.1,0.01,0.1,0.01,-1.5,0.1\n";
    CHECK_THROWS_WITH(read_field_rrab_table(f, field_half::all), Catch::Contains(":3") && Catch::Contains("pf"));
    std::ofstream(f) << head << good << good;
    CHECK_THROWS_WITH(read_field_rrab_table(f, field_half::all), Catch::Contains("twice"));
    std::ofstream(f) << "source_id,pf\n1,0.5\n";
    CHECK_THROWS_WITH(read_field_rrab_table(f, field_half::all), Catch::Contains("pf_error"));
    std::ofstream(f) << head << good;
    CHECK(read_field_rrab_table(f, field_half::all).size() == 1);
    fs::remove(f);
}
