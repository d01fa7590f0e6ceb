// Trains a small MLP regressor of [Fe/H] with the training tools of ferrum: density sample weights
// (Monti et al. 2025 eq. 3), repeated stratified K-fold CV, Adam, early stopping on a validation split,
// and out-of-fold metrics. Data: simulated Gaia-like RRab stars; the inputs are the catalogue-style
// Fourier parameters fitted to each noisy light curve, the target is the physical [Fe/H].
//
//   ./train_with_cv [n_stars=3000] [folds=5] [seed=1]
#include <ferrum/ferrum.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace nn = ferrum::nn;

namespace {

constexpr std::size_t n_features = 5;  // P, phi31, A1, R21, log10 N_epochs

/// The glue between a network and ferrum::train::fit: one mini-batch step and a validation loss.
struct mlp_task {
    nn::sequential<double> net;
    const xt::xtensor<double, 2>& X;
    const std::vector<double>& y;
    const std::vector<double>& w_fit;

    nn::parameter_list<double> parameters() { return net.parameters(); }

    xt::xtensor<double, 2> rows(const std::vector<std::size_t>& idx) const {
        xt::xtensor<double, 2> b = xt::zeros<double>({idx.size(), n_features});
        for (std::size_t i = 0; i < idx.size(); ++i)
            for (std::size_t j = 0; j < n_features; ++j) b(i, j) = X(idx[i], j);
        return b;
    }
    double train_step(const std::vector<std::size_t>& idx) {
        Eigen::VectorXd yb(idx.size()), wb(idx.size());
        for (std::size_t i = 0; i < idx.size(); ++i)
            yb(Eigen::Index(i)) = y[idx[i]], wb(Eigen::Index(i)) = w_fit[idx[i]];
        net.zero_grad();
        const auto out = net.forward(rows(idx), {}, nn::mode::training);
        const Eigen::VectorXd pred = Eigen::Map<const Eigen::VectorXd>(out.data(), Eigen::Index(idx.size()));
        const auto loss = nn::mse_loss(pred, yb, wb);  // Keras sample_weight semantics
        xt::xtensor<double, 2> grad = xt::zeros<double>({idx.size(), std::size_t(1)});
        for (std::size_t i = 0; i < idx.size(); ++i) grad(i, 0) = loss.grad(Eigen::Index(i));
        net.backward(grad);
        return loss.value;
    }
    std::vector<double> predict(const std::vector<std::size_t>& idx) {
        const auto out = net.predict(rows(idx));
        return {out.begin(), out.end()};
    }
    double validation_loss(const std::vector<std::size_t>& idx) {
        const auto p = predict(idx);
        double s = 0;
        for (std::size_t i = 0; i < idx.size(); ++i) s += (p[i] - y[idx[i]]) * (p[i] - y[idx[i]]);
        return s / double(idx.size());
    }
};

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 3000;
    const std::size_t folds = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 5;
    const std::uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;

    // 1. data: catalogue-style Fourier parameters of simulated RRab, standardised per feature
    ferrum::sim::rrlyrae_simulator sim{ferrum::sim::simulation_options{}};
    xt::xtensor<double, 2> X = xt::zeros<double>({n, n_features});
    std::vector<double> y(n), feh_relation(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = sim.star(i, ferrum::rr_type::rrab);
        const auto& c = s.catalogue;
        const double f[n_features] = {c.period, c.phi31(), c.A1(), c.R21(), std::log10(double(c.num_clean_epochs))};
        for (std::size_t j = 0; j < n_features; ++j) X(i, j) = f[j];
        y[i] = s.feh_true;
        feh_relation[i] = s.feh;  // the classical relation applied to the same fitted parameters
    }
    for (std::size_t j = 0; j < n_features; ++j) {
        double m = 0, v = 0;
        for (std::size_t i = 0; i < n; ++i) m += X(i, j) / double(n);
        for (std::size_t i = 0; i < n; ++i) v += (X(i, j) - m) * (X(i, j) - m) / double(n);
        for (std::size_t i = 0; i < n; ++i) X(i, j) = (X(i, j) - m) / std::sqrt(v);
    }

    // 2. density weights: rare metallicities count more (sum of weights = N)
    const std::vector<double> w = ferrum::density_weights(y);

    // 3. stratified K-fold; inside each training part, 10% held out for early stopping
    const auto splits = ferrum::train::repeated_stratified_kfold(y, folds, 1, seed);
    std::vector<double> oof(n);
    std::printf("%-6s %8s %8s %8s %8s\n", "fold", "epochs", "best", "R2", "wRMSE");
    for (const auto& f : splits) {
        mlp_task task{nn::sequential<double>{}, X, y, w};
        task.net.add(nn::dense<double>(n_features, 32, nn::activation::tanh))
            .add(nn::dense<double>(32, 16, nn::activation::tanh))
            .add(nn::dense<double>(16, 1));
        task.net.reset_parameters(seed + f.index);
        std::vector<std::size_t> train, val;
        for (std::size_t k = 0; k < f.train.size(); ++k) (k % 10 == 0 ? val : train).push_back(f.train[k]);

        nn::adam<double> adam(nn::adam_options{0.005});
        ferrum::train::trainer_options opt;
        opt.max_epochs = 300;
        opt.batch_size = 128;
        opt.patience = 20;
        opt.seed = seed;
        opt.progress = false;
        const auto hist = ferrum::train::fit(task, adam, train, val, opt);

        const auto pred = task.predict(f.test);
        std::vector<double> yt, wt;
        for (std::size_t k = 0; k < f.test.size(); ++k)
            oof[f.test[k]] = pred[k], yt.push_back(y[f.test[k]]), wt.push_back(w[f.test[k]]);
        const auto m = ferrum::evaluate_regression(yt, pred, wt);
        std::printf("%-6zu %8zu %8d %8.3f %8.3f\n", f.index + 1, hist.epochs.size(), hist.best_epoch, m.r2, m.rmse);
    }

    // 4. out-of-fold metrics against the physical [Fe/H], beside the classical relation on the same inputs
    const auto net = ferrum::evaluate_regression(y, oof, w);
    const auto rel = ferrum::evaluate_regression(y, feh_relation, w);
    std::printf("\nout-of-fold, %zu RRab, weighted by density:\n", n);
    std::printf("%-22s %8s %8s %8s %10s\n", "predictor", "R2", "wRMSE", "wMAE", "robust sd");
    std::printf("%-22s %8.3f %8.3f %8.3f %10.3f\n", "MLP (5-fold CV)", net.r2, net.rmse, net.mae, net.robust_scatter);
    std::printf("%-22s %8.3f %8.3f %8.3f %10.3f\n", "Muraveva relation", rel.r2, rel.rmse, rel.mae, rel.robust_scatter);
    return 0;
}
