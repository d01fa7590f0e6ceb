// bench_kde: a 1-D Scott KDE evaluated at its own samples (what density weights need), ferrum's exact sum
// and fast Gauss transform against scipy.stats.gaussian_kde (kde_peer.py, run here side by side).
// Data: the real LMC [Fe/H] of Muraveva et al. (2025) when ../shared/data is present, and synthetic
// [Fe/H]-like mixtures of 10^4, 10^5 and 10^6 samples. SciPy and the exact sum at 10^6 are extrapolated
// from 10^5 as n^2 (stated in the table).
#include <ferrum/core/atomic_file.hpp>
#include <ferrum/stats/gaussian_kde.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "peer.hpp"

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<double> lmc_feh() {
    const fs::path path = fs::path(FERRUM_SHARED_DATA_DIR) / "muraveva2025_lmc_gaiadr3" / "rrl_params.csv";
    std::ifstream in(path);
    std::vector<double> out;
    if (!in) return out;
    std::string line, cell;
    std::getline(in, line);
    std::stringstream header(line);
    int column = -1;
    for (int k = 0; std::getline(header, cell, ','); ++k)
        if (cell == "[Fe/H]") column = k;
    if (column < 0) return out;
    while (std::getline(in, line)) {
        std::stringstream row(line);
        for (int k = 0; std::getline(row, cell, ','); ++k)
            if (k == column) out.push_back(std::stod(cell));
    }
    return out;
}

std::vector<double> synthetic_feh(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    std::uniform_real_distribution<double> u;
    std::vector<double> y(n);
    for (auto& v : y) {
        const double c = u(rng);
        v = c < 0.79 ? -1.5 + 0.35 * g(rng) : c < 0.96 ? -0.6 + 0.3 * g(rng) : -2.4 + 0.2 * g(rng);
    }
    return y;
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size() || a.empty()) return NAN;
    double w = 0;
    for (std::size_t i = 0; i < a.size(); ++i) w = std::max(w, std::abs(a[i] - b[i]) / std::abs(b[i]));
    return w;
}

struct row {
    std::string name;
    std::size_t n;
    double scipy_s = NAN, scipy_cpu_s = NAN, exact_s = NAN, exact_cpu_s = NAN, fast_s = NAN, fast_cpu_s = NAN;
    bool extrapolated = false;
    double err_exact = NAN, err_fast = NAN;
};

}  // namespace

int main() {
    const double tol = 1e-12;
    const fs::path tmp = fs::temp_directory_path() / ("ferrum_bench_kde_" + std::to_string(std::random_device{}()));
    fs::create_directories(tmp);

    std::vector<std::pair<std::string, std::vector<double>>> cases;
    if (auto real = lmc_feh(); !real.empty()) cases.emplace_back("LMC [Fe/H] (real)", std::move(real));
    for (std::size_t n : {10000u, 100000u, 1000000u}) cases.emplace_back("synthetic", synthetic_feh(n, n));

    // Write the samples up to 10^5 for the peer and run it once for all of them.
    std::map<std::string, std::size_t> file_case;
    std::string args;
    for (std::size_t c = 0; c < cases.size(); ++c) {
        if (cases[c].second.size() > 100000) continue;
        const fs::path f = tmp / ("case" + std::to_string(c) + ".f64");
        const auto& v = cases[c].second;
        ferrum::write_file_atomically(f, [&](std::ostream& out) {
            out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(double)));
        });
        file_case[f.string()] = c;
        args += " '" + f.string() + "'";
    }
    std::vector<row> rows(cases.size());
    std::fprintf(stderr, "running SciPy peer (about 2 minutes for 10^5 samples)...\n");
    const std::string cmd = "/usr/bin/python3 '" + std::string(FERRUM_BENCH_DIR) + "/kde_peer.py'" + args;
    std::string scipy_version = "?";
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        while (std::fgets(buf, sizeof buf, p)) {
            const auto j = nlohmann::json::parse(buf, nullptr, false);
            if (j.is_discarded() || !j.contains("file")) continue;
            const std::size_t c = file_case.at(j["file"].get<std::string>());
            rows[c].scipy_s = j["seconds"].get<double>();
            rows[c].scipy_cpu_s = j["cpu_seconds"].get<double>();
            scipy_version = j["scipy"].get<std::string>();
        }
        if (pclose(p) != 0) std::fprintf(stderr, "warning: the SciPy peer failed; its columns are empty\n");
    }

    double exact_1e5 = NAN, scipy_1e5 = NAN, exact_cpu_1e5 = NAN, scipy_cpu_1e5 = NAN;
    for (std::size_t c = 0; c < cases.size(); ++c) {
        const auto& y = cases[c].second;
        row& r = rows[c];
        r.name = cases[c].first;
        r.n = y.size();
        const ferrum::gaussian_kde kde(y);
        std::vector<double> exact;
        if (y.size() <= 100000) {
            const std::clock_t c0 = std::clock();
            auto t0 = std::chrono::steady_clock::now();
            exact = kde(y);
            r.exact_s = seconds_since(t0);
            r.exact_cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;
        }
        const std::clock_t c0 = std::clock();
        auto t0 = std::chrono::steady_clock::now();
        const auto fast = ferrum::gaussian_kde(y).evaluate_fast(y, tol);  // includes building the estimate
        r.fast_s = seconds_since(t0);
        r.fast_cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;  // all threads: the work without contention
        const auto ref = ferrum_bench::read_doubles(tmp / ("case" + std::to_string(c) + ".f64.scipy"));
        if (!ref.empty()) {
            r.err_exact = max_rel(exact, ref);
            r.err_fast = max_rel(fast, ref);
        }
        if (r.name == "synthetic" && r.n == 100000) {
            exact_1e5 = r.exact_s, scipy_1e5 = r.scipy_s;
            exact_cpu_1e5 = r.exact_cpu_s, scipy_cpu_1e5 = r.scipy_cpu_s;
        }
        if (r.n > 100000) {
            const double s = std::pow(double(r.n) / 1e5, 2);
            r.exact_s = exact_1e5 * s;
            r.scipy_s = scipy_1e5 * s;
            r.exact_cpu_s = exact_cpu_1e5 * s;
            r.scipy_cpu_s = scipy_cpu_1e5 * s;
            r.extrapolated = true;
        }
    }
    fs::remove_all(tmp);

    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::printf("Scott KDE at its own samples, 1-D; %u threads; SciPy %s; fast tolerance %.0e x kernel peak\n", threads,
                scipy_version.c_str(), tol);
    std::printf("%-18s %8s %11s %11s %11s %11s %8s %9s %9s %9s %11s %11s\n", "case", "n", "scipy_s", "scipy_cpu",
                "exact_s", "exact_cpu", "x_cpu", "fast_s", "fast_cpu", "x_cpu", "exact_vs_sp", "fast_vs_sp");
    nlohmann::json out = {{"benchmark", "kde"},
                          {"threads", threads},
                          {"scipy", scipy_version},
                          {"fast_tolerance", tol},
                          {"rows", nlohmann::json::array()}};
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    for (const auto& r : rows) {
        const char* x = r.extrapolated ? "*" : " ";
        std::printf("%-18s %8zu %10.3f%s %10.3f%s %10.3f%s %10.3f%s %8.2f %9.4f %9.4f %9.0f %11.2e %11.2e\n",
                    r.name.c_str(), r.n, r.scipy_s, x, r.scipy_cpu_s, x, r.exact_s, x, r.exact_cpu_s, x,
                    r.scipy_cpu_s / r.exact_cpu_s, r.fast_s, r.fast_cpu_s, r.scipy_cpu_s / r.fast_cpu_s, r.err_exact,
                    r.err_fast);
        out["rows"].push_back({{"case", r.name},
                               {"n", r.n},
                               {"scipy_s", num(r.scipy_s)},
                               {"scipy_cpu_s", num(r.scipy_cpu_s)},
                               {"exact_s", num(r.exact_s)},
                               {"exact_cpu_s", num(r.exact_cpu_s)},
                               {"fast_s", num(r.fast_s)},
                               {"fast_cpu_s", num(r.fast_cpu_s)},
                               {"extrapolated_n2", r.extrapolated},
                               {"max_rel_exact_vs_scipy", num(r.err_exact)},
                               {"max_rel_fast_vs_scipy", num(r.err_fast)}});
    }
    std::printf(
        "* extrapolated from the synthetic 10^5 row as n^2 (both are O(n^2) direct sums)\n"
        "_s: wall seconds; _cpu: CPU seconds over all threads (SciPy uses one); x_cpu: SciPy CPU / ferrum CPU\n"
        "fast includes building the estimate\n"
        "exact_vs_sp, fast_vs_sp: max relative difference from SciPy's densities at every sample\n");
    std::cout << out.dump() << std::endl;
    return 0;
}
