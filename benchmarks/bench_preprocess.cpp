// Throughput of the light-curve pre-processing (fold + GCV smoothing spline + resampling on 264/265 phases +
// standardisation; Monti et al. 2025, Sect. 3) on the 12,432 real Gaia DR2 RRab curves of Dekany & Grebel
// (2022) and on a synthetic set the size of Gaia DR3's RR Lyrae (271,779 curves), next to SciPy's
// make_smoothing_spline doing the same steps (preprocess_peer.py, run on an even sample and extrapolated).
//
//   bench_preprocess [--peer-sample K] [--synthetic N] [--threads T] [--accuracy N]
// It also measures the accuracy of the spline settings against the truth on N simulated curves.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/lightcurve/preprocess.hpp"
#include "ferrum/lightcurve/tables.hpp"
#include "ferrum/sim/rrlyrae.hpp"

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Runs the SciPy peer on `file` and returns its JSON line (null when Python or SciPy is unavailable).
nlohmann::json run_peer(const std::string& file, std::size_t sample, std::size_t n_phases) {
    const std::string cmd = "/usr/bin/python3 '" + std::string(FERRUM_BENCH_DIR) + "/preprocess_peer.py' bench '" +
                            file + "' --sample " + std::to_string(sample) + " --n-phases " + std::to_string(n_phases) +
                            " 2>/dev/null";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
    }
    const auto last = out.find_last_of('{');
    if (last == std::string::npos) return nullptr;
    try {
        return nlohmann::json::parse(out.substr(last));
    } catch (...) {
        return nullptr;
    }
}

// CPU time of the whole process (all threads): on a shared machine the wall time includes waiting for a
// core, the CPU time does not.
double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct timing {
    std::size_t curves = 0, ok = 0;
    double seconds = 0, cpu_seconds = 0;
    double rate() const { return seconds > 0 ? double(curves) / seconds : 0.0; }
    double cpu_rate() const { return cpu_seconds > 0 ? double(curves) / cpu_seconds : 0.0; }
};

template <class Run>
timing timed(std::size_t curves, Run&& run) {
    const auto t0 = clock_type::now();
    const double c0 = process_cpu_seconds();
    const std::size_t ok = run();
    return {curves, ok, seconds_since(t0), process_cpu_seconds() - c0};
}

std::size_t count_ok(const std::vector<ferrum::preprocess_result>& r) {
    return std::size_t(std::count_if(r.begin(), r.end(), [](const auto& x) { return x.ok(); }));
}

// The synthetic DR3-sized set: sim's Gaia-like RR Lyrae (cadence, noise, Blazhko), in DR3's proportions
// (174,947 RRab; 93,952 RRc + 2,006 RRd, simulated as RRc and folded on p1_o), generated in parallel into
// chunks of one type each, so that the timed runs pass them to preprocess_curves without a copy.
struct chunk {
    bool rrab = true;
    std::vector<ferrum::light_curve> curves;
    std::vector<double> periods, epochs;
};
struct synthetic_set {
    std::vector<chunk> chunks;
    std::size_t n = 0, n_rrab = 0;
};

synthetic_set simulate(std::size_t n, unsigned threads, std::size_t chunk_size = 16384) {
    synthetic_set s;
    s.n = n;
    s.n_rrab = static_cast<std::size_t>(double(n) * 174947.0 / 271779.0 + 0.5);
    for (std::size_t lo = 0; lo < n;) {
        const bool rrab = lo < s.n_rrab;
        const std::size_t hi = std::min({n, lo + chunk_size, rrab ? s.n_rrab : n});
        chunk c;
        c.rrab = rrab;
        c.curves.resize(hi - lo);
        c.periods.assign(hi - lo, 0.0);
        c.epochs.assign(hi - lo, 0.0);
        s.chunks.push_back(std::move(c));
        lo = hi;
    }
    ferrum::sim::simulation_options o;
    o.seed = 271779;
    const ferrum::sim::rrlyrae_simulator sim(o);
    ferrum::progress bar("simulate DR3-sized set", s.chunks.size(), "chunks");
    std::atomic<std::size_t> next{0}, done{0};
    auto work = [&](unsigned t) {
        for (std::size_t k; (k = next.fetch_add(1)) < s.chunks.size();) {
            chunk& c = s.chunks[k];
            std::size_t first = 0;
            for (std::size_t j = 0; j < k; ++j) first += s.chunks[j].curves.size();
            for (std::size_t i = 0; i < c.curves.size(); ++i) {
                const auto star = sim.star(first + i, c.rrab ? ferrum::sim::rr_type::rrab : ferrum::sim::rr_type::rrc);
                c.curves[i] = star.light_curve();
                c.periods[i] = star.catalogue.period;
                c.epochs[i] = star.catalogue.epoch_g;
            }
            const std::size_t d = done.fetch_add(1) + 1;
            if (t == 0 && d < s.chunks.size()) bar.update(d);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
    bar.update(s.chunks.size());
    return s;
}

// Pre-processes the chunks [first, last) (RRab on 264 phases, RRc on 265), keeping only the count of good
// curves so that memory stays bounded (a DR3-sized batch of sequences is 1.1 GB).
std::size_t run_chunks(const synthetic_set& s, std::size_t first, std::size_t last, bool fourier, unsigned threads) {
    ferrum::batch_options b;
    b.threads = threads;
    b.show_progress = false;
    std::size_t ok = 0;
    for (std::size_t k = first; k < last; ++k) {
        const chunk& c = s.chunks[k];
        ferrum::preprocess_options opt;
        opt.n_phases = c.rrab ? ferrum::paper_phases_rrab : ferrum::paper_phases_rrc;
        opt.fit_fourier = fourier;
        ok += count_ok(ferrum::preprocess_curves(c.curves, c.periods, c.epochs, opt, b));
    }
    return ok;
}

// Accuracy against the truth on simulated curves (no Blazhko, so the folded truth is one curve): RMS of the
// resampled curve (de-standardised) minus the true curve, at the edges (phase < 0.05 or > 0.95) and over
// the whole cycle, for the spline settings a user would weigh against each other.
struct accuracy_row {
    std::string name;
    double edge_median = 0, edge_pooled = 0, edge_max = 0, all_median = 0, us_per_curve_cpu = 0;
};

accuracy_row accuracy(const std::string& name, const ferrum::preprocess_options& opt, std::size_t n_stars) {
    ferrum::sim::simulation_options so;
    so.seed = 5;
    so.blazhko_fraction_rrab = 0.0;
    const ferrum::sim::rrlyrae_simulator sim(so);
    std::vector<ferrum::sim::simulated_rrlyrae> stars;
    std::vector<ferrum::light_curve> curves;
    for (std::size_t i = 0; i < n_stars; ++i) {
        stars.push_back(sim.star(i));
        curves.push_back(stars.back().light_curve());
    }
    ferrum::preprocessor p(opt);
    std::vector<ferrum::preprocessed_curve> out;
    const double c0 = process_cpu_seconds();
    for (std::size_t i = 0; i < n_stars; ++i)
        out.push_back(p(curves[i], stars[i].catalogue.period, stars[i].catalogue.epoch_g));
    accuracy_row row{name};
    row.us_per_curve_cpu = 1e6 * (process_cpu_seconds() - c0) / double(n_stars);
    std::vector<double> edge, all;
    double pooled = 0;
    std::size_t pooled_n = 0;
    for (std::size_t i = 0; i < n_stars; ++i) {
        const auto& r = out[i];
        double se = 0, sa = 0;
        std::size_t ne = 0;
        for (std::size_t j = 0; j < r.mag.size(); ++j) {
            const double phi = p.grid()[j];
            const double truth = stars[i].truth.magnitude(stars[i].catalogue.epoch_g + phi * stars[i].catalogue.period);
            const double d = r.mag[j] * r.features.std + r.features.mean - truth;
            sa += d * d;
            if (phi < 0.05 || phi > 0.95) {
                se += d * d;
                ++ne;
            }
        }
        edge.push_back(std::sqrt(se / double(ne)));
        all.push_back(std::sqrt(sa / double(r.mag.size())));
        pooled += se;
        pooled_n += ne;
    }
    auto median = [](std::vector<double> v) {
        std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
        return v[v.size() / 2];
    };
    row.edge_median = median(edge);
    row.edge_pooled = std::sqrt(pooled / double(pooled_n));
    row.edge_max = *std::max_element(edge.begin(), edge.end());
    row.all_median = median(all);
    return row;
}

// One table row: wall and CPU time, rates, and (for the 1-thread rows) SciPy's rate and the ratio, both per
// CPU second so that the load of a shared machine cancels out.
void print_row(const std::string& name, const timing& t, const nlohmann::json& peer) {
    std::printf("%-34s %7zu %8.2f %8.2f %10.0f %10.0f", name.c_str(), t.curves, t.seconds, t.cpu_seconds, t.rate(),
                t.cpu_rate());
    if (!peer.is_null())
        std::printf(" %10.1f %7.0fx\n", peer["curves_per_cpu_s"].get<double>(),
                    t.cpu_rate() / peer["curves_per_cpu_s"].get<double>());
    else std::printf("\n");
}

nlohmann::json timing_json(const timing& t) {
    return {{"curves", t.curves},       {"ok", t.ok},
            {"seconds", t.seconds},     {"cpu_seconds", t.cpu_seconds},
            {"curves_per_s", t.rate()}, {"curves_per_cpu_s", t.cpu_rate()}};
}

double ratio(const timing& t, const nlohmann::json& peer) {
    return peer.is_null() ? 0.0 : t.cpu_rate() / peer["curves_per_cpu_s"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t peer_sample = 300, n_synthetic = 271779, n_accuracy = 2000;
    unsigned threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--peer-sample") peer_sample = std::stoul(argv[i + 1]);
        else if (k == "--synthetic") n_synthetic = std::stoul(argv[i + 1]);
        else if (k == "--threads") threads = unsigned(std::stoul(argv[i + 1]));
        else if (k == "--accuracy") n_accuracy = std::stoul(argv[i + 1]);
    }
    const std::string dekany = std::string(FERRUM_SHARED_DATA_DIR) + "/dekany2022_gaiadr2_rrab_g/lightcurves.csv";
    const std::string T = std::to_string(threads) + " threads";
    nlohmann::json out;
    out["benchmark"] = "preprocess";
    out["threads"] = threads;
    out["hardware_threads"] = std::thread::hardware_concurrency();

    // --- real curves: Dekany & Grebel (2022) Gaia DR2 RRab, already folded --------------------------------
    ferrum::batch_options one, many;
    one.threads = 1;
    one.show_progress = false;
    many = one;
    many.threads = threads;
    timing d1, dn, df;
    nlohmann::json dpeer;
    if (fs::exists(dekany)) {
        ferrum::table_read_options ro;
        ro.show_progress = false;
        const auto curves = ferrum::read_folded_table(dekany, ro).curves;
        ferrum::preprocess_options opt;
        opt.fit_fourier = false;
        std::fprintf(stderr, "dekany2022: %zu curves, 1 thread, %s, with Fourier...\n", curves.size(), T.c_str());
        d1 = timed(curves.size(), [&] { return count_ok(ferrum::preprocess_curves(curves, opt, one)); });
        dn = timed(curves.size(), [&] { return count_ok(ferrum::preprocess_curves(curves, opt, many)); });
        opt.fit_fourier = true;
        df = timed(curves.size(), [&] { return count_ok(ferrum::preprocess_curves(curves, opt, one)); });
        std::fprintf(stderr, "dekany2022: SciPy peer on %zu curves...\n", peer_sample);
        dpeer = run_peer(dekany, peer_sample, ferrum::paper_phases_rrab);
        out["dekany2022"] = {{"one_thread", timing_json(d1)},
                             {"threads", timing_json(dn)},
                             {"one_thread_with_fourier", timing_json(df)},
                             {"scipy", dpeer},
                             {"ratio_per_cpu_s_vs_scipy", ratio(d1, dpeer)}};
    }

    // --- synthetic DR3-sized set ----------------------------------------------------------------------------
    timing s1, sn, sf;
    nlohmann::json speer;
    double sim_seconds = 0, median_epochs = 0;
    std::size_t epochs = 0, n_rrab = 0;
    if (n_synthetic > 0) {
        const auto t_sim = clock_type::now();
        const synthetic_set s = simulate(n_synthetic, threads);
        sim_seconds = seconds_since(t_sim);
        n_rrab = s.n_rrab;
        std::vector<std::size_t> per_curve;
        for (const auto& c : s.chunks)
            for (const auto& lc : c.curves) {
                epochs += lc.size();
                per_curve.push_back(lc.size());
            }
        std::nth_element(per_curve.begin(), per_curve.begin() + long(per_curve.size() / 2), per_curve.end());
        median_epochs = double(per_curve[per_curve.size() / 2]);

        // The peer gets an even sample of the same curves, written as time series with period and epoch.
        const std::size_t stride = std::max<std::size_t>(1, n_synthetic / peer_sample);
        const fs::path sample_file = fs::temp_directory_path() /
                                     ("ferrum-bench-preprocess-" + std::to_string(std::random_device{}()) + ".csv");
        ferrum::write_file_atomically(sample_file, [&](std::ostream& os) {
            os << "source_id,time,mag,period,epoch\n";
            os.precision(17);
            std::size_t index = 0;
            for (const auto& c : s.chunks)
                for (std::size_t i = 0; i < c.curves.size(); ++i, ++index)
                    if (index % stride == 0)
                        for (std::size_t j = 0; j < c.curves[i].size(); ++j)
                            os << c.curves[i].source_id << ',' << c.curves[i].time[j] << ',' << c.curves[i].mag[j]
                               << ',' << c.periods[i] << ',' << c.epochs[i] << '\n';
        });
        std::fprintf(stderr, "synthetic: SciPy peer on %zu curves...\n", peer_sample);
        speer = run_peer(sample_file.string(), peer_sample, ferrum::paper_phases_rrab);
        std::error_code ignored;
        fs::remove(sample_file, ignored);

        // One thread on the first RRab chunk and the first RRc chunk (the per-core rate), then the whole set
        // on all threads, without and with the Fourier features.
        std::vector<std::size_t> firsts;
        for (std::size_t k = 0; k < s.chunks.size(); ++k)
            if (k == 0 || s.chunks[k].rrab != s.chunks[k - 1].rrab) firsts.push_back(k);
        std::size_t slice = 0;
        for (const std::size_t k : firsts) slice += s.chunks[k].curves.size();
        std::fprintf(stderr, "synthetic: 1 thread on %zu curves...\n", slice);
        s1 = timed(slice, [&] {
            std::size_t ok = 0;
            for (const std::size_t k : firsts) ok += run_chunks(s, k, k + 1, false, 1);
            return ok;
        });
        std::fprintf(stderr, "synthetic: %zu curves on %s, without and with Fourier...\n", n_synthetic, T.c_str());
        sn = timed(n_synthetic, [&] { return run_chunks(s, 0, s.chunks.size(), false, threads); });
        sf = timed(n_synthetic, [&] { return run_chunks(s, 0, s.chunks.size(), true, threads); });
        out["synthetic_dr3"] = {
            {"curves", n_synthetic},
            {"rrab", n_rrab},
            {"epochs", epochs},
            {"median_epochs", median_epochs},
            {"simulation_seconds", sim_seconds},
            {"one_thread", timing_json(s1)},
            {"threads", timing_json(sn)},
            {"threads_with_fourier", timing_json(sf)},
            {"scipy", speer},
            {"ratio_per_cpu_s_vs_scipy", ratio(s1, speer)},
            {"scipy_extrapolated_cpu_seconds",
             speer.is_null() ? 0.0 : double(n_synthetic) / speer["curves_per_cpu_s"].get<double>()}};
    }

    // --- accuracy of the spline settings against the simulated truth -----------------------------------------
    std::vector<accuracy_row> acc;
    if (n_accuracy > 0) {
        std::fprintf(stderr, "accuracy: %zu simulated curves x 4 settings...\n", n_accuracy);
        ferrum::preprocess_options o;
        o.fit_fourier = false;
        ferrum::preprocess_options plain = o;
        plain.spline.gamma = 1.0;
        plain.wrap_padding = 0.0;
        acc.push_back(accuracy("GCV, no padding (SciPy-like)", plain, n_accuracy));
        o.wrap_padding = 0.0;
        acc.push_back(accuracy("modified GCV 1.4, no padding", o, n_accuracy));
        o.wrap_padding = 0.1;
        acc.push_back(accuracy("modified GCV 1.4, pad 0.1 (default)", o, n_accuracy));
        o.wrap_padding = 0.2;
        acc.push_back(accuracy("modified GCV 1.4, pad 0.2", o, n_accuracy));
        nlohmann::json a = nlohmann::json::array();
        for (const auto& r : acc)
            a.push_back({{"setting", r.name},
                         {"edge_rms_median_mag", r.edge_median},
                         {"edge_rms_pooled_mag", r.edge_pooled},
                         {"edge_rms_max_mag", r.edge_max},
                         {"rms_median_mag", r.all_median},
                         {"us_per_curve_cpu", r.us_per_curve_cpu}});
        out["accuracy_simulated"] = {{"curves", n_accuracy}, {"rows", a}};
    }

    std::printf("Pre-processing: fold + GCV smoothing spline + 264/265 phases + standardise\n");
    std::printf("%-34s %7s %8s %8s %10s %10s %10s %8s\n", "set / run", "curves", "wall s", "CPU s", "curves/s",
                "per CPU s", "SciPy/CPUs", "ratio");
    if (d1.curves) {
        print_row("Dekany DR2 RRab, 1 thread", d1, dpeer);
        print_row("Dekany DR2 RRab, " + T, dn, nullptr);
        print_row("Dekany + Fourier, 1 thread", df, nullptr);
        if (d1.ok != d1.curves) std::printf("  (%zu of %zu curves failed)\n", d1.curves - d1.ok, d1.curves);
    } else {
        std::printf("Dekany DR2 RRab: missing %s\n", dekany.c_str());
    }
    if (n_synthetic > 0) {
        print_row("synthetic, 1 thread", s1, speer);
        print_row("synthetic DR3-sized, " + T, sn, nullptr);
        print_row("DR3-sized + Fourier, " + T, sf, nullptr);
        if (sn.ok != sn.curves) std::printf("  (%zu of %zu curves failed)\n", sn.curves - sn.ok, sn.curves);
        std::printf("synthetic set: %zu curves (%zu RRab), %zu epochs, median %.0f per curve, simulated in %.1f s\n",
                    n_synthetic, n_rrab, epochs, median_epochs, sim_seconds);
        if (!speer.is_null())
            std::printf("SciPy extrapolated to the DR3-sized set: %.0f CPU s (%.1f h) on one core\n",
                        double(n_synthetic) / speer["curves_per_cpu_s"].get<double>(),
                        double(n_synthetic) / speer["curves_per_cpu_s"].get<double>() / 3600);
    }
    std::printf("ratio = ferrum curves per CPU second / SciPy curves per CPU second (same curves, same run)\n");
    if (!acc.empty()) {
        std::printf("\nAccuracy on %zu simulated DR3-like curves (no Blazhko) against the true curve, mmag:\n",
                    n_accuracy);
        std::printf("%-38s %11s %11s %11s %11s %9s\n", "spline setting", "edge med", "edge pooled", "edge max",
                    "all med", "us/curve");
        for (const auto& r : acc)
            std::printf("%-38s %11.1f %11.1f %11.0f %11.1f %9.0f\n", r.name.c_str(), 1e3 * r.edge_median,
                        1e3 * r.edge_pooled, 1e3 * r.edge_max, 1e3 * r.all_median, r.us_per_curve_cpu);
        std::printf(
            "edge: phases within 0.05 of 0 or 1; per-curve RMS (median, max) and pooled over curves; "
            "us/curve: CPU\n");
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
}
