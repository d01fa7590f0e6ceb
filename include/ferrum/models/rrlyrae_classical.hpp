// One [Fe/H] prediction of an RR Lyrae star (a number with its sigma, or the flag saying why not), and the
// classical pipeline that makes one without a network: Fourier fit -> phi31, A2 -> the relation of
// Muraveva et al. (2025).
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/models/rrlyrae_inputs.hpp"
#include "ferrum/relations/classical.hpp"

namespace ferrum::models {

/// \brief One prediction: [Fe/H] with its MC-dropout sigma, or a flag and no number.
struct rrl_prediction {
    double feh = std::numeric_limits<double>::quiet_NaN();
    double sigma = std::numeric_limits<double>::quiet_NaN();
    std::string flag;  ///< empty when predicted
    /// A number that comes with a caution (empty: none): "outside_training_domain: ..." when an input
    /// feature lies beyond the range the model was trained on. Written in the flag column beside the number.
    std::string warning;
    bool ok() const noexcept { return flag.empty(); }
    /// What the flag column of an output shows: the flag (no number) or the warning (with a number).
    const std::string& flag_column() const noexcept { return flag.empty() ? warning : flag; }
};

/// \brief The classical pipeline: weighted Fourier fit of the catalogue's order (4 RRab, 3 RRc) -> phi31,
/// A2 -> Muraveva et al. (2025) relation of the type, with the sigma propagated from the fit's phi31/A2
/// covariance and the relation's coefficient errors (relations::feh_muraveva2025_sigma). Needs the period;
/// flags stars without one.
inline std::vector<rrl_prediction> classical_feh(const std::vector<rrl_star_input>& stars) {
    std::vector<rrl_prediction> out(stars.size());
    for (std::size_t i = 0; i < stars.size(); ++i) {
        const auto& s = stars[i];
        if (!s.ok()) {
            out[i].flag = s.flag;
        } else if (!(s.period > 0)) {
            out[i].flag = "no_period: the relation needs the period";
        } else {
            out[i].feh = relations::feh_muraveva2025(s.type, s.period, s.phi31_catalogue, s.a2_catalogue);
            relations::relation_inputs x;
            x.period = s.period;
            x.phi31 = s.phi31_catalogue;
            x.a2 = s.a2_catalogue;
            x.sigma_phi31 = s.phi31_catalogue_sigma;
            x.sigma_a2 = s.a2_catalogue_sigma;
            x.cov_phi31_a2 = s.cov_phi31_a2_catalogue;
            out[i].sigma = relations::feh_muraveva2025_sigma(s.type, x);
        }
    }
    return out;
}

}  // namespace ferrum::models
