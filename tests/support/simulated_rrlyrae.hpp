// Test helper: n simulated Gaia-like RR Lyrae of one type (sim/, seeded) as the RR Lyrae model tests use
// them: the G light curves, the catalogue ephemerides a model reads, and the labels with their errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

namespace ferrum_test {

struct simulated_rrlyrae {
    std::vector<ferrum::light_curve> curves;
    std::vector<ferrum::models::rrl_ephemeris> eph;
    std::vector<double> feh, feh_true, feh_error;  ///< the label, the truth behind it and the label's error
};

/// Stars 0..n-1 of type `type` from a simulator seeded with `seed`, each with at least `min_epochs` epochs.
inline simulated_rrlyrae simulate_rrlyrae(std::size_t n, ferrum::rr_type type, std::uint64_t seed,
                                          int min_epochs = 50) {
    ferrum::sim::simulation_options o;
    o.seed = seed;
    o.min_epochs = min_epochs;
    const ferrum::sim::rrlyrae_simulator s(o);
    simulated_rrlyrae out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto star = s.star(i, type);
        out.curves.push_back(star.light_curve());
        out.eph.push_back({type, star.catalogue.period, star.catalogue.epoch_g, star.catalogue.peak_to_peak, {}});
        out.feh.push_back(star.feh);
        out.feh_true.push_back(star.feh_true);
        out.feh_error.push_back(star.feh_error);
    }
    return out;
}

}  // namespace ferrum_test
