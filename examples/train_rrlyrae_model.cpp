// Trains an RR Lyrae [Fe/H] model on simulated Gaia-like RRab stars with known [Fe/H], predicts held-out
// stars with MC-dropout sigma, saves the model, reloads it (the file re-checks its own test vectors) and
// predicts one new light curve from its epochs, period and epoch. docs/rrlyrae.md, "From C++", walks
// through the same steps. Usage: train_rrlyrae_model [n_stars] [max_epochs] [model.json]
#include <ferrum/core/error.hpp>
#include <ferrum/models/rrlyrae_model.hpp>
#include <ferrum/sim/rrlyrae.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace fm = ferrum::models;

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 2000;
    const int max_epochs = argc > 2 ? std::stoi(argv[2]) : 40;
    const std::string path = argc > 3 ? argv[3] : "rrlyrae_model.json";
    try {
        // 1. light curves with known [Fe/H]: the simulator's clean epochs and catalogue ephemerides
        ferrum::sim::simulation_options so;
        so.seed = 7;
        const ferrum::sim::rrlyrae_simulator simulator(so);
        std::vector<ferrum::light_curve> curves;
        std::vector<fm::rrl_ephemeris> ephemerides;
        std::vector<double> feh;
        for (std::size_t i = 0; i < n; ++i) {
            const auto star = simulator.star(i, ferrum::rr_type::rrab);
            curves.push_back(star.light_curve());
            ephemerides.push_back({star.type, star.catalogue.period, star.catalogue.epoch_g, 0.0, ""});
            feh.push_back(star.feh);
        }

        // 2. prepare: fold, smooth, resample, Fourier features (every core; flagged stars keep their row)
        fm::rrl_model_options model_options;  // GRU + Fourier features, heteroscedastic head, RRab
        const auto stars = fm::prepare_rrlyrae_inputs(curves, ephemerides, model_options.input);

        // 3. fit on the first 80 % (flagged stars are left out), predict the rest with 20 MC-dropout passes
        const std::size_t n_train = n * 4 / 5;
        const std::vector<fm::rrl_star_input> train(stars.begin(), stars.begin() + std::ptrdiff_t(n_train)),
            test(stars.begin() + std::ptrdiff_t(n_train), stars.end());
        fm::rrl_training_options training;
        training.max_epochs = max_epochs;
        fm::rrlyrae_model model(model_options);
        model.fit(train, std::vector<double>(feh.begin(), feh.begin() + std::ptrdiff_t(n_train)), training);
        const auto predictions = model.predict(test, /*mc_samples=*/20);
        double sum2 = 0, sigma = 0;
        std::size_t m = 0;
        for (std::size_t i = 0; i < test.size(); ++i)
            if (predictions[i].ok()) {
                const double r = predictions[i].feh - feh[n_train + i];
                sum2 += r * r;
                sigma += predictions[i].sigma;
                ++m;
            }
        std::printf("held-out stars: %zu predicted of %zu, rmse %.3f dex, mean sigma %.3f dex\n", m, test.size(),
                    std::sqrt(sum2 / double(m)), sigma / double(m));

        // 4. save and reload; the reloaded model predicts the same numbers
        model.save(path);
        const auto loaded = fm::rrlyrae_model::load(path);
        const auto again = loaded.predict(test, 20);
        bool same = true;
        for (std::size_t i = 0; i < test.size(); ++i)
            same = same &&
                   (!again[i].ok() || (again[i].feh == predictions[i].feh && again[i].sigma == predictions[i].sigma));
        std::printf("saved %s; the reloaded model agrees: %s\n", path.c_str(), same ? "yes" : "no");

        // 5. one new star from its epochs (days, mag, mag errors), period and epoch of maximum
        const ferrum::light_curve lc = curves.back();
        const auto input = fm::prepare_rrlyrae_input(lc.time, lc.mag, lc.mag_err, ephemerides.back().period,
                                                     ephemerides.back().epoch, ferrum::rr_type::rrab,
                                                     loaded.options().input);
        const auto p = loaded.predict({input}, 20).front();
        if (p.ok()) std::printf("new star: [Fe/H] = %.2f +- %.2f (label %.2f)\n", p.feh, p.sigma, feh.back());
        else std::printf("new star: no prediction (%s)\n", p.flag.c_str());
        return same ? 0 : 1;
    } catch (const ferrum::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
