// The classical photometric [Fe/H] relations of RR Lyrae: Muraveva et al. (2025, Gaia DR3 G band), [Fe/H]
// from the period, phi31 (cosine convention) and, for RRc, A2. The simulator labels its stars with them, the
// models use them as a baseline and as features; they live here so that neither depends on the other.
#pragma once

#include <string>

#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"

namespace ferrum::relations {

/// \brief Muraveva et al. (2025) photometric [Fe/H] of an RRab from the Gaia G period (d) and phi31
/// (rad, cosine convention): [Fe/H] = -0.37 - 5.55 P + 0.94 phi31.
constexpr double feh_muraveva2025_rrab(double period, double phi31) noexcept {
    return -0.37 - 5.55 * period + 0.94 * phi31;
}
/// \brief Muraveva et al. (2025) [Fe/H] of an RRc: 0.80 - 8.54 P + 0.23 phi31 - 9.34 A2 (A2 in mag).
constexpr double feh_muraveva2025_rrc(double period, double phi31, double a2) noexcept {
    return 0.80 - 8.54 * period + 0.23 * phi31 - 9.34 * a2;
}
/// \brief The relation of the type; throws value_error for RRd and unknown types, which have none.
constexpr double feh_muraveva2025(rr_type type, double period, double phi31, double a2) {
    if (type == rr_type::rrab) return feh_muraveva2025_rrab(period, phi31);
    if (type == rr_type::rrc) return feh_muraveva2025_rrc(period, phi31, a2);
    throw value_error(std::string("Muraveva et al. (2025) give [Fe/H] relations for RRab and RRc only, not ") +
                      to_string(type));
}

}  // namespace ferrum::relations
