// Throughput of the light-curve pre-processing (fold + GCV smoothing spline + resampling on 264/265 phases +
// standardisation; Monti et al. 2025, Sect. 3) on the 12,432 real Gaia DR2 RRab curves of Dekany & Grebel
// (2022) and on a synthetic set the size of Gaia DR3's RR Lyrae (271,779 curves), next to SciPy's
// make_smoothing_spline doing the same steps (preprocess_peer.py, run on an even sample and extrapolated).
//
//   bench_preprocess [--peer-sample K] [--synthetic N] [--threads T]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
                            file + "' --sample " + std::to_string(sample) + " --n-phases " +
                            std::to_string(n_phases) + " 2>/dev/null";
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

struct timing {
    std::size_t curves = 0, ok = 0;
    double seconds = 0;
    double rate() const { return seconds > 0 ? double(curves) / seconds : 0.0; }
};

template <class Run>
timing timed(std::size_t curves, Run&& run) {
    const auto t0 = clock_type::now();
    const std::size_t ok = run();
    return {curves, ok, seconds_since(t0)};
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
    ferrum::progress bar("simulate DR3-sized set", s.chunks.size());
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

}  // namespace

int main(int argc, char** argv) {
    std::size_t peer_sample = 300, n_synthetic = 271779;
    unsigned threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--peer-sample") peer_sample = std::stoul(argv[i + 1]);
        else if (k == "--synthetic") n_synthetic = std::stoul(argv[i + 1]);
        else if (k == "--threads") threads = unsigned(std::stoul(argv[i + 1]));
    }
    const std::string dekany = std::string(FERRUM_SHARED_DATA_DIR) + "/dekany2022_gaiadr2_rrab_g/lightcurves.csv";
    nlohmann::json out;
    out["benchmark"] = "preprocess";
    out["threads"] = threads;
    out["hardware_threads"] = std::thread::hardware_concurrency();

    std::printf("Pre-processing: fold + GCV smoothing spline + 264/265 phases + standardise (Fourier off unless said)\n");
    std::printf("%-34s %8s %14s %14s %16s %9s\n", "set / run", "curves", "seconds", "curves/s", "SciPy curves/s",
                "ratio");

    // --- real curves: Dekany & Grebel (2022) Gaia DR2 RRab, already folded --------------------------------
    ferrum::batch_options one, many;
    one.threads = 1;
    one.show_progress = false;
    many = one;
    many.threads = threads;
    if (fs::exists(dekany)) {
        ferrum::table_read_options ro;
        ro.show_progress = false;
        const auto read = ferrum::read_folded_table(dekany, ro);
        const auto& curves = read.curves;
        ferrum::preprocess_options opt;
        opt.fit_fourier = false;
        std::fprintf(stderr, "dekany2022: %zu curves, 1 thread...\n", curves.size());
        const timing t1 = timed(curves.size(), [&] { return count_ok(ferrum::preprocess_curves(curves, opt, one)); });
        const timing tn = timed(curves.size(), [&] { return count_ok(ferrum::preprocess_curves(curves, opt, many)); });
        opt.fit_fourier = true;
        const timing tf = timed(curves.size(), [&] { return count_ok(ferrum::preprocess_curves(curves, opt, one)); });
        std::fprintf(stderr, "dekany2022: SciPy peer on %zu curves...\n", peer_sample);
        const auto peer = run_peer(dekany, peer_sample, ferrum::paper_phases_rrab);
        const double peer_rate = peer.is_null() ? 0.0 : peer["curves_per_s"].get<double>();
        auto row = [&](const char* name, const timing& t, bool with_peer) {
            std::printf("%-34s %8zu %14.3f %14.0f", name, t.curves, t.seconds, t.rate());
            if (with_peer && peer_rate > 0)
                std::printf(" %16.1f %8.0fx\n", peer_rate, t.rate() / peer_rate);
            else
                std::printf(" %16s %9s\n", "", "");
        };
        row("dekany2022 DR2 RRab, 1 thread", t1, true);
        row(("dekany2022 DR2 RRab, " + std::to_string(threads) + " threads").c_str(), tn, false);
        row("dekany2022 + Fourier, 1 thread", tf, false);
        if (t1.ok != curves.size()) std::printf("  (%zu of %zu curves failed)\n", curves.size() - t1.ok, curves.size());
        out["dekany2022"] = {{"curves", curves.size()},
                             {"ok", t1.ok},
                             {"seconds_1_thread", t1.seconds},
                             {"curves_per_s_1_thread", t1.rate()},
                             {"seconds_threads", tn.seconds},
                             {"curves_per_s_threads", tn.rate()},
                             {"curves_per_s_1_thread_with_fourier", tf.rate()},
                             {"scipy", peer},
                             {"ratio_1_thread_vs_scipy", peer_rate > 0 ? t1.rate() / peer_rate : 0.0},
                             {"scipy_extrapolated_seconds", peer_rate > 0 ? double(curves.size()) / peer_rate : 0.0}};
    } else {
        std::printf("%-34s (missing: %s)\n", "dekany2022 DR2 RRab", dekany.c_str());
    }

    // --- synthetic DR3-sized set ----------------------------------------------------------------------------
    if (n_synthetic > 0) {
        const auto t_sim = clock_type::now();
        const synthetic_set s = simulate(n_synthetic, threads);
        const double sim_seconds = seconds_since(t_sim);
        std::size_t epochs = 0;
        std::vector<std::size_t> per_curve;
        for (const auto& c : s.chunks)
            for (const auto& lc : c.curves) {
                epochs += lc.size();
                per_curve.push_back(lc.size());
            }
        std::nth_element(per_curve.begin(), per_curve.begin() + long(per_curve.size() / 2), per_curve.end());
        const double median_epochs = double(per_curve[per_curve.size() / 2]);

        // The peer gets an even sample of the same curves, written as time series with period and epoch.
        const std::size_t stride = std::max<std::size_t>(1, n_synthetic / peer_sample);
        const fs::path sample_file =
            fs::temp_directory_path() / ("ferrum-bench-preprocess-" + std::to_string(std::random_device{}()) + ".csv");
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
        const auto peer = run_peer(sample_file.string(), peer_sample, ferrum::paper_phases_rrab);
        std::error_code ignored;
        fs::remove(sample_file, ignored);
        const double peer_rate = peer.is_null() ? 0.0 : peer["curves_per_s"].get<double>();

        // One thread on the first RRab chunk and the first RRc chunk (the per-core rate), then the whole set
        // on all threads.
        std::vector<std::size_t> firsts;
        for (std::size_t k = 0; k < s.chunks.size(); ++k)
            if (k == 0 || s.chunks[k].rrab != s.chunks[k - 1].rrab) firsts.push_back(k);
        std::size_t slice = 0;
        for (const std::size_t k : firsts) slice += s.chunks[k].curves.size();
        std::fprintf(stderr, "synthetic: 1 thread on %zu curves...\n", slice);
        const timing t1 = timed(slice, [&] {
            std::size_t ok = 0;
            for (const std::size_t k : firsts) ok += run_chunks(s, k, k + 1, false, 1);
            return ok;
        });
        std::fprintf(stderr, "synthetic: %zu curves on %u threads...\n", n_synthetic, threads);
        const timing tn = timed(n_synthetic, [&] { return run_chunks(s, 0, s.chunks.size(), false, threads); });
        std::fprintf(stderr, "synthetic: %zu curves on %u threads, with Fourier features...\n", n_synthetic, threads);
        const timing tf = timed(n_synthetic, [&] { return run_chunks(s, 0, s.chunks.size(), true, threads); });

        std::printf("%-34s %8zu %14.3f %14.0f", "synthetic DR3-sized, 1 thread", t1.curves, t1.seconds, t1.rate());
        if (peer_rate > 0)
            std::printf(" %16.1f %8.0fx\n", peer_rate, t1.rate() / peer_rate);
        else
            std::printf(" %16s %9s\n", "", "");
        std::printf("%-34s %8zu %14.3f %14.0f\n", ("synthetic DR3-sized, " + std::to_string(threads) + " threads").c_str(),
                    tn.curves, tn.seconds, tn.rate());
        std::printf("%-34s %8zu %14.3f %14.0f\n", ("  + Fourier features, " + std::to_string(threads) + " threads").c_str(),
                    tf.curves, tf.seconds, tf.rate());
        if (peer_rate > 0)
            std::printf("SciPy extrapolated to the DR3-sized set: %.0f s on one core (%.1f h)\n",
                        double(n_synthetic) / peer_rate, double(n_synthetic) / peer_rate / 3600);
        std::printf("synthetic set: %zu curves (%zu RRab), %zu epochs, median %.0f per curve; simulated in %.1f s\n",
                    n_synthetic, s.n_rrab, epochs, median_epochs, sim_seconds);
        if (tn.ok != n_synthetic) std::printf("  (%zu of %zu curves failed)\n", n_synthetic - tn.ok, n_synthetic);
        out["synthetic_dr3"] = {{"curves", n_synthetic},
                                {"rrab", s.n_rrab},
                                {"epochs", epochs},
                                {"median_epochs", median_epochs},
                                {"seconds_1_thread", t1.seconds},
                                {"curves_1_thread", t1.curves},
                                {"ok", tn.ok},
                                {"curves_per_s_1_thread", t1.rate()},
                                {"seconds_threads", tn.seconds},
                                {"seconds_threads_with_fourier", tf.seconds},
                                {"scipy", peer},
                                {"ratio_1_thread_vs_scipy", peer_rate > 0 ? t1.rate() / peer_rate : 0.0},
                                {"scipy_extrapolated_seconds", peer_rate > 0 ? double(n_synthetic) / peer_rate : 0.0}};
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
}
