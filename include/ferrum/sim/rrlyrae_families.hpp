// Named conventions ("families") of the RR Lyrae simulator: each one a different guess at what we cannot
// know about real Gaia curves and catalogue labels (noise tails, harmonics above the third, cadence,
// Blazhko incidence, how the label's Fourier fit is made). Training on some families and testing on a
// held-out one (leave-one-family-out) measures how much a model leans on our own simulator's habits.
#pragma once

#include <string>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/sim/rrlyrae.hpp"

namespace ferrum::sim {

/// \brief The names of the families that need nothing but the library (their RRab and RRc shapes are drawn
/// from the LMC distribution), the default (`ferrum`) first.
inline std::vector<std::string> family_names() { return {"ferrum", "bic", "heavy", "dense", "spectro"}; }

/// \brief The families whose stars come from a table of real stars the user provides (family_options() gives
/// their knobs, without the stars): `field` (sim/rrlyrae_field.hpp: field_family_options()).
inline std::vector<std::string> data_family_names() { return {"field"}; }

/// \brief The simulation options of a named family (seed 0; set the seed and any other option after):
/// * `ferrum`: today's defaults;
/// * `bic`: labels from a weighted fit of BIC-chosen order 3-6, log-normal excess noise, Blazhko in 40 %
///   of RRab and 10 % of RRc, harmonics above the third x1.5 with 0.3 rad of extra phase scatter;
/// * `heavy`: Student-t (nu = 3) excess noise, unweighted fixed-order labels, median 35 epochs, 8 %
///   rejected epochs, harmonics above the third x0.7;
/// * `dense`: uniform cadence, median 80 epochs, unweighted BIC 3-6 labels, Blazhko 30 % / 5 %;
/// * `spectro`: `bic` with 0.2 dex of intrinsic [Fe/H] scatter at fixed light-curve shape;
/// * `field`: RRab only, shapes resampled from real Galactic field RRab and feh_true their spectroscopic
///   [Fe/H] (rrab_population::field), G 12-17.5 (spectroscopic targets are bright) with the same slope;
///   noise, cadence, Blazhko, harmonics above the third and labels as `ferrum`. The stars themselves are not
///   set here (field_stars is empty and the options do not validate): field_family_options() in
///   sim/rrlyrae_field.hpp reads them from a table.
/// \throws value_error for another name, listing the known ones.
inline simulation_options family_options(const std::string& name) {
    simulation_options o;
    o.family = name;
    const auto bic_labels = [&o](bool weighted) {
        o.label_fit_order = fit_order_rule::bic;
        o.bic_min_order = 3;
        o.bic_max_order = 6;
        o.label_fit_weighted = weighted;
    };
    if (name == "ferrum") return o;
    if (name == "bic" || name == "spectro") {
        bic_labels(true);
        o.noise_model = noise_kind::lognormal;
        o.blazhko_fraction_rrab = 0.4;
        o.blazhko_fraction_rrc = 0.1;
        o.high_harmonics_scale = 1.5;
        o.high_harmonics_phase_sd = 0.3;
        if (name == "spectro") o.feh_intrinsic_scatter = 0.2;
        return o;
    }
    if (name == "heavy") {
        o.noise_model = noise_kind::student_t;
        o.label_fit_weighted = false;
        o.epochs_median = 35;
        o.rejected_fraction = 0.08;
        o.high_harmonics_scale = 0.7;
        return o;
    }
    if (name == "dense") {
        bic_labels(false);
        o.cadence = cadence_kind::uniform;
        o.epochs_median = 80;
        o.blazhko_fraction_rrab = 0.3;
        o.blazhko_fraction_rrc = 0.05;
        return o;
    }
    if (name == "field") {
        o.population = rrab_population::field;
        o.rrab_fraction = 1.0;
        o.g_min = 12.0;
        o.g_max = 17.5;
        return o;
    }
    std::string known;
    for (const auto& n : family_names()) known += (known.empty() ? "" : ", ") + n;
    for (const auto& n : data_family_names()) known += ", " + n;
    throw value_error("unknown simulator family '" + name + "' (known: " + known + ")");
}

}  // namespace ferrum::sim
