// Trains a small GRU regressor on the default backend (the GPU when the program links ferrum::cudnn,
// the CPU otherwise: the code is the same), saves it, reloads the file on the CPU backend (which re-runs
// the embedded test vectors) and draws Monte-Carlo-dropout predictions there. usage: gpu_model_exchange [out.json]
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <xtensor/xview.hpp>

#include "ferrum/nn.hpp"

namespace nn = ferrum::nn;

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "gpu_model.json";
    const std::size_t n = 256, steps = 24, batch = 64;
    std::mt19937_64 gen(3);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({n, steps, 2});
    nn::output_vector<float> y(static_cast<Eigen::Index>(n));
    for (std::size_t i = 0; i < n; ++i) {
        const float amp = 0.3f + 0.7f * u(gen);
        for (std::size_t t = 0; t < steps; ++t) {
            x(i, t, 0) = static_cast<float>(t) / steps;
            x(i, t, 1) = amp * std::cos(6.2832f * static_cast<float>(t) / steps);
        }
        y[static_cast<Eigen::Index>(i)] = -1.5f + amp;
    }

    nn::sequential<float> model;  // ferrum::default_backend: cudnn if FERRUM_USE_CUDNN is defined
    model.add(nn::gru<float>(2, 12, true)).add(nn::dropout<float>(0.1)).add(nn::gru<float>(12, 6));
    model.add(nn::dense<float>(6, 1));
    model.reset_parameters(1);
    model.set_chunk_size(batch);  // one chunk (one cuDNN call per layer) per batch
    auto params = model.parameters();
    nn::adam<float> opt(nn::adam_options{1e-2});
    for (int epoch = 0; epoch < 60; ++epoch)
        for (std::size_t i = 0; i < n; i += batch) {
            xt::xtensor<float, 3> xb = xt::view(x, xt::range(i, i + batch), xt::all(), xt::all());
            model.zero_grad();
            const auto yhat = model.forward(xb, {}, nn::mode::training);
            const auto loss = nn::mse_loss(Eigen::Map<const nn::output_vector<float>>(yhat.data(), batch),
                                           y.segment(static_cast<Eigen::Index>(i), batch));
            xt::xtensor<float, 2> g = xt::xtensor<float, 2>::from_shape({batch, 1});
            std::copy(loss.grad.data(), loss.grad.data() + batch, g.data());
            model.backward(g);
            opt.step(params);
            if (i == 0 && epoch % 20 == 19) std::printf("epoch %2d  loss %.5f\n", epoch + 1, loss.value);
        }
    std::printf("trained on backend '%s'\n", ferrum::default_backend::name);
    nn::save_model(path, model);

    // The same file on the CPU backend; load_sequential throws if its test vectors disagree.
    auto cpu_model = nn::load_sequential<float, ferrum::backend::cpu>(path);
    xt::xtensor<float, 3> first = xt::view(x, xt::range(0, 4), xt::all(), xt::all());
    const auto mean = cpu_model.predict(first);
    for (int draw = 0; draw < 3; ++draw) {
        const auto mc = cpu_model.forward(first, {}, nn::mode::mc_dropout);
        std::printf("MC draw %d: %.4f %.4f %.4f %.4f\n", draw, mc(0, 0), mc(1, 0), mc(2, 0), mc(3, 0));
    }
    std::printf("CPU prediction: %.4f %.4f %.4f %.4f (targets %.4f %.4f %.4f %.4f)\n", mean(0, 0), mean(1, 0),
                mean(2, 0), mean(3, 0), y[0], y[1], y[2], y[3]);
    return 0;
}
