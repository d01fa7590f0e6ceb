// bench_xp_continuous: XP continuous spectra -> sampled spectra (GaiaXPy's `calibrate`, default grid) on
// GaiaXPy's two test sources replicated to --n sources (new source_ids), written once in the archive's CSV
// form. Times parsing, calibrate alone (batches of 512, one GEMM per band and batch) and the whole
// read + calibrate, against benchmarks/xp_continuous_peer.py on the same file: NumPy doing GaiaXPy's sums
// one source at a time (GaiaXPy's way) and batched. Then GaiaXPy's `convert` (pseudo-wavelengths, its default
// 600-point grid, BP and RP apart), without and with the samples' covariance, against the peer's per-source
// loop of GaiaXPy's convert sums. The last stdout line is one JSON object.
// Usage: bench_xp_continuous [--n 5000] [--repeats 3] [--no-peer]
#include <ferrum/spectra/xp_continuous.hpp>
#include <ferrum/spectra/xp_convert.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_read_timing.hpp"
#include "peer.hpp"

using namespace ferrum;
using namespace ferrum::spectra;
namespace fs = std::filesystem;

using ferrum_bench::best_of;

namespace {
// The test file's rows, repeated n times in all, each with its own source_id.
std::string replicate(const std::string& src, std::size_t n, const fs::path& out) {
    std::ifstream in(src);
    std::string header, line;
    std::getline(in, header);
    std::vector<std::string> rows;
    while (std::getline(in, line))
        if (!line.empty()) rows.push_back(line.substr(line.find(',')));  // all but source_id
    std::ofstream o(out);
    o << header << "\n";
    for (std::size_t k = 0; k < n; ++k) o << (1000000000000000000LL + std::int64_t(k)) << rows[k % rows.size()] << "\n";
    return out.string();
}
}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 5000;
    int repeats = 3;
    bool peer = true;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--n") && i + 1 < argc) n = std::size_t(std::atol(argv[++i]));
        else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--no-peer")) peer = false;
    }
    const std::string data = std::string(FERRUM_SHARED_DATA_DIR) + "/gaiaxpy";
    const std::string config = data + "/config", src = data + "/test_files/xp_continuous/XP_CONTINUOUS_RAW.csv";
    if (!fs::exists(src)) {
        std::printf("bench_xp_continuous: %s not found, nothing to measure\n{}\n", src.c_str());
        return 0;
    }
    const fs::path dir = fs::temp_directory_path() / "ferrum_bench_xp_continuous";
    fs::create_directories(dir);
    const std::string file = replicate(src, n, dir / "xp_continuous.csv");
    const double mb = double(fs::file_size(file)) / 1e6;

    const auto calib = load_xp_calibration(config);
    std::vector<xp_continuous_spectrum> sources;
    const double t_parse = best_of(repeats, [&] { sources = read_xp_continuous(file); }).wall;
    std::vector<xp_spectrum> out;
    auto calibrate_in_batches = [&] {
        out.clear();
        for (std::size_t lo = 0; lo < sources.size(); lo += 512) {
            const std::vector<xp_continuous_spectrum> chunk(
                sources.begin() + std::ptrdiff_t(lo),
                sources.begin() + std::ptrdiff_t(std::min(lo + 512, sources.size())));
            for (auto& s : calibrate(calib, chunk)) out.push_back(std::move(s));
        }
    };
    const double t_cal = best_of(repeats, calibrate_in_batches).wall;
    const double t_all = best_of(repeats, [&] { out = calibrate_xp_file(file, calib); }).wall;

    const auto conversion = load_xp_conversion(config);  // numpy.linspace(0, 60, 600)
    std::vector<xp_converted_spectrum> converted;
    auto convert_in_batches = [&](const xp_convert_options& o, std::size_t batch, std::size_t count) {
        converted.clear();
        for (std::size_t lo = 0; lo < count; lo += batch) {
            const std::vector<xp_continuous_spectrum> chunk(
                sources.begin() + std::ptrdiff_t(lo), sources.begin() + std::ptrdiff_t(std::min(lo + batch, count)));
            for (auto& s : convert(conversion, chunk, o)) converted.push_back(std::move(s));
        }
    };
    const double t_conv = best_of(repeats, [&] { convert_in_batches({}, 512, n); }).wall;
    // with_correlation holds two 600 x 600 matrices per source: the first 1,000 sources in batches of 64
    const std::size_t n_corr = std::min<std::size_t>(n, 1000);
    xp_convert_options with;
    with.with_correlation = true;
    const double t_corr = best_of(repeats, [&] { convert_in_batches(with, 64, n_corr); }).wall * double(n) /
                          double(n_corr);
    convert_in_batches({}, 512, 1);

    nlohmann::json p = nlohmann::json::object();
    if (peer)
        p = ferrum_bench::peer_json("/usr/bin/python3 " + std::string(FERRUM_BENCH_DIR) + "/xp_continuous_peer.py '" +
                                    file + "' '" + config + "' " + std::to_string(repeats));
    if (p.is_null()) p = nlohmann::json::object();
    const double p_parse = p.value("parse_seconds", 0.0), p_loop = p.value("calibrate_loop_seconds", 0.0),
                 p_batch = p.value("calibrate_batched_seconds", 0.0), p_conv = p.value("convert_loop_seconds", 0.0),
                 p_corr = p.value("convert_correlation_loop_seconds", 0.0);
    double max_rel = -1;
    if (p.contains("first_flux")) {
        max_rel = 0;
        const auto f = p["first_flux"].get<std::vector<double>>(), e = p["first_flux_error"].get<std::vector<double>>();
        for (std::size_t i = 0; i < f.size() && i < out[0].flux.size(); ++i)
            max_rel = std::max({max_rel, std::abs(out[0].flux[i] - f[i]) / std::abs(f[i]),
                                std::abs(out[0].flux_error[i] - e[i]) / std::abs(e[i])});
    }

    double conv_rel = -1;
    if (p.contains("first_convert_bp_flux")) {
        conv_rel = 0;
        const auto f = p["first_convert_bp_flux"].get<std::vector<double>>(),
                   e = p["first_convert_bp_flux_error"].get<std::vector<double>>();
        const xp_sampled_band& b = converted[0].bp;
        for (std::size_t i = 0; i < f.size() && i < b.flux.size(); ++i)
            conv_rel = std::max({conv_rel, std::abs(b.flux[i] - f[i]) / std::abs(f[i]),
                                 std::abs(b.flux_error[i] - e[i]) / std::abs(e[i])});
    }

    const double dn = double(n);
    std::printf(
        "bench_xp_continuous: %zu sources (GaiaXPy's 2 test sources replicated), %.1f MB of archive CSV, "
        "default grid (343 samples, 55 + 55 bases); best of %d, 1 thread\n",
        n, mb, repeats);
    std::printf("%-46s %14s %14s %8s\n", "task (sources/s)", "ferrum", "NumPy peer", "ratio");
    auto row = [&](const char* name, double a, double b) {
        std::printf("%-46s %14.0f %14.0f %8.1f\n", name, dn / a, b > 0 ? dn / b : 0.0, b > 0 ? b / a : 0.0);
    };
    row("calibrate vs NumPy, GaiaXPy's per-source loop", t_cal, p_loop);
    row("calibrate vs NumPy, batched matmul", t_cal, p_batch);
    row("parse the archive CSV", t_parse, p_parse);
    row("read + calibrate (streamed) vs parse + batched", t_all, p_parse + p_batch);
    row("convert (600 pwl) vs GaiaXPy's per-source loop", t_conv, p_conv);
    row("convert with_correlation vs the same loop", t_corr, p_corr);
    if (max_rel >= 0) std::printf("first source: ferrum vs NumPy max relative difference %.2e\n", max_rel);
    if (conv_rel >= 0)
        std::printf("convert, first source's BP: ferrum vs NumPy max relative difference %.2e\n", conv_rel);
    nlohmann::json j{{"benchmark", "xp_continuous"},
                     {"n", n},
                     {"megabytes", mb},
                     {"parse_seconds", t_parse},
                     {"calibrate_seconds", t_cal},
                     {"read_calibrate_seconds", t_all},
                     {"calibrate_sources_per_second", dn / t_cal},
                     {"peer_parse_seconds", p_parse},
                     {"peer_calibrate_loop_seconds", p_loop},
                     {"peer_calibrate_batched_seconds", p_batch},
                     {"ratio_vs_loop", p_loop > 0 ? p_loop / t_cal : 0.0},
                     {"ratio_vs_batched", p_batch > 0 ? p_batch / t_cal : 0.0},
                     {"max_rel_diff_vs_peer", max_rel},
                     {"convert_seconds", t_conv},
                     {"convert_correlation_seconds", t_corr},
                     {"convert_sources_per_second", dn / t_conv},
                     {"peer_convert_loop_seconds", p_conv},
                     {"peer_convert_correlation_loop_seconds", p_corr},
                     {"convert_ratio_vs_loop", p_conv > 0 ? p_conv / t_conv : 0.0},
                     {"convert_correlation_ratio_vs_loop", p_corr > 0 ? p_corr / t_corr : 0.0},
                     {"convert_max_rel_diff_vs_peer", conv_rel}};
    std::printf("%s\n", j.dump().c_str());
    fs::remove(file);
    return 0;
}
