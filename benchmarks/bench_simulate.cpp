// Throughput of the Gaia-like RR Lyrae simulator: the whole DR3 RR Lyrae count (271,779 stars) written as
// epoch photometry + vari_rrlyrae + labels CSV, and a single-thread breakdown of where the time goes.
// No peer: nothing in SciPy/scikit-learn does this. Usage: bench_simulate [n_stars] [threads] [out_dir]
#include <ferrum/sim.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace ferrum::sim;

namespace {

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct timing {
    double wall, cpu;
};

template <class F>
timing measure(F&& f) {
    const double w0 = wall_seconds(), c0 = cpu_seconds();
    f();
    return {wall_seconds() - w0, cpu_seconds() - c0};
}

}  // namespace

int main(int argc, char** argv) {
    // DR3: 174,947 RRab, 93,952 RRc and 2,006 RRd; the RRd are simulated as RRc.
    const std::size_t n_total = argc > 1 ? std::stoul(argv[1]) : 271779;
    const unsigned threads = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 0;
    const fs::path dir = argc > 3 ? fs::path(argv[3]) : fs::temp_directory_path() / "ferrum_bench_simulate";
    const std::size_t n_rrab = n_total * 174947 / 271779, n_rrc = n_total - n_rrab;

    simulation_options opt;
    opt.seed = 2025;
    const rrlyrae_simulator sim(opt);

    // single-thread breakdown on a sample
    const std::size_t n_sample = std::min<std::size_t>(20000, n_total);
    double sink = 0;
    std::string text;
    const timing t_truth = measure([&] {
        for (std::size_t i = 0; i < n_sample; ++i) sink += sim.truth(i, i % 3 ? rr_type::rrab : rr_type::rrc).period;
    });
    const timing t_star = measure([&] {
        for (std::size_t i = 0; i < n_sample; ++i) sink += sim.star(i, i % 3 ? rr_type::rrab : rr_type::rrc).feh;
    });
    std::size_t sample_epochs = 0;
    const timing t_format = measure([&] {
        for (std::size_t i = 0; i < n_sample; ++i) {
            const auto s = sim.star(i, i % 3 ? rr_type::rrab : rr_type::rrc);
            text.clear();
            detail::append_epoch_rows(text, s);
            detail::append_vari_row(text, s);
            detail::append_label_row(text, s);
            sample_epochs += s.epochs.size();
        }
    });
    const double us = 1e6 / double(n_sample);

    // the full set, written to disk
    write_options w;
    w.threads = threads;
    gaia_like_set set;
    const timing t_all = measure([&] { set = write_gaia_like_set(dir, n_rrab, n_rrc, opt, w); });
    std::uintmax_t bytes = 0;
    for (const auto& p : {set.epoch_photometry, set.vari_rrlyrae, set.labels}) bytes += fs::file_size(p);
    fs::remove_all(dir);
    const unsigned used_threads = threads ? threads : std::max(1u, std::thread::hardware_concurrency());

    std::printf("Gaia DR3-like RR Lyrae simulation (seed %llu)\n\n", static_cast<unsigned long long>(opt.seed));
    std::printf("single thread, %zu stars (%.1f epochs/star)      CPU us/star\n", n_sample,
                double(sample_epochs) / double(n_sample));
    std::printf("  true parameters only                          %8.1f\n", t_truth.cpu * us);
    std::printf("  + cadence, noise, catalogue fit, labels       %8.1f\n", t_star.cpu * us);
    std::printf("  + CSV text of the three files                 %8.1f\n", t_format.cpu * us);
    std::printf("\nfull set: %zu RRab + %zu RRc, %u threads\n", n_rrab, n_rrc, used_threads);
    std::printf("  epochs written                 %12zu\n", set.epochs);
    std::printf("  bytes written                  %12.3f GB\n", double(bytes) / 1e9);
    std::printf("  wall time                      %12.2f s\n", t_all.wall);
    std::printf("  CPU time (all threads)         %12.2f s\n", t_all.cpu);
    std::printf("  stars/s (wall)                 %12.0f\n", double(n_total) / t_all.wall);
    std::printf("  stars/s per CPU-second         %12.0f\n", double(n_total) / t_all.cpu);
    std::printf("(the machine is shared: wall time includes waiting for the CPU; sink %g)\n", sink);
    std::printf(
        "{\"benchmark\": \"simulate\", \"stars\": %zu, \"rrab\": %zu, \"rrc\": %zu, \"threads\": %u, \"epochs\": %zu, "
        "\"bytes\": %ju, \"wall_s\": %.3f, \"cpu_s\": %.3f, \"stars_per_s\": %.1f, \"stars_per_cpu_s\": %.1f, "
        "\"us_per_star_truth\": %.2f, \"us_per_star_simulate\": %.2f, \"us_per_star_simulate_and_format\": %.2f}\n",
        n_total, n_rrab, n_rrc, used_threads, set.epochs, bytes, t_all.wall, t_all.cpu, double(n_total) / t_all.wall,
        double(n_total) / t_all.cpu, t_truth.cpu * us, t_star.cpu * us, t_format.cpu * us);
    return 0;
}
