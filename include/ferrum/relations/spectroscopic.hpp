// A spectroscopic-scale [Fe/H] relation of Gaia G-band RR Lyrae: RRab [Fe/H] on the LAMOST low-resolution
// scale from the Gaia DR3 period, phi31 (cosine convention) and the Fourier amplitudes A1, A2, with its
// intrinsic scatter, for labelling simulated stars with [Fe/H] closer to a spectroscopic truth than the
// photometric relation of Muraveva et al. (2025) (relations/classical.hpp). Data only: the coefficients are
// rebuilt from the shared table by tools/fit_lamost_relation.sh (docs/relations.md, "Spectroscopic scale").
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/relations/classical.hpp"

namespace ferrum::relations {

/// \brief Coefficients of the LAMOST-scale RRab relation (feh_lamost_g_rrab), intercept first:
/// [Fe/H] = c[0] + c[1] P + c[2] phi31 + c[3] A1 + c[4] A2, with P in days, phi31 in rad (Gaia SOS cosine
/// convention, RRab ~ 2 rad) and A1, A2 the first two Fourier amplitudes of the G light curve in mag.
///
/// Source: the 2,184 RRab of Liu et al. (2020, ApJS 247, 68) with LAMOST low-resolution [Fe/H] (-2.95 to
/// -0.10, median -1.6) and Gaia DR3 vari_rrlyrae parameters (../shared/data/liu2020_lamost_gaiadr3_rrl/
/// rrl_params_lamost.csv; no row lacked a parameter). Fitted by ferrum's maximum likelihood (fit_linear_relation,
/// Laplace) with the LAMOST [Fe/H] errors, the Gaia errors of all four features (errors-in-variables term) and
/// an intrinsic scatter; features chosen by forward selection under 5-fold x 10 CV (A3 and phi21 improve the CV
/// RMSE by < 0.001 dex and were left out). 5-fold x 10 CV RMSE against LAMOST: 0.326 dex, against 0.340 for a
/// refit on (P, phi31) and 0.377 for Muraveva et al. (2025).
///
/// Scale caveat: LAMOST low-resolution [Fe/H] lie about 0.1 dex below the high-resolution scales
/// (../shared/data/README.md); this relation reproduces the LAMOST scale, offset included. The sample covers RRab
/// only, with P 0.36-0.93 d and phi31 1.07-3.25 rad (99% of the stars); outside that range it extrapolates.
/// The phi31 errors are not small against its spread: the errors-in-variables term undoes regression dilution
/// only in part, so on noise-free (simulated) features the slopes may be somewhat too shallow.
inline constexpr std::array<double, 5> lamost_g_rrab_coefficients{
    -0.09926279753880002, -3.52434574943827, 0.42159771793914613, -3.1063177314447263, 3.828192432419578};
/// \brief Posterior (Laplace) standard deviations of lamost_g_rrab_coefficients, same order.
inline constexpr std::array<double, 5> lamost_g_rrab_coefficient_sd{
    0.11461435136632202, 0.13208051996093179, 0.026552549841159786, 0.23732238845518405, 0.3755466175921263};
/// \brief Intrinsic scatter (dex) of the LAMOST [Fe/H] of RRab about feh_lamost_g_rrab, beyond the LAMOST
/// errors and the propagated Gaia feature errors: the scatter to draw "true" [Fe/H] around the relation.
inline constexpr double lamost_g_rrab_sigma_int = 0.2859472597098965;
/// \brief Posterior standard deviation of lamost_g_rrab_sigma_int (dex).
inline constexpr double lamost_g_rrab_sigma_int_sd = 0.005771702505659969;
/// \brief Number of RRab the relation was fitted on.
inline constexpr std::size_t lamost_g_rrab_n_stars = 2184;

/// \brief LAMOST-scale [Fe/H] of an RRab from its Gaia G period (d), phi31 (rad, cosine convention) and
/// Fourier amplitudes A1, A2 (mag): lamost_g_rrab_coefficients; scatter lamost_g_rrab_sigma_int.
constexpr double feh_lamost_g_rrab(double period, double phi31, double a1, double a2) noexcept {
    const auto& c = lamost_g_rrab_coefficients;
    return c[0] + c[1] * period + c[2] * phi31 + c[3] * a1 + c[4] * a2;
}

/// \brief Spectroscopic-scale [Fe/H] of a Gaia G-band RR Lyrae, same conventions as feh_muraveva2025: period
/// in days, phi31 in rad (cosine convention), amplitudes in mag. RRab: feh_lamost_g_rrab (LAMOST scale; a3 is
/// not used: it did not improve the cross-validated fit). RRc: LAMOST here has no RRc, so this returns the
/// photometric Muraveva et al. (2025) RRc relation (feh_muraveva2025_rrc, on a2) unchanged -- a different
/// scale from the RRab values. Throws value_error for RRd and unknown types, which have no relation.
constexpr double feh_lamost_g(rr_type type, double period, double phi31, double a1, double a2, double a3) {
    (void)a3;
    if (type == rr_type::rrab) return feh_lamost_g_rrab(period, phi31, a1, a2);
    if (type == rr_type::rrc) return feh_muraveva2025_rrc(period, phi31, a2);
    throw value_error(std::string("the spectroscopic [Fe/H] relation covers RRab (LAMOST) and RRc (Muraveva et "
                                  "al. 2025) only, not ") +
                      to_string(type));
}

}  // namespace ferrum::relations
