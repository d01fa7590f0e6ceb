// The cuDNN + cuBLAS backend against the CPU backend (itself checked against PyTorch in test_gru_parity):
// forward and every gradient within float32 tolerance (FMA math, dropout 0), one test per cuDNN trap,
// a short Adam run that follows the CPU run, and a GPU-saved model verified on the CPU.
// Runs only on a machine with a CUDA device (tests/support/gpu_main.cpp skips it elsewhere).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ferrum/backend/cudnn/kernels.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/model_io.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/sequential.hpp"

namespace nn = ferrum::nn;
using ferrum::backend::cpu;
using ferrum::backend::cudnn;

namespace {

template <class T, class B>
nn::sequential<T, B> paper_net(double p1, double p2, double p3, bool sequences_out = false) {
    nn::sequential<T, B> m;
    m.add(nn::gru<T, B>(2, 20, true)).add(nn::dropout<T, B>(p1));
    m.add(nn::gru<T, B>(20, 16, true)).add(nn::dropout<T, B>(p2));
    m.add(nn::gru<T, B>(16, 8, sequences_out)).add(nn::dropout<T, B>(p3));
    m.add(nn::dense<T, B>(8, 1));
    m.reset_parameters(7);
    return m;
}

/// Copies the values of `from` into `to` by parameter name (the model-file contract: same names, same shapes).
template <class T, class A, class B>
void copy_parameters(nn::sequential<T, A>& from, nn::sequential<T, B>& to) {
    auto src = from.parameters();
    auto dst = to.parameters();
    REQUIRE(src.size() == dst.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
        REQUIRE(src[i].name == dst[i].name);
        REQUIRE(src[i].shape == dst[i].shape);
        std::copy(src[i].value, src[i].value + src[i].size(), dst[i].value);
    }
}

template <class T>
xt::xtensor<T, 3> random_sequences(std::size_t n, std::size_t steps, std::size_t f, std::uint64_t seed) {
    std::mt19937_64 g(seed);
    std::normal_distribution<double> d(0.0, 1.0);
    xt::xtensor<T, 3> x = xt::xtensor<T, 3>::from_shape({n, steps, f});
    for (auto& v : x) v = static_cast<T>(d(g));
    return x;
}

template <class T>
xt::xtensor<T, 2> ramp_gradient(std::size_t n) {
    xt::xtensor<T, 2> g = xt::xtensor<T, 2>::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) g(i, 0) = static_cast<T>(0.5 + 0.01 * static_cast<double>(i % 17));
    return g;
}

/// max |a - b| / (atol + rtol |b|) over all elements: <= 1 means within tolerance.
template <class T>
double worst(const T* a, const T* b, std::size_t n, double atol, double rtol) {
    double w = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double e = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])) /
                         (atol + rtol * std::abs(static_cast<double>(b[i])));
        if (!(e <= w)) w = e;  // NaN propagates as a failure
    }
    return w;
}

template <class T, class A, class B>
void require_same_gradients(nn::sequential<T, A>& gpu, nn::sequential<T, B>& cpu, double atol, double rtol) {
    auto pg = gpu.parameters();
    auto pc = cpu.parameters();
    for (std::size_t i = 0; i < pg.size(); ++i) {
        INFO("gradient of " << pc[i].name);
        CHECK(worst(pg[i].grad, pc[i].grad, pc[i].size(), atol, rtol) <= 1.0);
    }
}

/// A training-mode forward pass of both models on the same batch (`lengths` as forward() takes them):
/// the outputs agree within (atol, rtol).
template <class T, class A, class B, class X>
void check_same_forward(nn::sequential<T, A>& gpu, nn::sequential<T, B>& cpu, const X& x,
                        const std::vector<std::size_t>& lengths, double atol, double rtol) {
    const auto yc = cpu.forward(x, lengths, nn::mode::training);
    const auto yg = gpu.forward(x, lengths, nn::mode::training);
    CHECK(worst(yg.data(), yc.data(), yc.size(), atol, rtol) <= 1.0);
}

/// Backward through both models from the same output gradient `g`: every parameter gradient and the input
/// gradient agree within (atol, rtol).
template <class T, class A, class B, class G>
void require_same_backward(nn::sequential<T, A>& gpu, nn::sequential<T, B>& cpu, const G& g, double atol, double rtol) {
    const auto dxc = cpu.backward(g, true);
    const auto dxg = gpu.backward(g, true);
    require_same_gradients(gpu, cpu, atol, rtol);
    REQUIRE(dxg.size() == dxc.size());
    CHECK(worst(dxg.data(), dxc.data(), dxc.size(), atol, rtol) <= 1.0);
}

constexpr double f32_atol = 5e-5, f32_rtol = 5e-4;  // float32, 40 steps of recurrence, FMA math

}  // namespace

TEST_CASE("cuDNN GRU stack: forward and every gradient equal the CPU backend (float, dropout 0)", "[gpu]") {
    auto cpu_m = paper_net<float, cpu>(0, 0, 0);
    auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
    copy_parameters(cpu_m, gpu_m);
    const auto x = random_sequences<float>(100, 40, 2, 1);  // two chunks of 64 + 36 samples
    check_same_forward(gpu_m, cpu_m, x, {}, f32_atol, f32_rtol);
    const auto g = ramp_gradient<float>(100);
    require_same_backward(gpu_m, cpu_m, g, f32_atol, f32_rtol);
}

TEST_CASE("cuDNN GRU in double precision equals the CPU backend to 1e-10", "[gpu]") {
    auto cpu_m = paper_net<double, cpu>(0, 0, 0);
    auto gpu_m = paper_net<double, cudnn>(0, 0, 0);
    copy_parameters(cpu_m, gpu_m);
    const auto x = random_sequences<double>(20, 30, 2, 2);
    check_same_forward(gpu_m, cpu_m, x, {}, 1e-12, 1e-10);
    const auto g = ramp_gradient<double>(20);
    cpu_m.backward(g);
    gpu_m.backward(g);
    require_same_gradients(gpu_m, cpu_m, 1e-12, 1e-10);
}

TEST_CASE("variable-length batches (device sequence lengths) match the CPU, sequences out included", "[gpu]") {
    std::vector<std::size_t> lengths(70);
    for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = 1 + (i * 7) % 32;  // 1..32 of 32, unsorted
    const auto x = random_sequences<float>(70, 32, 2, 3);
    SECTION("last state") {
        auto cpu_m = paper_net<float, cpu>(0, 0, 0);
        auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
        copy_parameters(cpu_m, gpu_m);
        check_same_forward(gpu_m, cpu_m, x, lengths, f32_atol, f32_rtol);
        const auto g = ramp_gradient<float>(70);
        require_same_backward(gpu_m, cpu_m, g, f32_atol, f32_rtol);
    }
    SECTION("every step") {
        nn::sequential<float, cpu> cpu_m;
        cpu_m.add(nn::gru<float, cpu>(2, std::vector<std::size_t>{12, 6}, true, 5));
        nn::sequential<float, cudnn> gpu_m;
        gpu_m.add(nn::gru<float, cudnn>(2, std::vector<std::size_t>{12, 6}, true, 5));
        copy_parameters(cpu_m, gpu_m);
        const auto yc = cpu_m.forward_sequence(x, lengths, nn::mode::training);
        const auto yg = gpu_m.forward_sequence(x, lengths, nn::mode::training);
        CHECK(worst(yg.data(), yc.data(), yc.size(), f32_atol, f32_rtol) <= 1.0);
        xt::xtensor<float, 3> g = random_sequences<float>(70, 32, 6, 4);
        require_same_backward(gpu_m, cpu_m, g, f32_atol, f32_rtol);
    }
}

TEST_CASE("cuDNN LSTM and bidirectional GRU/LSTM (masked) equal the CPU backend", "[gpu][lstm]") {
    std::vector<std::size_t> lengths(70);
    for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = 1 + (i * 5) % 24;  // 1..24 of 24, unsorted
    const auto x = random_sequences<float>(70, 24, 2, 6);
    auto run = [&](auto make) {
        nn::sequential<float, cpu> cpu_m;
        cpu_m.add(make(cpu{}));
        nn::sequential<float, cudnn> gpu_m;
        gpu_m.add(make(cudnn{}));
        copy_parameters(cpu_m, gpu_m);
        const auto yc = cpu_m.forward_sequence(x, lengths, nn::mode::training);
        const auto yg = gpu_m.forward_sequence(x, lengths, nn::mode::training);
        CHECK(worst(yg.data(), yc.data(), yc.size(), f32_atol, f32_rtol) <= 1.0);
        xt::xtensor<float, 3> g = random_sequences<float>(70, 24, yc.shape(2), 7);
        require_same_backward(gpu_m, cpu_m, g, f32_atol, f32_rtol);
    };
    SECTION("lstm") {
        run([](auto b) { return nn::lstm<float, decltype(b)>(2, std::vector<std::size_t>{12, 6}, true, 5); });
    }
    SECTION("bidirectional lstm, concat") {
        run([](auto b) {
            return nn::lstm<float, decltype(b)>(2, std::vector<std::size_t>{8, 5}, true, 6, nn::merge_mode::concat);
        });
    }
    SECTION("bidirectional gru, mul") {
        run([](auto b) { return nn::gru<float, decltype(b)>(2, 7, true, 7, nn::merge_mode::mul); });
    }
}

TEST_CASE("trap: the weight-gradient space is zeroed before every BackwardWeights (ADD mode)", "[gpu]") {
    auto cpu_m = paper_net<float, cpu>(0, 0, 0);
    auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
    copy_parameters(cpu_m, gpu_m);
    const auto x = random_sequences<float>(16, 20, 2, 5);
    const auto g = ramp_gradient<float>(16);
    // two backward passes without zero_grad: the model accumulates exactly twice one pass (as the CPU);
    // a stale cuDNN dweight space would give three times
    for (int pass = 0; pass < 2; ++pass) {
        cpu_m.forward(x, {}, nn::mode::training);
        gpu_m.forward(x, {}, nn::mode::training);
        cpu_m.backward(g);
        gpu_m.backward(g);
    }
    require_same_gradients(gpu_m, cpu_m, 2 * f32_atol, f32_rtol);
}

TEST_CASE("trap: a second backward on one forward is refused (its reserve space is spent)", "[gpu]") {
    auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
    const auto x = random_sequences<float>(8, 12, 2, 7);
    const auto g = ramp_gradient<float>(8);
    gpu_m.forward(x, {}, nn::mode::training);
    gpu_m.backward(g);
    REQUIRE_THROWS_WITH(gpu_m.backward(g), Catch::Contains("needs a forward() in mode::training"));
    gpu_m.forward(x, {}, nn::mode::training);  // a new forward makes backward valid again
    CHECK_NOTHROW(gpu_m.backward(g));
}

TEST_CASE("trap: BackwardData runs before BackwardWeights even when no input gradient is asked", "[gpu]") {
    auto cpu_m = paper_net<float, cpu>(0, 0, 0);
    auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
    copy_parameters(cpu_m, gpu_m);
    const auto x = random_sequences<float>(8, 24, 2, 6);
    const auto g = ramp_gradient<float>(8);
    cpu_m.forward(x, {}, nn::mode::training);
    gpu_m.forward(x, {}, nn::mode::training);
    CHECK(gpu_m.backward(g, false).size() == 0);
    cpu_m.backward(g, false);
    require_same_gradients(gpu_m, cpu_m, f32_atol, f32_rtol);
}

TEST_CASE("trap: backward uses the reserve space of the last training forward, unchanged", "[gpu]") {
    auto cpu_m = paper_net<float, cpu>(0, 0, 0);
    auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
    copy_parameters(cpu_m, gpu_m);
    const auto x1 = random_sequences<float>(30, 16, 2, 7);
    const auto x2 = random_sequences<float>(30, 16, 2, 8);
    gpu_m.forward(x1, {}, nn::mode::training);
    gpu_m.forward(x2, {}, nn::mode::training);  // the gradients must be x2's
    cpu_m.forward(x2, {}, nn::mode::training);
    const auto g = ramp_gradient<float>(30);
    cpu_m.backward(g);
    gpu_m.backward(g);
    require_same_gradients(gpu_m, cpu_m, f32_atol, f32_rtol);

    // an inference forward keeps no reserve space: backward after it is refused, not silently wrong
    gpu_m.forward(x1, {}, nn::mode::inference);
    CHECK_THROWS_AS(gpu_m.backward(g), ferrum::value_error);
}

TEST_CASE("explicit dropout: training and MC-dropout masks are the CPU backend's", "[gpu]") {
    auto cpu_m = paper_net<float, cpu>(0.2, 0.2, 0.1);
    auto gpu_m = paper_net<float, cudnn>(0.2, 0.2, 0.1);
    copy_parameters(cpu_m, gpu_m);
    const auto x = random_sequences<float>(40, 20, 2, 9);
    SECTION("training with dropout") {
        check_same_forward(gpu_m, cpu_m, x, {}, f32_atol, f32_rtol);
        const auto g = ramp_gradient<float>(40);
        cpu_m.backward(g);
        gpu_m.backward(g);
        require_same_gradients(gpu_m, cpu_m, f32_atol, f32_rtol);
    }
    SECTION("MC dropout at inference") {
        const auto a = gpu_m.forward(x, {}, nn::mode::mc_dropout);
        const auto b = gpu_m.forward(x, {}, nn::mode::mc_dropout);
        const auto ca = cpu_m.forward(x, {}, nn::mode::mc_dropout);
        CHECK(worst(a.data(), ca.data(), ca.size(), f32_atol, f32_rtol) <= 1.0);
        double diff = 0;
        for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, double(std::abs(a.data()[i] - b.data()[i])));
        CHECK(diff > 1e-4);  // two draws differ: dropout really acts at inference
        const auto d1 = gpu_m.predict(x);
        const auto d2 = cpu_m.predict(x);
        CHECK(worst(d1.data(), d2.data(), d2.size(), f32_atol, f32_rtol) <= 1.0);  // deterministic predict
    }
}

TEST_CASE("cuBLAS dense layers: forward and gradients equal the CPU backend", "[gpu]") {
    nn::sequential<float, cpu> cpu_m;
    cpu_m.add(nn::dense<float, cpu>(13, 9, nn::activation::tanh, 1))
        .add(nn::dense<float, cpu>(9, 5, nn::activation::relu, 2))
        .add(nn::dense<float, cpu>(5, 3, nn::activation::linear, 3));
    nn::sequential<float, cudnn> gpu_m;
    gpu_m.add(nn::dense<float, cudnn>(13, 9, nn::activation::tanh, 1))
        .add(nn::dense<float, cudnn>(9, 5, nn::activation::relu, 2))
        .add(nn::dense<float, cudnn>(5, 3, nn::activation::linear, 3));
    copy_parameters(cpu_m, gpu_m);
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({77, 13});
    std::mt19937_64 gen(11);
    std::normal_distribution<double> d;
    for (auto& v : x) v = static_cast<float>(d(gen));
    check_same_forward(gpu_m, cpu_m, x, {}, 1e-6, 1e-5);
    xt::xtensor<float, 2> g = xt::xtensor<float, 2>::from_shape({77, 3});
    for (auto& v : g) v = static_cast<float>(d(gen));
    require_same_backward(gpu_m, cpu_m, g, 1e-6, 1e-5);
}

TEST_CASE("a short Adam run on the GPU follows the CPU run and converges", "[gpu]") {
    auto cpu_m = paper_net<float, cpu>(0, 0, 0);
    auto gpu_m = paper_net<float, cudnn>(0, 0, 0);
    copy_parameters(cpu_m, gpu_m);
    const std::size_t n = 64, steps = 24;
    const auto x = random_sequences<float>(n, steps, 2, 12);
    // target: the mean of the first channel, learnable by the network
    Eigen::VectorXf y(static_cast<Eigen::Index>(n));
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t t = 0; t < steps; ++t) s += x(i, t, 0);
        y(static_cast<Eigen::Index>(i)) = static_cast<float>(s / steps);
    }
    nn::adam<float> oc(nn::adam_options{1e-2, 0.9, 0.999, 1e-7}), og(nn::adam_options{1e-2, 0.9, 0.999, 1e-7});
    auto pc = cpu_m.parameters();
    auto pg = gpu_m.parameters();
    std::vector<double> lc, lg;
    auto step = [&](auto& model, auto& opt, auto& params, std::vector<double>& losses) {
        model.zero_grad();
        const auto yhat = model.forward(x, {}, nn::mode::training);
        Eigen::Map<const Eigen::VectorXf> yh(yhat.data(), static_cast<Eigen::Index>(n));
        const auto l = nn::mse_loss(yh, y);
        xt::xtensor<float, 2> g = xt::xtensor<float, 2>::from_shape({n, 1});
        for (std::size_t i = 0; i < n; ++i) g(i, 0) = l.grad(static_cast<Eigen::Index>(i));
        model.backward(g);
        opt.step(params);
        losses.push_back(static_cast<double>(l.value));
    };
    for (int it = 0; it < 40; ++it) {
        step(cpu_m, oc, pc, lc);
        step(gpu_m, og, pg, lg);
    }
    for (std::size_t i = 0; i < lc.size(); ++i) {
        INFO("step " << i << ": cpu " << lc[i] << " gpu " << lg[i]);
        CHECK(std::abs(lg[i] - lc[i]) <= 1e-3 * (1 + lc[i]) + 0.05 * lc[i]);
    }
    CHECK(lg.back() < 0.5 * lg.front());
}

TEST_CASE("a model trained on the GPU loads on the CPU and its self-test vectors pass there", "[gpu]") {
    auto gpu_m = paper_net<float, cudnn>(0.2, 0.2, 0.1);
    const auto x = random_sequences<float>(32, 20, 2, 13);
    nn::adam<float> opt;
    auto params = gpu_m.parameters();
    for (int it = 0; it < 3; ++it) {
        gpu_m.zero_grad();
        gpu_m.forward(x, {}, nn::mode::training);
        gpu_m.backward(ramp_gradient<float>(32));
        opt.step(params);
    }
    const auto dir = std::filesystem::temp_directory_path() / "ferrum_gpu_model_io";
    std::filesystem::create_directories(dir);
    nn::save_model(dir / "gpu.json", gpu_m);                         // test vectors computed by the cuDNN backend
    auto cpu_m = nn::load_sequential<float, cpu>(dir / "gpu.json");  // throws if the CPU disagrees
    const auto yg = gpu_m.predict(x);
    const auto yc = cpu_m.predict(x);
    CHECK(worst(yg.data(), yc.data(), yc.size(), f32_atol, f32_rtol) <= 1.0);
    auto back = nn::load_sequential<float, cudnn>(dir / "gpu.json");  // and back onto the GPU
    const auto yb = back.predict(x);
    CHECK(worst(yb.data(), yg.data(), yg.size(), 1e-6, 1e-6) <= 1.0);
    std::filesystem::remove_all(dir);
}
