// Peak memory of one library predict() call against the number of sequences: an averaging ensemble of
// --members copies of the paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1, dense 8->1; the
// members' outputs averaged by a fixed dense 1/M layer) in double, on --n ragged sequences of --steps x 2.
// The input is read in place through a row selection over a pool of 1,024 distinct sequences (an
// nn::input_view with `rows`), so it costs 8 bytes per sequence, as the output does: whatever else the
// call holds is the engine's. The comparison is the same program built against an earlier engine (see
// docs/benchmarks.md, "predict memory"); no peer library is involved.
//   bench_nn_memory [--n 4447] [--members 10] [--steps 264] [--threads 2] [--float]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/sequential.hpp"

namespace {

double peak_rss_mib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

template <class T>
nlohmann::json run(std::size_t n, std::size_t members, std::size_t steps, std::size_t threads) {
    namespace nn = ferrum::nn;
    using B = ferrum::backend::cpu;
    nn::functional<T, B> g;
    const auto in = g.input("x", 2, true);
    std::vector<std::size_t> outs;
    for (std::size_t m = 0; m < members; ++m) {
        const std::string p = "m" + std::to_string(m) + "_";
        auto h = g.add(p + "gru0", nn::gru<T, B>(2, 20, true, 10 * m + 1), in);
        h = g.add(p + "drop0", nn::dropout<T, B>(0.2, m), h);
        h = g.add(p + "gru1", nn::gru<T, B>(20, 16, true, 10 * m + 2), h);
        h = g.add(p + "drop1", nn::dropout<T, B>(0.2, m), h);
        h = g.add(p + "gru2", nn::gru<T, B>(16, 8, false, 10 * m + 3), h);
        h = g.add(p + "drop2", nn::dropout<T, B>(0.1, m), h);
        outs.push_back(g.add(p + "out", nn::dense<T, B>(8, 1, nn::activation::linear, 10 * m + 4), h));
    }
    if (members > 1) {
        g.add("mean", nn::dense<T, B>(members, 1), g.concat("members", outs));
        for (auto& p : g.parameters())
            if (p.name == "mean.weight") std::fill(p.value, p.value + p.size(), T(1) / static_cast<T>(members));
            else if (p.name == "mean.bias") p.value[0] = T(0);
    }
    g.set_num_threads(threads);

    const std::size_t pool = 1024;
    std::mt19937_64 gen(7);
    std::normal_distribution<double> n01(0.0, 1.0);
    std::uniform_int_distribution<std::size_t> len(steps / 2, steps);
    xt::xtensor<T, 3> x = xt::xtensor<T, 3>::from_shape({pool, steps, 2});
    for (auto& v : x) v = static_cast<T>(n01(gen));
    std::vector<std::size_t> rows(n), lengths(n);
    for (std::size_t i = 0; i < n; ++i) {
        rows[i] = i % pool;
        lengths[i] = len(gen);
    }
    const nn::input_view<T> all(x);
    const double before = peak_rss_mib();
    const auto t0 = std::chrono::steady_clock::now();
    const auto y = g.predict({all.select(rows.data(), n)}, lengths);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double peak = peak_rss_mib();
    double sum = 0;
    for (auto v : y) sum += static_cast<double>(v);
    return {{"n", n},
            {"members", members},
            {"steps", steps},
            {"threads", threads},
            {"scalar", sizeof(T) == 8 ? "double" : "float"},
            {"wall_s", wall},
            {"sequences_per_s", static_cast<double>(n) / wall},
            {"rss_before_predict_mib", before},
            {"peak_rss_mib", peak},
            {"output_mib", static_cast<double>(y.size() * sizeof(T)) / 1048576.0},
            {"checksum", sum}};
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 4447, members = 10, steps = 264, threads = 2;
    bool single = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--n" && i + 1 < argc) n = std::stoul(argv[++i]);
        else if (a == "--members" && i + 1 < argc) members = std::stoul(argv[++i]);
        else if (a == "--steps" && i + 1 < argc) steps = std::stoul(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::stoul(argv[++i]);
        else if (a == "--float") single = true;
        else {
            std::fprintf(stderr, "usage: bench_nn_memory [--n N] [--members M] [--steps S] [--threads T] [--float]\n");
            return 2;
        }
    }
    if (n == 0 || members == 0 || steps < 2) {
        std::fprintf(stderr, "bench_nn_memory: --n and --members must be positive, --steps at least 2\n");
        return 2;
    }
    const nlohmann::json r = single ? run<float>(n, members, steps, threads) : run<double>(n, members, steps, threads);
    std::printf("%-10s %-8s %-6s %-7s %10s %14s %14s %12s\n", "sequences", "members", "steps", "scalar", "wall s",
                "RSS before MiB", "peak RSS MiB", "output MiB");
    std::printf("%-10zu %-8zu %-6zu %-7s %10.2f %14.1f %14.1f %12.3f\n", n, members, steps,
                r["scalar"].get<std::string>().c_str(), r["wall_s"].get<double>(),
                r["rss_before_predict_mib"].get<double>(), r["peak_rss_mib"].get<double>(),
                r["output_mib"].get<double>());
    std::printf("%s\n", r.dump().c_str());
    return 0;
}
