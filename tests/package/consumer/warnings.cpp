// A user's translation unit under the warnings users turn on: the package test compiles it (never runs
// it) with -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wsign-conversion -Werror, with ferrum's include
// directory as a NON-system include (so every warning in ferrum's headers counts) and Eigen, xtensor and
// nlohmann/json as system headers. It instantiates the main public templates for float and double: what
// <ferrum/ferrum.hpp> alone does not instantiate is where the warnings hide.
#include <ferrum/ferrum.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace {

namespace nn = ferrum::nn;

// nn: GRU + dropout + dense, forward and backward, the losses, regularisation, Adam, save and load, fit.
template <class T>
T train_a_batch(const std::string& path) {
    nn::sequential<T> model;
    model.add(nn::gru<T>(2, 8, true)).add(nn::dropout<T>(0.1)).add(nn::gru<T>(8, 4)).add(nn::dense<T>(4, 2));
    model.reset_parameters(1);
    auto params = model.parameters();
    nn::adam<T> opt(nn::adam_options{1e-3});
    xt::xtensor<T, 3> x = xt::xtensor<T, 3>::from_shape({4, 16, 2});
    x.fill(T(0.5));
    model.zero_grad();
    const xt::xtensor<T, 2> out = model.forward(x, {}, nn::mode::training);
    const auto n = static_cast<Eigen::Index>(out.shape()[0]);
    nn::output_vector<T> mean(n), log_var(n), target(n), sigma(n), weight(n);
    for (Eigen::Index k = 0; k < n; ++k) {
        mean[k] = out(static_cast<std::size_t>(k), 0);
        log_var[k] = out(static_cast<std::size_t>(k), 1);
        target[k] = T(-1.5);
        sigma[k] = T(0.1);
        weight[k] = T(1);
    }
    const auto l = nn::robust_heteroscedastic_loss(mean, log_var, target, sigma, weight);
    const auto m = nn::mse_loss(mean, target, weight);
    const auto c = nn::cost_sensitive_gaussian_nll(mean, log_var, target, weight, T(1e-6));
    xt::xtensor<T, 2> g = xt::xtensor<T, 2>::from_shape(out.shape());
    for (Eigen::Index k = 0; k < n; ++k) {
        g(static_cast<std::size_t>(k), 0) = l.grad_mean[k];
        g(static_cast<std::size_t>(k), 1) = l.grad_log_var[k];
    }
    model.backward(g);
    nn::regularizer reg;
    reg.kernel_l2 = 1e-4;
    const T penalty = reg.apply(params);
    nn::clip_grad_norm(params, T(5));
    opt.step(params);
    nn::save_model(path, model);
    auto loaded = nn::load_sequential<T>(path);
    const auto p = loaded.predict(x);
    // the one-call fit (nn/fit.hpp) on a view of the inputs, read in place
    nn::fit_options fo;
    fo.max_epochs = 1;
    fo.batch_size = 2;
    const xt::xtensor<T, 2> targets = xt::zeros<T>({std::size_t{2}, std::size_t{2}});
    const auto history = loaded.fit(xt::view(x, xt::range(0, 2), xt::all(), xt::all()), targets, fo);

    nn::functional<T> f;
    const auto seq = f.input("curve", 2, true);
    const auto tab = f.input("features", 3);
    const auto h = f.add("gru", nn::gru<T>(2, 4), seq);
    f.add("dense", nn::dense<T>(4 + 3, 2), f.concat("both", {h, tab}));
    f.reset_parameters(2);
    xt::xtensor<T, 2> features = xt::xtensor<T, 2>::from_shape({4, 3});
    features.fill(T(1));
    const auto y = f.forward({nn::input_view<T>(x), nn::input_view<T>(features)});
    return l.value + m.value + c.value + penalty + p(0, 0) + y(0, 0) + static_cast<T>(history.best_val_loss);
}

// light curves: fold, period search, Fourier fit, splines of both kinds, resampling.
double light_curve_work(const ferrum::light_curve& lc) {
    const auto period = ferrum::find_period(lc);
    const ferrum::folded_curve folded = ferrum::phase_fold(lc, period.period, 0.0);
    const auto fourier = ferrum::fit_fourier(folded);
    const auto power = ferrum::lomb_scargle(lc);
    std::vector<double> phase(folded.phase.begin(), folded.phase.end()), mag(folded.mag.begin(), folded.mag.end());
    const std::vector<double> w(phase.size(), 1.0);
    const std::vector<float> wf(phase.size(), 1.0f);
    const auto open = ferrum::univariate_spline(phase, mag, wf, 3, 0.1);
    const auto periodic = ferrum::periodic_spline(phase, mag, w, 0.1, 1.0);
    const auto smooth = ferrum::make_smoothing_spline(phase, mag, w);
    ferrum::basic_smoothing_spline_fitter<float> fitter;
    const auto smooth_float = fitter.fit(phase, mag, wf);
    const auto grid = ferrum::uniform_phase_grid(264);
    const auto resampled = ferrum::resample(smooth, grid);
    const auto pre = ferrum::preprocess_curve(folded);
    return fourier.A0 + power.power.front() + open(0.5) + periodic(0.5) + smooth(grid).front() +
           smooth_float(grid).front() + resampled.front() + static_cast<double>(pre.mag.size());
}

// readers, the simulator, statistics, the trainer's companions, and an RR Lyrae model.
double pipeline(const std::string& epochs, const std::string& catalogue) {
    const auto photometry = ferrum::read_gaia_epoch_photometry(epochs);
    const auto cat = ferrum::read_rrlyrae_catalogue(catalogue);
    ferrum::gaia_epoch_reader reader(epochs);
    double s = 0.0;
    while (const auto lc = reader.next()) s += light_curve_work(*lc);

    const ferrum::sim::rrlyrae_simulator simulator;
    std::vector<ferrum::light_curve> curves;
    std::vector<ferrum::models::rrl_ephemeris> eph;
    std::vector<double> feh;
    for (std::uint64_t i = 0; i < 20; ++i) {
        const auto star = simulator.star(i);
        curves.push_back(star.light_curve());
        eph.push_back({star.type, star.catalogue.period, star.catalogue.epoch_g, star.catalogue.peak_to_peak, {}});
        feh.push_back(star.feh);
    }
    const auto weights = ferrum::density_weights(feh);
    const ferrum::gaussian_kde kde(feh);
    const auto folds = ferrum::train::repeated_stratified_kfold(feh, 2, 1, 0);

    const auto stars = ferrum::models::prepare_rrlyrae_inputs(curves, eph);
    ferrum::models::rrlyrae_model model;
    std::vector<std::size_t> train;
    for (std::size_t i = 0; i < stars.size(); ++i)
        if (stars[i].ok()) train.push_back(i);
    ferrum::models::rrl_training_options to;
    to.max_epochs = 1;
    model.fit(stars, feh, train, to);
    const auto pred = model.predict(stars, 4);

    ferrum::train::search_space space;
    space.log_uniform("l2", 1e-6, 1e-2);
    const auto best = ferrum::train::hyperband(space, [](const ferrum::train::hyper_config&, double r) { return r; });
    return s + static_cast<double>(photometry.curves.size() + cat.size() + folds.size()) + weights.front() +
           kde(feh).front() + pred.front().feh + best.best.score;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return 0;  // compiled by the package test, not run
    return static_cast<int>(train_a_batch<float>(argv[1]) + train_a_batch<double>(argv[1]) +
                            pipeline(argv[1], argv[2]));
}
