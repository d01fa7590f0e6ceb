// Throughput of the paper's GRU regressor (Monti et al. 2025: GRU 20 -> 16 -> 8 with dropout 0.2, 0.2, 0.1
// and a dense head; 264 steps x 2 channels; batch 256; Adam; float32) against PyTorch on the same
// machine and thread count: training and inference sequences per second, GFLOP/s and peak RSS.
// Then the same trunk (20 -> 16 -> 8, the same dropout and head) with LSTM, bidirectional GRU and
// bidirectional LSTM layers (concat), each against its PyTorch twin (nn_peer.py MODEL), on --extra-n sequences.
// usage: bench_nn [--n 6000] [--epochs 1] [--threads 2] [--chunk 64] [--peer-n 1024] [--no-peer]
//                 [--extra-n 1024] [--models lstm,bigru,bilstm,fcn]
//                 [--attention-n 1024] [--no-attention]
// The attention rows (attention_rows below) train and run two more models on --attention-n sequences of the
// same data: a Transformer encoder block (dense 2->32, sinusoidal positions, one post-norm encoder block with
// d_model 32, 4 heads, feed-forward 64, dropout 0.1, additive attention pooling, dense 32->1) and attention
// pooling alone (dense 2->32 tanh, additive attention pooling, dense 32->1), with nn_peer.py's same models.
// The peer runs on --peer-n sequences (rates are per sequence) twice: with the same thread count, as asked,
// and with one thread, whose per-CPU-second rate stays meaningful when other jobs load the machine
// (PyTorch's OpenMP threads collapse under contention; CPU time is reported for both sides).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ferrum/nn/activation_layer.hpp"
#include "ferrum/nn/attention_pooling.hpp"
#include "ferrum/nn/batch_norm.hpp"
#include "ferrum/nn/conv1d.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/pooling.hpp"
#include "ferrum/nn/positional_encoding.hpp"
#include "ferrum/nn/transformer_encoder.hpp"
#include "paper_gru.hpp"
#include "peer.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Multiply-add FLOPs (2 per MAC) of the GEMMs, per sequence. Forward: 3H(in+H) MACs per step per layer;
// backward: dW_ih, dW_hh, the recurrent dh and dX (not for the first layer, whose input needs none).
struct flops {
    double forward = 0, backward = 0;
};
flops count_flops(std::size_t steps) {
    const std::size_t in[3] = {2, 20, 16}, hid[3] = {20, 16, 8};
    flops f;
    for (int k = 0; k < 3; ++k) {
        const double H3 = 3.0 * static_cast<double>(hid[k]), I = static_cast<double>(in[k]),
                     H = static_cast<double>(hid[k]);
        f.forward += 2 * H3 * (I + H) * static_cast<double>(steps);
        f.backward += 2 * H3 * (I + 2 * H + (k > 0 ? I : 0)) * static_cast<double>(steps);
    }
    f.forward += 2 * 8;
    f.backward += 2 * 2 * 8;
    return f;
}

nlohmann::json run_peer(std::size_t n, std::size_t steps, std::size_t batch, int epochs, int threads,
                        const std::string& model = "gru") {
    const std::string t = std::to_string(threads);
    const std::string cmd = "OMP_NUM_THREADS=" + t + " OPENBLAS_NUM_THREADS=" + t + " MKL_NUM_THREADS=" + t +
                            " /usr/bin/python3 " FERRUM_BENCH_DIR "/nn_peer.py " + std::to_string(n) + " " +
                            std::to_string(steps) + " " + std::to_string(batch) + " " + std::to_string(epochs) + " " +
                            t + " " + model + " 2>/dev/null";
    return ferrum_bench::peer_json(cmd);
}

/// The paper's trunk with another cell: "lstm", "bigru" or "bilstm" (concat), or "fcn" (Wang et al. 2017:
/// 3 x (conv1d same -> batch_norm -> relu), 128-256-128 channels, kernels 8-5-3, global average pooling,
/// dense(128, 1)); parameters from seed 1.
template <class T>
ferrum::nn::sequential<T> make_trunk(const std::string& name) {
    namespace nn = ferrum::nn;
    if (name == "fcn") {
        nn::sequential<T> model;
        const std::size_t in[3] = {2, 128, 256}, out[3] = {128, 256, 128}, kernel[3] = {8, 5, 3};
        for (int k = 0; k < 3; ++k)
            model.add(nn::conv1d<T>(in[k], out[k], kernel[k], nn::conv_padding::same))
                .add(nn::batch_norm<T>(out[k]))
                .add(nn::activation_layer<T>(nn::activation::relu));
        model.add(nn::global_average_pooling<T>()).add(nn::dense<T>(128, 1));
        model.reset_parameters(1);
        return model;
    }
    const bool lstm = name.find("lstm") != std::string::npos;
    std::optional<nn::merge_mode> bi;
    if (name.rfind("bi", 0) == 0) bi = nn::merge_mode::concat;
    const std::size_t d = bi ? 2 : 1, in[3] = {2, 20 * d, 16 * d}, hid[3] = {20, 16, 8};
    const double drop[3] = {0.2, 0.2, 0.1};
    nn::sequential<T> model;
    for (int k = 0; k < 3; ++k) {
        if (lstm) model.add(nn::lstm<T>(in[k], hid[k], k < 2, 0, bi));
        else model.add(nn::gru<T>(in[k], hid[k], k < 2, 0, bi));
        model.add(nn::dropout<T>(drop[k]));
    }
    model.add(nn::dense<T>(8 * d, 1));
    model.reset_parameters(1);
    return model;
}

struct rates {
    double train = 0, infer = 0;
};

/// Training (one epoch) and inference sequences/s of `model` on `data`.
template <class T>
rates measure(ferrum::nn::sequential<T>& model, const ferrum_bench::gru_data<T>& data, std::size_t n, std::size_t batch,
              int threads, std::size_t chunk) {
    model.set_num_threads(static_cast<std::size_t>(threads));
    model.set_chunk_size(chunk);
    auto params = model.parameters();
    ferrum::nn::adam<T> opt(ferrum::nn::adam_options{1e-3, 0.9, 0.999, 1e-7});
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < n; i += batch)
        ferrum_bench::train_step(model, opt, params, data, i, std::min(n, i + batch));
    rates r;
    r.train = static_cast<double>(n) / seconds_since(t0);
    const auto t1 = clock_type::now();
    for (std::size_t i = 0; i < n; i += batch) (void)model.predict(data.slice(i, std::min(n, i + batch)));
    r.infer = static_cast<double>(n) / seconds_since(t1);
    return r;
}

// ---- attention rows ------------------------------------------------------------------------------------

/// The two attention models of the table, float32, parameters from seed 1.
ferrum::nn::functional<float> make_attention_model(const std::string& which) {
    namespace nn = ferrum::nn;
    nn::functional<float> m;
    auto h = m.input("x", 2, true);
    if (which == "encoder") {
        h = m.add("proj", nn::dense<float>(2, 32), h);
        h = m.add("pos", nn::sinusoidal_positional_encoding<float>(32), h);
        h = m.add("enc", nn::transformer_encoder_layer<float>(32, 4, 64, 0.1), h);
    } else {
        h = m.add("proj", nn::dense<float>(2, 32, nn::activation::tanh), h);
    }
    h = m.add("pool", nn::attention_pooling<float>(32, nn::attention_score::additive, 32), h);
    m.add("out", nn::dense<float>(32, 1), h);
    m.reset_parameters(1);
    return m;
}

/// Training and inference sequences/s of one attention model (weighted MSE, Adam, as the GRU rows).
nlohmann::json attention_rate(const std::string& which, const ferrum_bench::gru_data<float>& data, std::size_t n,
                              std::size_t batch, int threads, std::size_t chunk) {
    namespace nn = ferrum::nn;
    auto model = make_attention_model(which);
    model.set_num_threads(static_cast<std::size_t>(threads));
    model.set_chunk_size(chunk);
    auto params = model.parameters();
    nn::adam<float> opt(nn::adam_options{1e-3, 0.9, 0.999, 1e-7});
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < n; i += batch) {
        const std::size_t i1 = std::min(n, i + batch);
        const auto xb = data.slice(i, i1);
        model.zero_grad();
        const auto yhat = model.forward({xb}, {}, nn::mode::training);
        const auto len = static_cast<Eigen::Index>(i1 - i);
        const Eigen::Map<const nn::output_vector<float>> yh(yhat.data(), len);
        const auto l = nn::mse_loss(yh, data.y.segment(static_cast<Eigen::Index>(i), len),
                                    data.w.segment(static_cast<Eigen::Index>(i), len));
        xt::xarray<float> g = xt::xarray<float>::from_shape({i1 - i, std::size_t(1)});
        std::copy(l.grad.data(), l.grad.data() + l.grad.size(), g.data());
        model.backward(g);
        opt.step(params);
    }
    const double train_s = seconds_since(t0);
    const auto t1 = clock_type::now();
    for (std::size_t i = 0; i < n; i += batch) model.predict({data.slice(i, std::min(n, i + batch))});
    const double infer_s = seconds_since(t1);
    return {{"train_seq_per_s", static_cast<double>(n) / train_s},
            {"infer_seq_per_s", static_cast<double>(n) / infer_s}};
}

/// Prints the attention rows beside PyTorch (same thread count) and returns them for the JSON line.
nlohmann::json attention_rows(const ferrum_bench::gru_data<float>& data, std::size_t n, std::size_t steps,
                              std::size_t batch, int threads, std::size_t chunk, bool peer) {
    nlohmann::json out = nlohmann::json::object();
    std::printf("attention models, %zu x %zu steps x 2, batch %zu, float32, %d threads:\n", n, steps, batch, threads);
    std::printf("%-40s %10s %10s %8s\n", "", "ferrum", "PyTorch", "ratio");
    for (const std::string which : {"encoder", "pooling"}) {
        nlohmann::json r = attention_rate(which, data, n, batch, threads, chunk);
        const nlohmann::json p = peer ? run_peer(n, steps, batch, 1, threads, which) : nlohmann::json(nullptr);
        r["peer"] = p;
        for (const char* key : {"train_seq_per_s", "infer_seq_per_s"}) {
            const std::string what = (which == "encoder" ? "encoder block d32 h4, " : "attention pooling, ") +
                                     std::string(key[0] == 't' ? "training seq/s" : "inference seq/s");
            const double ours = r[key].get<double>();
            if (p.is_object() && p.contains(key)) {
                const double theirs = p[key].get<double>();
                std::printf("%-40s %10.1f %10.1f %7.2fx\n", what.c_str(), ours, theirs, ours / theirs);
                r[std::string(key[0] == 't' ? "train" : "infer") + "_speedup"] = ours / theirs;
            } else {
                std::printf("%-40s %10.1f %10s\n", what.c_str(), ours, "n/a");
            }
        }
        out[which] = r;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 6000, steps = 264, batch = 256;
    std::size_t peer_n = 1024, chunk = 64, attention_n = 1024;
    int epochs = 1, threads = 2;
    bool peer = true, attention = true;
    std::size_t extra_n = 1024;
    std::string extra_models = "lstm,bigru,bilstm";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--n" && i + 1 < argc) n = std::stoul(argv[++i]);
        else if (a == "--epochs" && i + 1 < argc) epochs = std::stoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
        else if (a == "--peer-n" && i + 1 < argc) peer_n = std::stoul(argv[++i]);
        else if (a == "--chunk" && i + 1 < argc) chunk = std::stoul(argv[++i]);
        else if (a == "--no-peer") peer = false;
        else if (a == "--extra-n" && i + 1 < argc) extra_n = std::stoul(argv[++i]);
        else if (a == "--models" && i + 1 < argc) extra_models = argv[++i];
        else if (a == "--attention-n" && i + 1 < argc) attention_n = std::stoul(argv[++i]);
        else if (a == "--no-attention") attention = false;
    }
    using T = float;
    namespace nn = ferrum::nn;
    const ferrum_bench::gru_data<T> data(n, steps);

    auto model = ferrum_bench::make_paper_gru<T>();
    model.set_num_threads(static_cast<std::size_t>(threads));
    model.set_chunk_size(chunk);
    auto params = model.parameters();
    nn::adam<T> opt(nn::adam_options{1e-3, 0.9, 0.999, 1e-7});

    double last_loss = 0;
    const auto t0 = clock_type::now();
    const double c0 = cpu_seconds();
    for (int e = 0; e < epochs; ++e)
        for (std::size_t i = 0; i < n; i += batch)
            last_loss = ferrum_bench::train_step(model, opt, params, data, i, std::min(n, i + batch));
    const double train_s = seconds_since(t0), train_cpu = cpu_seconds() - c0;
    const auto t1 = clock_type::now();
    const double c1 = cpu_seconds();
    double checksum = 0;
    for (std::size_t i = 0; i < n; i += batch) {
        const auto yhat = model.predict(data.slice(i, std::min(n, i + batch)));
        checksum += static_cast<double>(yhat(0, 0));
    }
    const double infer_s = seconds_since(t1), infer_cpu = cpu_seconds() - c1;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;

    const flops f = count_flops(steps);
    const double train_rate = static_cast<double>(n) * epochs / train_s, infer_rate = static_cast<double>(n) / infer_s;
    const double train_gflops = train_rate * (f.forward + f.backward) * 1e-9,
                 infer_gflops = infer_rate * f.forward * 1e-9;

    nlohmann::json peer_result = peer ? run_peer(std::min(n, peer_n), steps, batch, 1, threads)
                                      : nlohmann::json(nullptr);
    nlohmann::json peer1 = peer && threads != 1 ? run_peer(std::min(n, peer_n), steps, batch, 1, 1) : peer_result;
    std::printf("GRU 2->20->16->8 + dropout 0.2/0.2/0.1 + dense, %zu x %zu steps x 2, batch %zu, float32, %d threads\n",
                n, steps, batch, threads);
    std::printf("%-26s %14s %14s %8s\n", "", "ferrum", "PyTorch", "ratio");
    auto row = [&](const char* what, double ours, const char* key) {
        if (peer_result.is_object() && peer_result.contains(key)) {
            const double theirs = peer_result[key].get<double>();
            std::printf("%-26s %14.1f %14.1f %7.1fx\n", what, ours, theirs, ours / theirs);
        } else {
            std::printf("%-26s %14.1f %14s %8s\n", what, ours, "n/a", "");
        }
    };
    row("training sequences/s", train_rate, "train_seq_per_s");
    row("inference sequences/s", infer_rate, "infer_seq_per_s");
    std::printf("%-26s %14.2f\n", "training GFLOP/s", train_gflops);
    std::printf("%-26s %14.2f\n", "inference GFLOP/s", infer_gflops);
    std::printf("%-26s %14.1f %14.1f\n", "peak RSS MiB", rss_mib,
                peer_result.is_object() ? peer_result["peak_rss_mib"].get<double>() : 0.0);
    std::printf("%-26s %14.2f\n", "training CPU utilisation", train_cpu / train_s);
    std::printf("per CPU-second (PyTorch with 1 thread):\n");
    auto row1 = [&](const char* what, double ours, const char* key) {
        if (peer1.is_object() && peer1.contains(key))
            std::printf("%-26s %14.1f %14.1f %7.1fx\n", what, ours, peer1[key].get<double>(),
                        ours / peer1[key].get<double>());
        else std::printf("%-26s %14.1f\n", what, ours);
    };
    row1("training seq/CPU-second", static_cast<double>(n) * epochs / train_cpu, "train_seq_per_cpu_s");
    row1("inference seq/CPU-second", static_cast<double>(n) / infer_cpu, "infer_seq_per_cpu_s");
    std::printf("(GEMM FLOPs per sequence: forward %.3g, backward %.3g; final loss %.4f, checksum %.4f)\n", f.forward,
                f.backward, last_loss, checksum);

    // the same trunk with other recurrent layers, side by side with PyTorch (same threads)
    nlohmann::json extra = nlohmann::json::object();
    if (!extra_models.empty()) {
        const ferrum_bench::gru_data<T> xdata(extra_n, steps);
        std::printf(
            "\nthe same trunk (20->16->8) with other cells, %zu x %zu steps, batch %zu, %d threads: sequences/s\n",
            extra_n, steps, batch, threads);
        std::printf("%-8s %12s %12s %7s %12s %12s %7s\n", "model", "train ours", "PyTorch", "ratio", "infer ours",
                    "PyTorch", "ratio");
        std::size_t pos = 0;
        while (pos <= extra_models.size()) {
            const std::size_t comma = std::min(extra_models.find(',', pos), extra_models.size());
            const std::string name = extra_models.substr(pos, comma - pos);
            pos = comma + 1;
            if (name.empty()) continue;
            auto m = make_trunk<T>(name);
            const rates r = measure(m, xdata, extra_n, batch, threads, chunk);
            const nlohmann::json pr = peer ? run_peer(std::min(extra_n, peer_n), steps, batch, 1, threads, name)
                                           : nlohmann::json(nullptr);
            const bool has = pr.is_object() && pr.contains("train_seq_per_s");
            const double pt = has ? pr["train_seq_per_s"].get<double>() : 0,
                         pi = has ? pr["infer_seq_per_s"].get<double>() : 0;
            std::printf("%-8s %12.1f %12.1f %6.1fx %12.1f %12.1f %6.1fx\n", name.c_str(), r.train, pt,
                        has ? r.train / pt : 0.0, r.infer, pi, has ? r.infer / pi : 0.0);
            extra[name] = {{"train_seq_per_s", r.train}, {"infer_seq_per_s", r.infer}, {"peer", pr}};
            if (has) {
                extra[name]["train_speedup"] = r.train / pt;
                extra[name]["infer_speedup"] = r.infer / pi;
            }
        }
    }
    const nlohmann::json attention_result = attention ? attention_rows(data, std::min(n, attention_n), steps, batch,
                                                                       threads, chunk, peer)
                                                      : nlohmann::json(nullptr);
    nlohmann::json j = {{"benchmark", "nn"},
                        {"n", n},
                        {"steps", steps},
                        {"batch", batch},
                        {"threads", threads},
                        {"epochs", epochs},
                        {"train_seq_per_s", train_rate},
                        {"infer_seq_per_s", infer_rate},
                        {"train_gflops", train_gflops},
                        {"infer_gflops", infer_gflops},
                        {"peak_rss_mib", rss_mib},
                        {"peer_1thread", peer1},
                        {"train_seq_per_cpu_s", static_cast<double>(n) * epochs / train_cpu},
                        {"infer_seq_per_cpu_s", static_cast<double>(n) / infer_cpu},
                        {"train_cpu_s", train_cpu},
                        {"infer_cpu_s", infer_cpu},
                        {"train_wall_s", train_s},
                        {"infer_wall_s", infer_s},
                        {"peer", peer_result},
                        {"other_cells", extra},
                        {"attention", attention_result}};
    if (peer_result.is_object()) {
        j["train_speedup"] = train_rate / peer_result["train_seq_per_s"].get<double>();
        j["infer_speedup"] = infer_rate / peer_result["infer_seq_per_s"].get<double>();
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
}
