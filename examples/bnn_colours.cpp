// The two-stage colour model of Fallows & Sanders (2022) on simulated Gaia/2MASS/WISE photometry: 8-fold
// photometric parallaxes combined with Gaia's, then the Bayesian MLP ([Fe/H] +- MC-dropout sigma, eq. 5).
// Build: cmake --build build --target bnn_colours   Run: ./build/examples/bnn_colours  (about a minute)
#include <cstdio>
#include <vector>

#include <ferrum/models.hpp>
#include <ferrum/photometry.hpp>
#include <ferrum/sim.hpp>

int main() {
    using namespace ferrum;
    sim::giant_sim_options so;
    so.spectra = false;
    const auto sample = sim::simulate_giants(10000, so, /*seed*/ 3);
    std::vector<photometry::photometry_row> stars;  // what read_photometry_csv gives for a real table
    std::vector<double> feh, feh_error;
    for (const auto& g : sample.stars) {
        photometry::photometry_row r;
        r.source_id = g.source_id;
        r.mag = g.mag;  // G, BP, RP, J, H, Ks, W1, W2 (with extinction; RJCE removes it)
        r.parallax = g.parallax;
        r.parallax_error = g.parallax_error;
        stars.push_back(r);
        feh.push_back(g.feh);
        feh_error.push_back(g.feh_error);
    }
    const std::size_t n = 7500;
    const std::vector<photometry::photometry_row> train(stars.begin(), stars.begin() + n),
        test(stars.begin() + n, stars.end());

    models::photometric_parallax_options po;  // 8 folds, 16 colours -> M_J,pseudo
    po.training.max_epochs = 150;
    models::bnn_training_options opt;  // robust loss with label errors, W = |[Fe/H]| + 0.5
    opt.max_epochs = 150;
    models::colour_feh_model model;
    model.fit(train, {feh.begin(), feh.begin() + n}, {feh_error.begin(), feh_error.begin() + n}, po, opt);

    const auto res = model.predict(test);
    std::vector<models::giant_prediction> p;
    std::vector<double> y, e;
    for (std::size_t i = 0; i < test.size(); ++i) {
        if (!res[i].flag.empty()) continue;  // e.g. a missing band
        p.push_back(res[i].feh);
        y.push_back(feh[n + i]);
        e.push_back(feh_error[n + i]);
    }
    const auto c = models::calibration(y, p, e);  // residual vs sqrt(sigma^2 + label error^2)
    std::printf("test stars %zu: rms %.3f dex, bias %+.3f; within 1 sigma %.3f, 2 sigma %.3f\n", c.n, c.rms, c.bias,
                c.within_1sigma, c.within_2sigma);
    std::printf("\n  [Fe/H] +- sigma (dropout, model)   parallax: Gaia -> combined (mas)\n");
    for (std::size_t k = 0; k < 6; ++k) {
        const auto& r = res[k * 400];
        std::printf("  %+.2f +- %.2f (%.2f, %.2f)      %.3f +- %.3f -> %.3f +- %.3f\n", r.feh.value, r.feh.sigma,
                    r.feh.sigma_dropout, r.feh.sigma_model, test[k * 400].parallax, test[k * 400].parallax_error,
                    r.parallax.parallax.value, r.parallax.parallax.error);
    }
    model.save("colour_model.json");
    std::printf("\nwrote colour_model.json\n");
}
