// Throughput of the RR Lyrae prediction path (what `ferrum-rrl predict` runs): read the archive-format epoch
// photometry and vari_rrlyrae CSVs, fold, GCV smoothing spline, resample 264/265 phases, Fourier features,
// the paper's GRU 20-16-8 (Monti et al. 2025), on simulated DR3-like stars; beside SciPy + PyTorch doing
// the same on a sample (rrl_predict_peer.py), extrapolated per CPU second.
//   bench_rrl_predict [--stars N] [--peer-sample K] [--threads T] [--dir DIR] [--mc-samples M]
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/lightcurve/rrlyrae_catalogue.hpp>
#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

#include "peer.hpp"

namespace {

struct clocks {
    std::chrono::steady_clock::time_point w = std::chrono::steady_clock::now();
    std::clock_t c = std::clock();
    double wall() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - w).count(); }
    double cpu() const { return double(std::clock() - c) / CLOCKS_PER_SEC; }
};

nlohmann::json run_peer(const std::string& ep, const std::string& vari, std::size_t sample) {
    const std::string cmd = "/usr/bin/python3 '" + std::string(FERRUM_BENCH_DIR) + "/rrl_predict_peer.py' '" + ep +
                            "' '" + vari + "' " + std::to_string(sample) + " 2>/dev/null";
    return ferrum_bench::peer_json(cmd);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace ferrum;
    using namespace ferrum::models;
    std::size_t n = 271779, peer_sample = 1000, mc = 0;
    unsigned threads = 2;
    std::string dir = (std::filesystem::temp_directory_path() / "ferrum_bench_rrl_predict").string();
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--stars") n = std::stoul(argv[i + 1]);
        else if (k == "--peer-sample") peer_sample = std::stoul(argv[i + 1]);
        else if (k == "--threads") threads = unsigned(std::stoul(argv[i + 1]));
        else if (k == "--dir") dir = argv[i + 1];
        else if (k == "--mc-samples") mc = std::stoul(argv[i + 1]);
    }

    // the data: DR3-like mix of types (simulator default fraction), written once and reused
    sim::simulation_options so;
    so.seed = 271779;
    const std::size_t n_rrab = std::size_t(double(n) * so.rrab_fraction + 0.5), n_rrc = n - n_rrab;
    const std::string ep = dir + "/epoch_photometry.csv", vari = dir + "/vari_rrlyrae.csv";
    double t_sim = 0;
    if (!std::filesystem::exists(dir + "/stars_" + std::to_string(n))) {
        clocks c;
        sim::write_options wo;
        wo.threads = threads;
        sim::write_gaia_like_set(dir, n_rrab, n_rrc, so, wo);
        write_file_atomically(dir + "/stars_" + std::to_string(n), "");
        t_sim = c.wall();
    }

    // a paper-architecture model per type (weights from a short fit on a few stars: throughput only)
    std::vector<rrlyrae_model> models;
    {
        const sim::rrlyrae_simulator s(so);
        std::vector<light_curve> lc;
        std::vector<rrl_ephemeris> eph;
        std::vector<double> y;
        for (std::size_t i = 0; i < 200; ++i) {
            const auto st = s.star(i, i < 100 ? rr_type::rrab : rr_type::rrc);
            lc.push_back(st.light_curve());
            eph.push_back({st.type, st.catalogue.period, st.catalogue.epoch_g, 0.0, {}});
            y.push_back(st.feh);
        }
        const auto in = prepare_rrlyrae_inputs(lc, eph, {}, threads, false);
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            rrl_model_options mo = rrl_paper_model_options();  // the paper's GRU, as the peer runs it
            mo.types = {t};
            std::vector<std::size_t> idx;
            for (std::size_t i = 0; i < in.size(); ++i)
                if (in[i].ok() && in[i].type == t) idx.push_back(i);
            rrl_training_options to;
            to.max_epochs = 1;
            to.progress = false;
            rrlyrae_model m(mo, 1);
            m.fit(in, y, idx, to);
            models.push_back(std::move(m));
        }
    }

    clocks all;
    clocks c1;
    gaia_read_options go;
    go.show_progress = false;
    const auto cat = read_rrlyrae_catalogue(vari);
    const auto curves = read_gaia_epoch_photometry(ep, go);
    const double r_wall = c1.wall(), r_cpu = c1.cpu();
    clocks c2;
    const auto stars = prepare_rrlyrae_inputs(curves.curves, rrlyrae_ephemerides(curves.curves, cat), {}, threads,
                                              false);
    const double p_wall = c2.wall(), p_cpu = c2.cpu();
    clocks c3;
    const auto pred = predict_rrlyrae(models, stars, mc, 1, threads);
    const double g_wall = c3.wall(), g_cpu = c3.cpu();
    const double total_wall = all.wall(), total_cpu = all.cpu();
    std::size_t ok = 0;
    for (const auto& p : pred) ok += p.ok();

    std::fprintf(stderr, "SciPy + PyTorch peer on %zu stars...\n", peer_sample);
    const auto peer = run_peer(ep, vari, peer_sample);

    std::printf(
        "ferrum-rrl predict path, %zu simulated DR3-like stars (%zu RRab, %zu RRc), %u threads, MC samples %zu\n",
        curves.curves.size(), n_rrab, n_rrc, threads, mc);
    if (t_sim > 0) std::printf("(simulating and writing the set took %.1f s wall)\n", t_sim);
    std::printf("%-34s %10s %10s\n", "stage", "wall s", "CPU s");
    std::printf("%-34s %10.1f %10.1f\n", "read epoch CSV + vari_rrlyrae", r_wall, r_cpu);
    std::printf("%-34s %10.1f %10.1f\n", "fold, GCV spline, resample, Fourier", p_wall, p_cpu);
    std::printf("%-34s %10.1f %10.1f\n", "GRU 20-16-8 forward", g_wall, g_cpu);
    std::printf("%-34s %10.1f %10.1f   (%zu predicted, %zu flagged)\n", "total", total_wall, total_cpu, ok,
                pred.size() - ok);
    const double rate = double(curves.curves.size()) / total_cpu;
    std::printf("ferrum: %.0f stars per CPU second\n", rate);
    double ratio = 0;
    if (!peer.is_null() && peer["stars_per_cpu_s"].is_number()) {
        const double pr = peer["stars_per_cpu_s"].get<double>();
        ratio = rate / pr;
        std::printf(
            "SciPy + PyTorch (sample of %d): %.0f stars per CPU second -> %.0f CPU s extrapolated for %zu stars; ferrum %.1fx\n",
            peer["stars"].get<int>(), pr, double(curves.curves.size()) / pr, curves.curves.size(), ratio);
        std::printf("  peer CPU s: read %.1f (scans the whole file), preprocess %.1f, GRU %.2f\n",
                    peer["cpu_s_read"].get<double>(), peer["cpu_s_preprocess"].get<double>(),
                    peer["cpu_s_gru"].get<double>());
    } else {
        std::printf("SciPy + PyTorch peer unavailable\n");
    }
    nlohmann::json j{{"benchmark", "rrl_predict"},
                     {"stars", curves.curves.size()},
                     {"predicted", ok},
                     {"threads", threads},
                     {"mc_samples", mc},
                     {"wall_s", {{"read", r_wall}, {"preprocess", p_wall}, {"gru", g_wall}, {"total", total_wall}}},
                     {"cpu_s", {{"read", r_cpu}, {"preprocess", p_cpu}, {"gru", g_cpu}, {"total", total_cpu}}},
                     {"stars_per_cpu_s", rate},
                     {"peer", peer},
                     {"ratio_per_cpu_s_vs_peer", ratio}};
    std::printf("%s\n", j.dump().c_str());
}
