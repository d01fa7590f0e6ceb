// Accuracy study: does the periodic smoothing spline (FITPACK percur) beat open-interval fits near
// phase 0 and 1 of a folded light curve? Simulated RR Lyrae-like Fourier curves with a known shape,
// 50-260 random phases, Gaia-like errors 0.01-0.05 mag. RMS error against the true curve on
// phase [0, 0.05) u [0.95, 1) ("edges") and on [0, 1) ("all"), for univariate_spline(s = n, open),
// periodic_spline(s = n) and, when present, make_smoothing_spline with GCV (open, natural cubic).
// No peer: this is an accuracy study, not a timing. Last line of stdout: one JSON object.
#include <ferrum/spline/periodic_spline.hpp>
#include <ferrum/spline/univariate_spline.hpp>
#if __has_include(<ferrum/spline/smoothing_spline.hpp>)
#  include <ferrum/spline/smoothing_spline.hpp>
#  define FERRUM_BENCH_HAVE_GCV 1
#else
#  define FERRUM_BENCH_HAVE_GCV 0
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

struct shape {
    const char* name;
    std::array<double, 4> amp, phi;  // cos Fourier series, as make_reference.py's rrl_curve
};
constexpr shape shapes[] = {{"RRab", {0.32, 0.15, 0.10, 0.06}, {0.0, 3.9, 1.9, 6.0}},
                            {"RRc", {0.22, 0.03, 0.015, 0.0}, {0.0, 4.6, 3.2, 0.0}}};

double truth(const shape& sh, double ph) {
    double m = 15.5;
    for (int j = 0; j < 4; ++j) m += sh.amp[j] * std::cos(2.0 * M_PI * (j + 1) * ph + sh.phi[j]);
    return m;
}

struct accumulator {  // pooled squared errors and per-trial RMS (for the median)
    double sse_edge = 0, sse_all = 0;
    long n_edge = 0, n_all = 0;
    std::vector<double> trial_edge, trial_all;
    int failed = 0;  // fits that threw or did not meet s (status not ok)
    void add(const std::vector<double>& grid, const std::vector<double>& err) {
        double e = 0, a = 0;
        long ne = 0;
        for (std::size_t i = 0; i < grid.size(); ++i) {
            const double q = err[i] * err[i];
            a += q;
            if (grid[i] < 0.05 || grid[i] >= 0.95) {
                e += q;
                ++ne;
            }
        }
        sse_edge += e;
        sse_all += a;
        n_edge += ne;
        n_all += static_cast<long>(grid.size());
        trial_edge.push_back(std::sqrt(e / ne));
        trial_all.push_back(std::sqrt(a / grid.size()));
    }
    static double median(std::vector<double> v) {
        if (v.empty()) return NAN;
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    }
};

}  // namespace

int main(int argc, char** argv) {
    setenv("FERRUM_QUIET", "1", 1);  // FITPACK warnings are counted in the table instead
    const int trials = argc > 1 ? std::atoi(argv[1]) : 200;
    const std::vector<int> sizes = {50, 100, 160, 260};
    std::vector<double> grid;
    for (int i = 0; i < 1000; ++i) grid.push_back((i + 0.5) / 1000.0);

    std::vector<std::string> methods = {"open univariate_spline s=n", "periodic_spline s=n"};
    if (FERRUM_BENCH_HAVE_GCV) methods.push_back("open make_smoothing_spline GCV");

    std::printf("RMS error (mmag) vs the true curve; %d light curves per row; edges = phase [0,0.05) u [0.95,1)\n",
                trials);
    std::printf("%-5s %4s  %-32s %11s %11s %11s %11s %7s\n", "type", "n", "method", "edge pooled", "edge median",
                "all pooled", "all median", "failed");
    std::string json = "{\"benchmark\":\"periodic_edges\",\"trials\":" + std::to_string(trials) + ",\"rows\":[";
    bool first_row = true;
    std::mt19937_64 rng(20261122);
    for (const shape& sh : shapes) {
        for (const int n : sizes) {
            std::vector<accumulator> acc(methods.size());
            for (int trial = 0; trial < trials; ++trial) {
                std::uniform_real_distribution<double> uph(0.0, 1.0), usig(0.01, 0.05);
                std::normal_distribution<double> nz(0.0, 1.0);
                std::vector<double> ph(n), mag(n), w(n), w2(n);
                for (int i = 0; i < n; ++i) {
                    ph[i] = uph(rng);
                    const double sig = usig(rng);
                    mag[i] = truth(sh, ph[i]) + sig * nz(rng);
                    w[i] = 1.0 / sig;
                    w2[i] = 1.0 / (sig * sig);
                }
                const auto run = [&](std::size_t mi, auto&& make) {
                    try {
                        auto f = make();
                        std::vector<double> err(grid.size());
                        for (std::size_t i = 0; i < grid.size(); ++i) err[i] = f(grid[i]) - truth(sh, grid[i]);
                        acc[mi].add(grid, err);
                        if constexpr (std::is_same_v<decltype(f), ferrum::fitpack_spline>)
                            if (!f.ok()) ++acc[mi].failed;
                    } catch (const ferrum::error& e) {
                        if (acc[mi].failed++ == 0)
                            std::fprintf(stderr, "%s n=%d: %s: %s\n", sh.name, n, methods[mi].c_str(), e.what());
                    }
                };
                const double s = n;
                run(0, [&] { return ferrum::univariate_spline(ph, mag, w, 3, s); });
                run(1, [&] { return ferrum::periodic_spline(ph, mag, w, s, 1.0); });
#if FERRUM_BENCH_HAVE_GCV
                run(2, [&] { return ferrum::make_smoothing_spline(ph, mag, w2); });
#endif
            }
            for (std::size_t mi = 0; mi < methods.size(); ++mi) {
                const accumulator& a = acc[mi];
                const double ep = 1e3 * std::sqrt(a.sse_edge / a.n_edge), em = 1e3 * accumulator::median(a.trial_edge);
                const double ap = 1e3 * std::sqrt(a.sse_all / a.n_all), am = 1e3 * accumulator::median(a.trial_all);
                std::printf("%-5s %4d  %-32s %11.2f %11.2f %11.2f %11.2f %7d\n", sh.name, n, methods[mi].c_str(), ep,
                            em, ap, am, a.failed);
                char buf[512];
                std::snprintf(buf, sizeof buf,
                              "%s{\"type\":\"%s\",\"n\":%d,\"method\":\"%s\",\"edge_rms_mmag\":%.4g,"
                              "\"edge_median_mmag\":%.4g,\"all_rms_mmag\":%.4g,\"all_median_mmag\":%.4g,\"failed\":%d}",
                              first_row ? "" : ",", sh.name, n, methods[mi].c_str(), ep, em, ap, am, a.failed);
                json += buf;
                first_row = false;
            }
        }
    }
    json += "]}";
    std::printf("%s\n", json.c_str());
    return 0;
}
