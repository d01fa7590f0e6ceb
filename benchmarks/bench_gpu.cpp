// The paper's GRU regressor (GRU 2->20->16->8, dropout 0.2/0.2/0.1, dense 8->1; 264 steps x 2 channels;
// batch 256; 6,000 sequences; Adam; float32) trained and run on the cuDNN + cuBLAS backend, side by side
// with PyTorch on the same GPU (benchmarks/gpu_peer.py). Needs ferrum::cudnn; without it (the default
// benchmark glob links only ferrum::ferrum) it says so and prints a JSON line marked skipped.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#ifdef FERRUM_USE_CUDNN
#  include <cuda_runtime_api.h>

#  include "ferrum/backend/cudnn/kernels.hpp"
#  include "paper_gru.hpp"
#  include "peer.hpp"
#endif

#ifndef FERRUM_BENCH_DIR
#  define FERRUM_BENCH_DIR "benchmarks"
#endif

namespace {

#ifdef FERRUM_USE_CUDNN
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double device_used_mib() {
    std::size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return -1;
    return static_cast<double>(total_b - free_b) / (1024.0 * 1024.0);
}

nlohmann::json run_peer(std::size_t n, std::size_t steps, std::size_t batch, std::size_t infer_batch) {
    // FERRUM_PYTHON: a python with torch (GPU images keep it outside /usr/bin)
    const char* py = std::getenv("FERRUM_PYTHON");
    const std::string cmd = std::string(py && *py ? py : "/usr/bin/python3") + " " + FERRUM_BENCH_DIR +
                            "/gpu_peer.py " + std::to_string(n) + " " + std::to_string(steps) + " " +
                            std::to_string(batch) + " " + std::to_string(infer_batch) + " 2>&1";
    return ferrum_bench::peer_json(cmd, true);  // the peer's own complaints, visible in the log
}
#endif

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 6000, steps = 264, batch = 256, infer_batch = 4096;
    int epochs = 1;
    bool peer = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--n" && i + 1 < argc) n = std::stoul(argv[++i]);
        else if (a == "--epochs" && i + 1 < argc) epochs = std::stoi(argv[++i]);
        else if (a == "--infer-batch" && i + 1 < argc) infer_batch = std::stoul(argv[++i]);
        else if (a == "--no-peer") peer = false;
    }
#ifndef FERRUM_USE_CUDNN
    (void)n, (void)steps, (void)batch, (void)infer_batch, (void)epochs, (void)peer;
    std::printf("bench_gpu: built without ferrum::cudnn (link it, or run tools/gpu-proof.sh on a GPU machine)\n");
    std::printf("%s\n",
                nlohmann::json({{"benchmark", "gpu"}, {"skipped", "built without ferrum::cudnn"}}).dump().c_str());
    return 0;
#else
    const auto gpu = ferrum::backend::probe_cuda_devices();
    if (gpu.status == ferrum::backend::cuda_presence::state::absent) {
        std::printf("bench_gpu: no CUDA device (%s); nothing measured\n", gpu.why.c_str());
        std::printf("%s\n", nlohmann::json({{"benchmark", "gpu"}, {"skipped", "no CUDA device"}}).dump().c_str());
        return 0;
    }
    if (gpu.status == ferrum::backend::cuda_presence::state::broken) {
        std::fprintf(stderr, "bench_gpu: a CUDA driver is installed but cannot be used (%s)\n", gpu.why.c_str());
        return 1;
    }
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    using T = float;
    using B = ferrum::backend::cudnn;
    namespace nn = ferrum::nn;
    const ferrum_bench::gru_data<T> data(n, steps);
    const double mem0 = device_used_mib();

    auto model = ferrum_bench::make_paper_gru<T, B>();
    // one chunk per batch on one thread: each layer is one cuDNN call over the whole batch
    model.set_num_threads(1);
    model.set_chunk_size(std::max(batch, infer_batch));
    auto params = model.parameters();
    nn::adam<T> opt(nn::adam_options{1e-3, 0.9, 0.999, 1e-7});

    auto slice = [&](std::size_t i0, std::size_t i1) { return data.slice(i0, i1); };
    auto train_step = [&](std::size_t i, std::size_t i1) {
        return ferrum_bench::train_step(model, opt, params, data, i, i1);
    };
    train_step(0, std::min(n, batch));  // warm-up: handles, descriptors, device buffers
    double last_loss = 0;
    const auto t0 = clock_type::now();
    for (int e = 0; e < epochs; ++e)
        for (std::size_t i = 0; i < n; i += batch) last_loss = train_step(i, std::min(n, i + batch));
    const double train_s = seconds_since(t0);

    auto infer = [&](std::size_t b) {
        double checksum = 0;
        model.predict(slice(0, std::min(n, b)));  // warm-up at this batch size
        const auto t1 = clock_type::now();
        for (std::size_t i = 0; i < n; i += b)
            checksum += static_cast<double>(model.predict(slice(i, std::min(n, i + b)))(0, 0));
        return std::pair<double, double>{seconds_since(t1), checksum};
    };
    const auto [infer_s, checksum] = infer(batch);
    const auto [infer_big_s, checksum_big] = infer(infer_batch);
    const double mem1 = device_used_mib();

    const double train_rate = static_cast<double>(n) * epochs / train_s;
    const double infer_rate = static_cast<double>(n) / infer_s, infer_big_rate = static_cast<double>(n) / infer_big_s;
    const nlohmann::json pr = peer ? run_peer(n, steps, batch, infer_batch) : nlohmann::json(nullptr);

    std::printf("GRU 2->20->16->8 + dropout 0.2/0.2/0.1 + dense, %zu x %zu steps x 2, batch %zu, float32, %s\n", n,
                steps, batch, prop.name);
    std::printf("%-34s %14s %14s %8s\n", "", "ferrum cudnn", "PyTorch", "ratio");
    auto row = [&](const std::string& what, double ours, const char* key) {
        if (pr.is_object() && pr.contains(key)) {
            const double theirs = pr[key].get<double>();
            std::printf("%-34s %14.1f %14.1f %7.2fx\n", what.c_str(), ours, theirs, ours / theirs);
        } else {
            std::printf("%-34s %14.1f %14s\n", what.c_str(), ours, "n/a");
        }
    };
    row("training sequences/s", train_rate, "train_seq_per_s");
    row("inference sequences/s (batch " + std::to_string(batch) + ")", infer_rate, "infer_seq_per_s");
    row("inference sequences/s (batch " + std::to_string(infer_batch) + ")", infer_big_rate, "infer_big_seq_per_s");
    std::printf("%-34s %14.1f %14.1f\n", "GPU memory used MiB (device-wide)", mem1 - mem0,
                pr.is_object() && pr.contains("gpu_mib") ? pr["gpu_mib"].get<double>() : -1.0);
    std::printf("(final loss %.4f, checksums %.4f %.4f; math: FMA, no TF32)\n", last_loss, checksum, checksum_big);
    nlohmann::json j = {{"benchmark", "gpu"},
                        {"device", prop.name},
                        {"n", n},
                        {"steps", steps},
                        {"batch", batch},
                        {"infer_batch", infer_batch},
                        {"epochs", epochs},
                        {"train_seq_per_s", train_rate},
                        {"infer_seq_per_s", infer_rate},
                        {"infer_big_seq_per_s", infer_big_rate},
                        {"gpu_mib", mem1 - mem0},
                        {"final_loss", last_loss},
                        {"peer", pr}};
    if (pr.is_object() && pr.contains("train_seq_per_s")) {
        j["train_ratio"] = train_rate / pr["train_seq_per_s"].get<double>();
        j["infer_ratio"] = infer_rate / pr["infer_seq_per_s"].get<double>();
    }
    std::printf("%s\n", j.dump().c_str());
    if (peer && !(pr.is_object() && pr.contains("train_seq_per_s"))) {
        std::fprintf(stderr,
                     "bench_gpu: the PyTorch peer gave no result (its output is above): the comparison "
                     "is missing (--no-peer to measure ferrum alone)\n");
        return 1;
    }
    return 0;
#endif
}
