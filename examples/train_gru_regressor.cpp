// Builds, trains and saves a small GRU regressor with ferrum::nn: light curves (phase, magnitude) of
// simulated pulsating stars -> a metallicity-like label. Then reloads the file, which re-checks its test
// vectors, and predicts with it. usage: train_gru_regressor [out.json] [epochs]
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <xtensor/xmath.hpp>

#include "ferrum/nn.hpp"

namespace nn = ferrum::nn;

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "gru_regressor.json";
    const std::size_t n = 1024, steps = 32;

    // Toy data: a two-harmonic light curve whose shape (phi21-like phase offset, amplitude) sets the label.
    std::mt19937_64 gen(42);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({n, steps, 2});  // (stars, steps, channels)
    xt::xtensor<float, 1> y = xt::xtensor<float, 1>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) {
        const float amp = 0.3f + 0.7f * u(gen), phi = 6.2832f * u(gen);
        for (std::size_t t = 0; t < steps; ++t) {
            const float ph = static_cast<float>(t) / steps;
            x(i, t, 0) = ph;
            x(i, t, 1) = amp * (std::cos(6.2832f * ph) + 0.3f * std::cos(12.566f * ph + phi)) + 0.02f * (u(gen) - 0.5f);
        }
        y(i) = -1.5f + 0.6f * std::sin(phi) + 0.4f * (amp - 0.65f);
    }

    nn::sequential<float> model;
    model.add(nn::gru<float>(2, 16, /*return_sequences=*/true))
        .add(nn::dropout<float>(0.1))
        .add(nn::gru<float>(16, 8))
        .add(nn::dense<float>(8, 1));
    model.reset_parameters(/*seed=*/1);

    nn::fit_options fit;  // Keras' model.fit: shuffled mini-batches, Adam, a loss by name
    fit.max_epochs = argc > 2 ? std::stoi(argv[2]) : 40;
    fit.batch_size = 64;
    fit.loss = "mse";  // fit.sample_weight: e.g. inverse-density weights from ferrum::stats
    fit.optimizer.lr = 5e-3;
    fit.clip_grad_norm = 5.0;
    const auto history = model.fit(x, y, fit);  // progress on stderr (FERRUM_QUIET=1 silences it)
    std::printf("trained %zu epochs: mse %.4f -> %.4f\n", history.epochs.size(), history.epochs.front().train_loss,
                history.epochs.back().train_loss);

    nn::save_options file;
    file.preprocessing = {{"n_points", steps}, {"channels", {"phase", "mag"}}, {"standardised", false}};
    file.test_steps = steps;
    nn::save_model(path, model, file);

    auto loaded = nn::load_sequential<float>(path);  // re-runs the embedded test vectors
    const auto first = loaded.predict(xt::view(x, xt::range(0, 4), xt::all(), xt::all()));  // a view: not copied
    for (std::size_t i = 0; i < 4; ++i) std::printf("star %zu: label %.3f  predicted %.3f\n", i, y(i), first(i, 0));
    const auto all = xt::view(loaded.predict(x), xt::all(), 0);
    std::printf("reloaded model: rmse %.3f, labels' sd %.3f\n", std::sqrt(xt::mean(xt::square(all - y))()),
                xt::stddev(y)());
    std::printf("saved %s\n", path.c_str());
}
