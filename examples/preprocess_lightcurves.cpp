// Quick start: Gaia RR Lyrae epoch photometry -> folded, GCV-smoothed, resampled and standardised sequences
// (the input of the Monti et al. 2025 GRU) plus Fourier parameters. With no arguments it simulates a small
// Gaia DR3-like set, writes it as archive CSV files, reads them back and processes them; with
// --epoch-photometry and --catalogue it runs on your own Gaia files.
//
//   preprocess_lightcurves [--epoch-photometry EPOCH.csv --catalogue VARI_RRLYRAE.csv]
//                          [--out SEQ.csv|SEQ.npy] [--stars N] [--n-phases N] [--threads T] [--quiet]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xnpy.hpp>

#include "ferrum/lightcurve.hpp"
#include "ferrum/sim/rrlyrae.hpp"

namespace fs = std::filesystem;

namespace {

struct arguments {
    std::string epoch_photometry, catalogue, out;
    std::size_t stars = 120;
    std::size_t n_phases = 0;  // 0: the paper's 264 (RRab) / 265 (RRc, RRd)
    unsigned threads = 0;
    bool quiet = false;
};

void usage(std::FILE* to) {
    std::fprintf(to,
                 "usage: preprocess_lightcurves [--epoch-photometry EPOCH.csv --catalogue VARI_RRLYRAE.csv]\n"
                 "                              [--out SEQ.csv|SEQ.npy] [--stars N] [--n-phases N]\n"
                 "                              [--threads T] [--quiet]\n"
                 "Without files: simulates --stars (default 120) Gaia DR3-like RR Lyrae and processes them.\n");
}

std::optional<arguments> parse(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw ferrum::value_error(k + " needs a value");
            return argv[++i];
        };
        auto count = [&](const std::string& v) {
            std::size_t pos = 0;
            const long long n = std::stoll(v, &pos);
            if (pos != v.size() || n < 0)
                throw ferrum::value_error(k + " needs a non-negative integer, got '" + v + "'");
            return static_cast<std::size_t>(n);
        };
        if (k == "--epoch-photometry") a.epoch_photometry = value();
        else if (k == "--catalogue") a.catalogue = value();
        else if (k == "--out") a.out = value();
        else if (k == "--stars") a.stars = count(value());
        else if (k == "--n-phases") a.n_phases = count(value());
        else if (k == "--threads") a.threads = static_cast<unsigned>(count(value()));
        else if (k == "--quiet") a.quiet = true;
        else if (k == "-h" || k == "--help") return std::nullopt;
        else throw ferrum::value_error("unknown argument '" + k + "'");
    }
    if (a.epoch_photometry.empty() != a.catalogue.empty())
        throw ferrum::value_error("--epoch-photometry and --catalogue go together");
    return a;
}

double median(std::vector<double> v) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Angular distance on the circle, for phases in [0, 2 pi).
double circular_distance(double a, double b) {
    const double d = ferrum::wrap_two_pi(a - b);
    return std::min(d, ferrum::two_pi - d);
}

// One pulsation type's curves, folded with its period and epoch of maximum, and what is known about them.
struct group {
    std::vector<ferrum::light_curve> curves;
    std::vector<double> periods, epochs, reference_phi31;  // reference: truth (simulation) or catalogue
    std::vector<ferrum::preprocess_result> results;
    double seconds = 0.0;
};

}  // namespace

int main(int argc, char** argv) try {
    const auto parsed = parse(argc, argv);
    if (!parsed) {
        usage(stdout);
        return 0;
    }
    const arguments args = *parsed;
    const bool simulate = args.epoch_photometry.empty();

    // 1. The input files: yours, or a simulated Gaia DR3-like set written in the archive's layout (in a
    //    temporary directory, removed however the program ends).
    std::string ep_path = args.epoch_photometry, cat_path = args.catalogue;
    struct temporary_directory {
        fs::path path;
        ~temporary_directory() {
            std::error_code ignored;
            if (!path.empty()) fs::remove_all(path, ignored);
        }
    } scratch;
    fs::path& tmp = scratch.path;
    ferrum::sim::simulation_options sim_opt;
    sim_opt.seed = 2026;
    const std::size_t n_rrab = args.stars * 2 / 3, n_rrc = args.stars - n_rrab;
    if (simulate) {
        tmp = fs::temp_directory_path() / ("ferrum-quickstart-" + std::to_string(std::random_device{}()));
        ferrum::sim::write_options w;
        w.threads = args.threads;
        w.progress = !args.quiet && ferrum::progress_enabled_by_default();
        const auto set = ferrum::sim::write_gaia_like_set(tmp, n_rrab, n_rrc, sim_opt, w);
        ep_path = set.epoch_photometry.string();
        cat_path = set.vari_rrlyrae.string();
        std::printf("simulated %zu RRab + %zu RRc Gaia DR3-like stars (%zu G epochs) in %s\n", n_rrab, n_rrc,
                    set.epochs, tmp.string().c_str());
    }

    // 2. Read them back with the archive readers.
    ferrum::gaia_read_options ro;
    ro.show_progress = !args.quiet;
    const auto photometry = ferrum::read_gaia_epoch_photometry(ep_path, ro);
    const auto catalogue = ferrum::read_rrlyrae_catalogue(cat_path);
    std::printf("read %zu light curves from %s and %zu stars from %s\n", photometry.curves.size(), ep_path.c_str(),
                catalogue.size(), cat_path.c_str());

    // 3. Period (pf for RRab, p1_o for RRc/RRd) and epoch of maximum from the catalogue; group by type,
    //    since the paper resamples RRab on 264 phases and RRc on 265.
    const ferrum::sim::rrlyrae_simulator sim(sim_opt);
    std::map<ferrum::rr_type, group> groups;
    std::map<std::string, std::size_t> not_folded;
    for (const auto& lc : photometry.curves) {
        const ferrum::rrlyrae_star* star = catalogue.find(lc.source_id);
        if (!star) {
            ++not_folded["not in the catalogue"];
            continue;
        }
        const auto f = star->folding();
        if (!f) {
            ++not_folded[star->folding_problem()];
            continue;
        }
        if (!star->epoch_g) {
            ++not_folded["epoch_g is missing"];
            continue;
        }
        group& g = groups[f->type];
        g.curves.push_back(lc);
        g.periods.push_back(f->period);
        g.epochs.push_back(*star->epoch_g);
        double ref = std::nan("");
        if (simulate) {
            const auto index = static_cast<std::uint64_t>(lc.source_id - sim_opt.first_source_id);
            const auto type = f->type == ferrum::rr_type::rrab ? ferrum::sim::rr_type::rrab : ferrum::sim::rr_type::rrc;
            ref = sim.truth(index, type).phi(3);
        } else if (star->phi31_g) {
            ref = *star->phi31_g;
        }
        g.reference_phi31.push_back(ref);
    }

    // 4. Fold, spline, resample, standardise and fit the Fourier series, in parallel.
    for (auto& [type, g] : groups) {
        ferrum::preprocess_options opt;
        opt.n_phases = args.n_phases
                           ? args.n_phases
                           : (type == ferrum::rr_type::rrab ? ferrum::paper_phases_rrab : ferrum::paper_phases_rrc);
        ferrum::batch_options b;
        b.threads = args.threads;
        b.show_progress = !args.quiet && ferrum::progress_enabled_by_default();
        b.label = std::string("preprocess ") + ferrum::to_string(type);
        const auto t0 = std::chrono::steady_clock::now();
        g.results = ferrum::preprocess_curves(g.curves, g.periods, g.epochs, opt, b);
        g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    // 5. Summary per type (medians over the curves; |dphi31| is the circular distance to the reference).
    const char* ref_name = simulate ? "true" : "catalogue";
    std::printf("\n%-5s %7s %5s %7s %8s %11s %12s %12s %14s %9s\n", "type", "curves", "ok", "phases", "epochs",
                "phi31 ours", "sigma(phi31)", (std::string("phi31 ") + ref_name).c_str(), "|dphi31|", "us/curve");
    for (const auto& [type, g] : groups) {
        std::vector<double> epochs, ours, sigma, ref, diff;
        std::size_t ok = 0, phases = 0;
        for (std::size_t i = 0; i < g.results.size(); ++i) {
            const auto& r = g.results[i];
            if (!r.ok()) continue;
            ++ok;
            phases = r.curve.mag.size();
            epochs.push_back(double(r.curve.features.n_epochs));
            const double p31 = r.curve.features.fourier->phi31().value;
            ours.push_back(p31);
            sigma.push_back(r.curve.features.fourier->phi31().sigma);
            if (std::isfinite(g.reference_phi31[i])) {
                ref.push_back(g.reference_phi31[i]);
                diff.push_back(circular_distance(p31, g.reference_phi31[i]));
            }
        }
        std::printf("%-5s %7zu %5zu %7zu %8.0f %11.3f %12.3f %12.3f %14.3f %9.0f\n", ferrum::to_string(type),
                    g.results.size(), ok, phases, median(epochs), median(ours), median(sigma), median(ref),
                    median(diff), 1e6 * g.seconds / double(std::max<std::size_t>(g.results.size(), 1)));
        for (const auto& r : g.results)
            if (!r.ok()) {
                std::printf("      first failure: %s\n", r.error.c_str());
                break;
            }
    }
    for (const auto& [why, n] : not_folded) std::printf("not folded: %zu curves: %s\n", n, why.c_str());

    // 6. The sequences, atomically: long CSV (any mix of lengths) or a (curves, phases, 2) .npy tensor of
    //    channels (phase x period, standardised mag) with a .ids.csv naming its rows.
    if (!args.out.empty()) {
        const fs::path out = args.out;
        std::vector<const ferrum::preprocessed_curve*> ok;
        std::vector<ferrum::rr_type> types;
        for (const auto& [type, g] : groups)
            for (const auto& r : g.results)
                if (r.ok()) {
                    ok.push_back(&r.curve);
                    types.push_back(type);
                }
        if (out.extension() == ".npy") {
            std::vector<ferrum::preprocessed_curve> curves;
            for (const auto* c : ok) curves.push_back(*c);
            for (const auto& c : curves)
                if (c.mag.size() != curves.front().mag.size())
                    throw ferrum::value_error(
                        "RRab and RRc curves have different numbers of phases (264, 265); "
                        "pass --n-phases N to write one .npy tensor, or write .csv");
            ferrum::write_file_atomically(out, xt::dump_npy(ferrum::batch_tensor(curves)));
            std::ostringstream ids;
            ids << "row,source_id,type,period,mean_mag,std_mag,peak_to_peak,n_epochs,phi31,phi31_error\n";
            ids.precision(10);
            for (std::size_t i = 0; i < curves.size(); ++i) {
                const auto& c = curves[i];
                const auto p31 = c.features.fourier->phi31();
                ids << i << ',' << c.source_id << ',' << ferrum::to_string(types[i]) << ',' << c.period << ','
                    << c.features.mean << ',' << c.features.std << ',' << c.features.peak_to_peak << ','
                    << c.features.n_epochs << ',' << p31.value << ',' << p31.sigma << '\n';
            }
            fs::path ids_path = out;
            ids_path.replace_extension(".ids.csv");
            ferrum::write_file_atomically(ids_path, ids.str());
            std::printf("wrote %s (%zu x %zu x 2) and %s\n", out.string().c_str(), curves.size(),
                        curves.empty() ? std::size_t(0) : curves.front().mag.size(), ids_path.string().c_str());
        } else {
            ferrum::write_file_atomically(out, [&](std::ostream& os) {
                os << "source_id,type,index,phase,time,mag_standardised\n";
                os.precision(12);
                for (std::size_t i = 0; i < ok.size(); ++i) {
                    const auto& c = *ok[i];
                    const auto grid = ferrum::uniform_phase_grid(c.mag.size());
                    for (std::size_t j = 0; j < c.mag.size(); ++j)
                        os << c.source_id << ',' << ferrum::to_string(types[i]) << ',' << j << ',' << grid[j] << ','
                           << c.time[j] << ',' << c.mag[j] << '\n';
                }
            });
            std::printf("wrote %s (%zu curves)\n", out.string().c_str(), ok.size());
        }
    }
    return 0;
} catch (const ferrum::error& e) {
    std::fprintf(stderr, "preprocess_lightcurves: %s\n", e.what());
    usage(stderr);
    return 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "preprocess_lightcurves: %s\n", e.what());
    return 1;
}
