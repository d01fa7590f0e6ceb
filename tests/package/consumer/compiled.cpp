// The same user's program against the precompiled library (ferrum::ferrum_compiled): it calls templates that
// the library holds, so it proves that the headers declare them `extern template` here (the package test also
// checks that this object file leaves fit_fourier<void> undefined) and that the library provides them.
#include <ferrum/lightcurve/fourier.hpp>
#include <ferrum/models/rrlyrae_model.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

#if !defined(FERRUM_EXTERN_TEMPLATES) || !defined(FERRUM_TEMPLATE_INSTANCE)
#  error "linking ferrum::ferrum_compiled must define FERRUM_EXTERN_TEMPLATES (core/config.hpp)"
#endif

int main() {
    // a noiseless two-harmonic curve: the fit must give back its amplitudes (an analytic oracle)
    std::vector<double> phase, mag, err;
    const double two_pi = 6.283185307179586;
    for (int i = 0; i < 60; ++i) {
        const double p = (i + 0.37) / 60.0;
        phase.push_back(p);
        mag.push_back(15.0 + 0.3 * std::cos(two_pi * p + 1.0) + 0.1 * std::cos(2 * two_pi * p + 2.0));
        err.push_back(0.01);
    }
    ferrum::fourier_options opt;
    opt.order = 2;
    opt.min_order = 1;
    const auto fit = ferrum::fit_fourier(phase, mag, err, opt);
    const bool ok_fit = fit.amplitude.size() == 2 && std::fabs(fit.A0 - 15.0) < 1e-9 &&
                        std::fabs(fit.amplitude[0] - 0.3) < 1e-9 && std::fabs(fit.amplitude[1] - 0.1) < 1e-9;
    ferrum::models::rrlyrae_model model;  // builds the default network (a member the library holds)
    const bool ok_model = !model.trained() && model.num_parameters() > 0;
    std::printf("precompiled: fit_fourier A1 %.6f A2 %.6f; untrained model with %zu parameters\n",
                fit.amplitude.empty() ? 0.0 : fit.amplitude[0], fit.amplitude.size() > 1 ? fit.amplitude[1] : 0.0,
                model.num_parameters());
    return ok_fit && ok_model ? 0 : 1;
}
