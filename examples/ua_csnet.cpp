// UA-CSNet on simulated Gaia XP spectra: simulate giants with known [Fe/H], resample their sampled spectra to
// 60 pixels scaled at 550 nm, train with the cost-sensitive Gaussian NLL, and check the predicted sigmas.
// Build: cmake --build build --target ua_csnet   Run: ./build/examples/ua_csnet  (about half a minute)
#include <cstdio>
#include <vector>

#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>
#include <ferrum/spectra.hpp>

int main() {
    using namespace ferrum;
    const auto sample = sim::simulate_giants(10000, {}, /*seed*/ 7);
    std::vector<spectra::xp_pixels> x;
    std::vector<double> feh, bp_rp0, feh_true;
    for (const auto& g : sample.stars) {
        x.push_back(spectra::resample_xp(sample.wavelength, g.xp_flux, g.xp_flux_error));
        feh.push_back(g.feh);  // noisy labels, as a spectroscopic survey gives them
        bp_rp0.push_back(g.bp_rp0);
        feh_true.push_back(g.feh_true);
    }
    std::vector<std::size_t> train, test;
    for (std::size_t i = 0; i < x.size(); ++i) (i < 7500 ? train : test).push_back(i);

    models::ua_csnet net;                   // FC 256-64-16-8-1, errors -> 16, concat -> 8 -> ln sigma^2
    models::ua_csnet_training_options opt;  // eq. 11 costs, epsilon 0.02, L2 1e-5, batch 512, lr 1e-3
    opt.max_epochs = 150;
    const auto history = net.fit(x, feh, bp_rp0, train, opt);
    const auto pred = net.predict(x);

    const auto c = models::calibration(feh, pred, {}, test);
    std::printf("best epoch %d; test stars %zu: rms %.3f dex, bias %+.3f, median sigma %.3f\n", history.best_epoch, c.n,
                c.rms, c.bias, c.median_sigma);
    std::printf("|residual| < 1 sigma: %.3f (Gaussian 0.683)   < 2 sigma: %.3f (0.954)\n", c.within_1sigma,
                c.within_2sigma);
    std::printf("\n  true [Fe/H]   label   predicted +- sigma\n");
    for (std::size_t k = 0; k < 8; ++k) {
        const auto i = test[k * 300];
        std::printf("  %+10.2f  %+7.2f   %+7.2f +- %.2f\n", feh_true[i], feh[i], pred[i].value, pred[i].sigma);
    }
    net.save("ua_csnet_model.json");  // a "ferrum.model" file (kind "ua_csnet") with raw-spectrum self-tests
    std::printf("\nwrote ua_csnet_model.json\n");
}
