// Builds, trains and saves a small GRU regressor with ferrum::nn: light curves (phase, magnitude) of
// simulated pulsating stars -> a metallicity-like label. Then reloads the file, which re-checks its test
// vectors, and predicts with it. usage: train_gru_regressor [out.json] [epochs]
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <xtensor/xview.hpp>
#include "ferrum/core/progress.hpp"

#include "ferrum/nn.hpp"

namespace nn = ferrum::nn;

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "gru_regressor.json";
    const std::size_t n = 1024, steps = 32, batch = 64, epochs = argc > 2 ? std::stoul(argv[2]) : 40;

    // Toy data: a two-harmonic light curve whose shape (phi21-like phase offset, amplitude) sets the label.
    std::mt19937_64 gen(42);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({n, steps, 2});
    nn::output_vector<float> y(n), w(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float amp = 0.3f + 0.7f * u(gen), phi = 6.2832f * u(gen);
        for (std::size_t t = 0; t < steps; ++t) {
            const float ph = static_cast<float>(t) / steps;
            x(i, t, 0) = ph;
            x(i, t, 1) = amp * (std::cos(6.2832f * ph) + 0.3f * std::cos(12.566f * ph + phi)) + 0.02f * (u(gen) - 0.5f);
        }
        y[i] = -1.5f + 0.6f * std::sin(phi) + 0.4f * (amp - 0.65f);
        w[i] = 1.0f;  // e.g. inverse-density weights from ferrum::stats
    }

    nn::sequential<float> model;
    model.add(nn::gru<float>(2, 16, /*return_sequences=*/true))
        .add(nn::dropout<float>(0.1))
        .add(nn::gru<float>(16, 8))
        .add(nn::dense<float>(8, 1));
    model.reset_parameters(/*seed=*/1);
    auto params = model.parameters();
    nn::adam<float> opt(nn::adam_options{5e-3});

    ferrum::progress bar("epoch", epochs, "epochs");
    for (std::size_t e = 1; e <= epochs; ++e) {
        double total = 0;
        for (std::size_t i = 0; i < n; i += batch) {
            const std::size_t m = std::min(batch, n - i);
            xt::xtensor<float, 3> xb = xt::view(x, xt::range(i, i + m), xt::all(), xt::all());
            model.zero_grad();
            const auto yhat = model.forward(xb, {}, nn::mode::training);
            const auto loss = nn::mse_loss(Eigen::Map<const nn::output_vector<float>>(yhat.data(), m), y.segment(i, m),
                                           w.segment(i, m));
            xt::xtensor<float, 2> g = xt::xtensor<float, 2>::from_shape({m, 1});
            std::copy(loss.grad.data(), loss.grad.data() + m, g.data());
            model.backward(g);
            nn::clip_grad_norm(params, 5.0f);
            opt.step(params);
            total += loss.value * m;
        }
        bar.update(e, "loss " + std::to_string(total / n));
    }

    nn::save_options opt_file;
    opt_file.preprocessing = {{"n_points", steps}, {"channels", {"phase", "mag"}}, {"standardised", false}};
    opt_file.test_steps = steps;
    nn::save_model(path, model, opt_file);

    auto loaded = nn::load_sequential<float>(path);  // re-runs the embedded test vectors
    xt::xtensor<float, 3> first = xt::view(x, xt::range(0, 4), xt::all(), xt::all());
    const auto pred = loaded.predict(first);
    for (std::size_t i = 0; i < 4; ++i) std::printf("star %zu: label %.3f  predicted %.3f\n", i, y[i], pred(i, 0));
    const auto all = loaded.predict(x);
    double se = 0, var = 0;
    for (std::size_t i = 0; i < n; ++i)
        se += (all(i, 0) - y[i]) * (all(i, 0) - y[i]), var += (y[i] - y.mean()) * (y[i] - y.mean());
    std::printf("reloaded model: rmse %.3f, labels' sd %.3f\n", std::sqrt(se / n), std::sqrt(var / n));
    std::printf("saved %s\n", path.c_str());
}
