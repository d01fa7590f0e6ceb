// Simulate Gaia DR3-like RR Lyrae with known [Fe/H]: look at one star, then write a training set in the
// archive's formats (epoch photometry, vari_rrlyrae, labels). Usage: simulate_rrlyrae [out_dir] [n_rrab] [n_rrc]
#include <ferrum/sim.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    namespace sim = ferrum::sim;
    const std::string dir = argc > 1 ? argv[1] : "simulated_rrlyrae";
    const std::size_t n_rrab = argc > 2 ? std::stoul(argv[2]) : 2000;
    const std::size_t n_rrc = argc > 3 ? std::stoul(argv[3]) : 1000;

    sim::simulation_options options;
    options.seed = 7;         // same seed, same stars, whatever the thread count
    options.min_epochs = 50;  // the Monti et al. (2025) selection: at least 50 G epochs
    const sim::rrlyrae_simulator simulator(options);

    const auto star = simulator.star(0, sim::rr_type::rrab);
    std::printf("source_id %lld  %s  P = %.5f d  <G> = %.2f  %zu epochs\n", static_cast<long long>(star.source_id),
                ferrum::to_string(star.type), star.truth.period, star.truth.mean_mag, star.epochs.size());
    std::printf("            true      catalogue fit\n");
    std::printf("A2       %8.4f   %8.4f\n", star.truth.A2(), star.catalogue.A2());
    std::printf("R21      %8.4f   %8.4f\n", star.truth.R21(), star.catalogue.R21());
    std::printf("phi31    %8.4f   %8.4f\n", star.truth.phi31(), star.catalogue.phi31());
    std::printf("[Fe/H]   %8.3f   %8.3f  (+- %.2f quoted)\n", star.feh_true, star.feh, star.feh_error);
    std::printf("Blazhko: %s\n\n", star.truth.blazhko.active() ? "yes" : "no");

    // the clean epochs, ready for ferrum's lightcurve/ pipeline
    const ferrum::light_curve lc = star.light_curve();
    std::printf("first epoch: t = %.5f  G = %.4f +- %.4f\n\n", lc.time[0], lc.mag[0], lc.mag_err[0]);

    const auto set = sim::write_gaia_like_set(dir, n_rrab, n_rrc, options);
    std::printf("wrote %zu stars, %zu epochs:\n  %s\n  %s\n  %s\n", set.stars, set.epochs,
                set.epoch_photometry.string().c_str(), set.vari_rrlyrae.string().c_str(), set.labels.string().c_str());
}
