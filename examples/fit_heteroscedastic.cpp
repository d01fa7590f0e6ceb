// Fits a mean and a noise level that both depend on x, with the robust heteroscedastic loss (labels
// carry their own known errors) and Adam. The model is linear, written by hand: mu = a0 + a1 x and
// ln sigma_model^2 = b0 + b1 x, its two parameter vectors exposed to Adam as parameter_refs.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "ferrum/nn.hpp"

int main() {
    namespace nn = ferrum::nn;
    using vec = Eigen::VectorXd;

    // Toy data: y = 1 + 2x + noise; the intrinsic scatter grows with x, sigma_model(x) = 0.05 e^{1.5x},
    // and every label also has a known measurement error sigma_data in [0.01, 0.1].
    const int n = 2000;
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> unit(0.0, 1.0), label_err(0.01, 0.1);
    std::normal_distribution<double> normal(0.0, 1.0);
    const auto true_sigma = [](double x) { return 0.05 * std::exp(1.5 * x); };
    vec x(n), y(n), sigma_data(n);
    for (int i = 0; i < n; ++i) {
        x[i] = unit(rng);
        sigma_data[i] = label_err(rng);
        const double s = std::hypot(true_sigma(x[i]), sigma_data[i]);
        y[i] = 1.0 + 2.0 * x[i] + s * normal(rng);
    }

    // Parameters and their gradient buffers, seen by Adam through a parameter_list.
    std::vector<double> a{0.0, 0.0}, b{0.0, 0.0}, ga(2), gb(2);
    const nn::parameter_list<double> params{{"mean.weight", {2}, nn::parameter_role::kernel, a.data(), ga.data()},
                                            {"log_var.weight", {2}, nn::parameter_role::kernel, b.data(), gb.data()}};
    nn::adam_options options;
    options.lr = 0.02;
    nn::adam<double> opt(options);

    for (int step = 1; step <= 3000; ++step) {
        const vec mu = a[0] + a[1] * x.array();
        const vec log_var = b[0] + b[1] * x.array();
        const auto loss = nn::robust_heteroscedastic_loss(mu, log_var, y, sigma_data);
        // Chain rule through the linear model: d/da0 = sum dJ/dmu, d/da1 = sum x dJ/dmu, same for b.
        ga = {loss.grad_mean.sum(), loss.grad_mean.dot(x)};
        gb = {loss.grad_log_var.sum(), loss.grad_log_var.dot(x)};
        nn::clip_grad_norm(params, 10.0);
        opt.step(params);
        if (step % 1000 == 0) std::printf("step %4d  loss %.6f\n", step, loss.value);
    }

    std::printf("\nmean: %.3f + %.3f x   (true 1 + 2 x)\n", a[0], a[1]);
    std::printf("ln sigma_model^2: %.3f + %.3f x   (true %.3f + 3 x)\n\n", b[0], b[1], 2 * std::log(0.05));
    std::printf("    x   true sigma_model   predicted sigma_model\n");
    for (double xi = 0.0; xi <= 1.0001; xi += 0.25)
        std::printf(" %4.2f   %16.4f   %21.4f\n", xi, true_sigma(xi), std::exp(0.5 * (b[0] + b[1] * xi)));
    return 0;
}
