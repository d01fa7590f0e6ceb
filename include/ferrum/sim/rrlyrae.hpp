// A Gaia DR3-like RR Lyrae light-curve simulator with known [Fe/H] labels: Fourier parameters from the
// LMC Gaia DR3 distribution, Gaia cadence and noise, a catalogue-style Fourier refit, and labels from the
// Muraveva et al. (2025, MNRAS 536, 2749) relations that the Monti et al. (2025) GRU was trained on.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/gzip.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/lightcurve/fourier.hpp"
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/relations/classical.hpp"
#include "ferrum/relations/spectroscopic.hpp"
#include "ferrum/sim/detail/csv_format.hpp"
#include "ferrum/sim/detail/fourier_series.hpp"
#include "ferrum/sim/detail/gaia_cadence.hpp"
#include "ferrum/sim/detail/gaia_noise.hpp"
#include "ferrum/sim/detail/random.hpp"
#include "ferrum/sim/detail/rrlyrae_params.hpp"
#include "ferrum/stats/detail/special_functions.hpp"

namespace ferrum::sim {

/// The pulsation types are lightcurve/'s (Gaia's best_classification); the simulator makes RRab and RRc.
using ferrum::rr_type;

using ferrum::relations::feh_muraveva2025;

/// \brief A light curve as a cosine series, m(t) = mean_mag + sum_k A_k cos(2 pi k t / P + phi_k), with t
/// in BJD(TCB) - 2455197.5 (the archive's time) and the Gaia SOS conventions for R_k1 and phi_k1.
struct fourier_parameters {
    double period = 0.0;            ///< days
    double mean_mag = 0.0;          ///< A0 (G mag)
    std::vector<double> amplitude;  ///< A_1..A_K (mag), index k - 1
    std::vector<double> phase;      ///< phi_1..phi_K (rad, in [0, 2 pi)) at t = 0

    int order() const noexcept { return static_cast<int>(amplitude.size()); }
    double A(int k) const { return amplitude.at(static_cast<std::size_t>(k - 1)); }
    /// R_k1 = A_k / A_1.
    double R(int k) const { return A(k) / A(1); }
    /// phi_k1 = phi_k - k phi_1 in [0, 2 pi).
    double phi(int k) const { return ferrum::wrap_two_pi(phase.at(static_cast<std::size_t>(k - 1)) - k * phase.at(0)); }
    double A1() const { return A(1); }
    double A2() const { return A(2); }
    double A3() const { return A(3); }
    double R21() const { return R(2); }
    double R31() const { return R(3); }
    double phi21() const { return phi(2); }
    double phi31() const { return phi(3); }

    /// Magnitude of the (unmodulated) series at time t.
    double magnitude(double t) const { return detail::series_evaluator(series())(ferrum::two_pi * t / period); }

    detail::cosine_series series() const { return {mean_mag, amplitude, phase}; }
};

/// \brief Blazhko modulation: every A_k scaled by 1 + amplitude sin(2 pi t / period + amplitude_phase0) and
/// the pulsation phase shifted by phase sin(2 pi t / period + phase_phase0) (rad).
struct blazhko_modulation {
    double period = 0.0;  ///< days; 0 means no Blazhko effect
    double amplitude = 0.0;
    double phase = 0.0;
    double amplitude_phase0 = 0.0;
    double phase_phase0 = 0.0;

    bool active() const noexcept { return period > 0.0; }
};

/// \brief The largest period (d) and Fourier amplitude (mag) a field_rrab may have, read or jittered: 2, far
/// above any RR Lyrae's, so that an absurd row cannot hand the simulator a curve it cannot sample.
inline constexpr double field_rrab_max_value = 2.0;

/// \brief One real Galactic field RRab of a population table (sim/rrlyrae_field.hpp reads one): its Gaia DR3
/// vari_rrlyrae parameters (cosine convention) with their errors, and its spectroscopic [Fe/H] with error.
struct field_rrab {
    std::int64_t source_id = 0;
    double period = 0.0, period_error = 0.0;  ///< pf (d)
    double phi21 = 0.0, phi21_error = 0.0;    ///< rad
    double phi31 = 0.0, phi31_error = 0.0;    ///< rad
    double A1 = 0.0, A1_error = 0.0;          ///< mag
    double A2 = 0.0, A2_error = 0.0;          ///< mag
    double A3 = 0.0, A3_error = 0.0;          ///< mag
    double feh = 0.0, feh_error = 0.0;        ///< spectroscopic [Fe/H] (dex)
};

/// \brief The true star: its pulsation, modulation and the derived amplitude.
struct rrlyrae_truth : fourier_parameters {
    rr_type type = rr_type::rrab;
    blazhko_modulation blazhko;
    double peak_to_peak = 0.0;    ///< of the unmodulated curve (mag)
    double intensity_mean = 0.0;  ///< intensity-averaged G of the unmodulated curve
    /// rrab_population::field only: the real star whose parameters (jittered) this one has.
    std::optional<field_rrab> parent;

    /// The true G magnitude at time t, Blazhko modulation included.
    double modulated_magnitude(double t) const {
        const detail::series_evaluator f(series());
        return modulated(f, t);
    }
    double modulated(const detail::series_evaluator& f, double t) const noexcept {
        double theta = ferrum::two_pi * t / period, scale = 1.0;
        if (blazhko.active()) {
            const double psi = ferrum::two_pi * t / blazhko.period;
            scale += blazhko.amplitude * std::sin(psi + blazhko.amplitude_phase0);
            theta += blazhko.phase * std::sin(psi + blazhko.phase_phase0);
        }
        return mean_mag + scale * f.variation(theta);
    }
};

/// \brief One G transit as the archive lists it (magnitude error is the formal one: 1.0857 / flux_over_error).
struct gaia_epoch {
    std::int64_t transit_id = 0;
    double time = 0.0;  ///< BJD(TCB) - 2455197.5
    double mag = 0.0;
    double mag_error = 0.0;
    bool rejected_by_variability = false;
};

/// \brief What a catalogue pipeline derives from the clean epochs: a weighted Fourier fit at the (known)
/// period, and the vari_rrlyrae quantities of the fitted model.
struct catalogue_parameters : fourier_parameters {
    double epoch_g = 0.0;       ///< time of maximum light, first one after the DR3 start (BJD - 2455197.5)
    int num_clean_epochs = 0;   ///< epochs not rejected_by_variability
    double peak_to_peak = 0.0;  ///< of the fitted model (mag)
    double int_average = 0.0;   ///< intensity-averaged G of the fitted model
};

/// \brief One simulated RR Lyrae: truth, epochs, catalogue entry and the two labels.
struct simulated_rrlyrae {
    std::int64_t source_id = 0;
    rr_type type = rr_type::rrab;
    rrlyrae_truth truth;
    std::vector<gaia_epoch> epochs;  ///< in time order, rejected ones included
    catalogue_parameters catalogue;
    double feh_true = 0.0;   ///< the relation on the true P, phi31, A2 (the physics), plus N(0, feh_intrinsic_scatter)
    double feh = 0.0;        ///< the relation on the catalogue's P, phi31, A2 (what a survey label is)
    double feh_error = 0.0;  ///< quoted label uncertainty, uniform in (0.2, 0.4]
    std::string family;      ///< simulation_options::family of the simulator that made it

    /// The clean (or all) epochs as a ferrum::light_curve for the lightcurve/ pipeline.
    ferrum::light_curve light_curve(bool include_rejected = false) const {
        ferrum::light_curve lc;
        lc.source_id = source_id;
        lc.band = "G";
        for (const auto& e : epochs) {
            if (e.rejected_by_variability && !include_rejected) continue;
            lc.time.push_back(e.time);
            lc.mag.push_back(e.mag);
            lc.mag_err.push_back(e.mag_error);
        }
        return lc;
    }
};

/// \brief How the per-epoch excess scatter (beyond the formal errors) is made.
enum class noise_kind {
    /// Per-star scatter drawn by rank from the residual-RMS table of real curves (Blazhko stars from its
    /// upper tail), formal errors and the Blazhko term removed in quadrature; Gaussian per epoch.
    table,
    /// Per-star excess RMS = the table's median at the star's G times exp(0.5 z), z ~ N(0, 1), whatever
    /// the Blazhko state; Gaussian per epoch.
    lognormal,
    /// The table's per-star scatter, but each epoch's excess noise Student-t with 3 degrees of freedom
    /// rescaled to the same RMS: heavy tails.
    student_t,
};

/// \brief When the G transits fall.
enum class cadence_kind {
    gaia,     ///< visits of paired transits separated by gaps of weeks (detail/gaia_cadence.hpp)
    uniform,  ///< independent times uniform over the DR3 baseline
};

/// \brief How the order of the catalogue-style Fourier refit (the labels' fit) is chosen.
/// \brief The relation that makes the true [Fe/H] from the true light-curve parameters.
enum class truth_relation {
    muraveva2025,  ///< Muraveva et al. (2025), the photometric scale of the catalogue-style labels (default)
    lamost,        ///< relations::feh_lamost_g: RRab on LAMOST's spectroscopic scale (RRc: Muraveva et al. 2025)
};

/// \brief Where the RRab light-curve shapes (P, A1, R21, R31, phi21, phi31) come from.
enum class rrab_population {
    lmc,    ///< the Gaussian fitted to the LMC Gaia DR3 table (detail/rrlyrae_params.hpp): every family but `field`
    /// resampled real Galactic field RRab (simulation_options::field_stars), each parameter jittered by
    /// field_jitter times its catalogue error; feh_true is the parent star's spectroscopic [Fe/H]. RRab only.
    field,
};

enum class fit_order_rule {
    fixed,  ///< fit_order_rrab / fit_order_rrc
    bic,    ///< per star, the order in [bic_min_order, bic_max_order] with the smallest BIC
};

/// \brief Knobs of the simulator. The defaults give an all-sky Gaia DR3-like population (the `ferrum`
/// family of rrlyrae_families.hpp); the options from `noise_model` on vary what another simulator may do
/// differently, and at their defaults they change no draw.
struct simulation_options {
    std::uint64_t seed = 0;
    /// Probability that star(i) (without a type) is an RRab: DR3 has 174,947 RRab and 93,952 RRc.
    double rrab_fraction = 174947.0 / (174947.0 + 93952.0);
    /// Mean G drawn on [g_min, g_max] with density proportional to 10^(g_slope G) (0: uniform).
    double g_min = 13.0, g_max = 20.5, g_slope = 0.2;
    /// Number of G transits: log-normal (median, width in ln), truncated to [min_epochs, max_epochs]. At
    /// least min_epochs of them are clean (the rejected_by_variability flags never leave fewer), so a model
    /// whose min_epochs (it counts clean epochs) is no larger flags none of the simulated stars too_few_epochs.
    double epochs_median = 44.0, epochs_sigma_ln = 0.45;
    int min_epochs = 20, max_epochs = 260;
    /// Fraction of stars with Blazhko modulation, its period range (log-uniform, days), the relative
    /// amplitude modulation range and the pulsation-phase modulation range (rad), all uniform.
    double blazhko_fraction_rrab = 0.5, blazhko_fraction_rrc = 0.0;
    double blazhko_period_min = 20.0, blazhko_period_max = 400.0;
    double blazhko_amplitude_min = 0.02, blazhko_amplitude_max = 0.15;
    double blazhko_phase_min = 0.01, blazhko_phase_max = 0.08;
    /// Add the excess scatter of real curves (the residual-RMS table) on top of the formal errors.
    bool excess_scatter = true;
    /// Log-normal spread of one transit's formal error about the G table (0.34 in the DR2 sample).
    double formal_error_sigma_ln = 0.3;
    /// Fraction of epochs flagged rejected_by_variability (4.5 % of G epochs in the DR2 sample); they are
    /// outliers with inflated errors.
    double rejected_fraction = 0.045;
    /// Orders of the catalogue-style Fourier refit.
    int fit_order_rrab = 4, fit_order_rrc = 3;
    /// source_id of star 0; the default lies above every real Gaia source_id (< 6.92e18).
    std::int64_t first_source_id = 9000000000000000000LL;

    /// The excess-scatter model (used when excess_scatter is on).
    noise_kind noise_model = noise_kind::table;
    /// Factor on the amplitudes of the harmonics above the third (RRab k = 4..8, RRc k = 4).
    double high_harmonics_scale = 1.0;
    /// Extra Gaussian scatter (rad) of the phases of the harmonics above the third.
    double high_harmonics_phase_sd = 0.0;
    /// When the transits fall.
    cadence_kind cadence = cadence_kind::gaia;
    /// The order of the catalogue-style refit that gives vari_rrlyrae.csv and the `feh` label: fixed
    /// (fit_order_rrab / fit_order_rrc) or chosen by BIC in [bic_min_order, bic_max_order], never above
    /// the order that the star's clean epochs support at two per coefficient.
    fit_order_rule label_fit_order = fit_order_rule::fixed;
    int bic_min_order = 3, bic_max_order = 6;
    /// Weight the refit by 1/sigma^2 (false: every epoch alike).
    bool label_fit_weighted = true;
    /// Spread (dex) of the true [Fe/H] at fixed light-curve shape: feh_true is the relation on the true
    /// parameters plus N(0, this), as spectroscopic [Fe/H] scatter about a photometric relation. `feh`,
    /// the relation on the catalogue fit, does not see it.
    double feh_intrinsic_scatter = 0.0;
    /// Which relation makes feh_true (before the scatter); `feh` is always the catalogue's relation
    /// (Muraveva et al. 2025) on the catalogue fit, as survey labels are.
    truth_relation truth = truth_relation::muraveva2025;
    /// Name of the convention set, written as the last column of labels.csv (letters, digits, . _ + -).
    std::string family = "ferrum";
    /// Where the RRab shapes come from; `field` needs field_stars and makes RRab only (star() of an RRc
    /// throws, and rrab_fraction must be 1).
    rrab_population population = rrab_population::lmc;
    /// The real stars of rrab_population::field (read_field_rrab_table() in sim/rrlyrae_field.hpp).
    std::shared_ptr<const std::vector<field_rrab>> field_stars;
    /// rrab_population::field: each drawn parameter is the parent's catalogue value plus
    /// N(0, (field_jitter x its catalogue error)^2); 0 copies the parents exactly.
    double field_jitter = 0.5;

    /// Clean epochs a catalogue fit of order K needs: two per coefficient. With fewer, the series of a
    /// faint star often runs wild between the epochs.
    static constexpr int min_clean_epochs(int K) noexcept { return 2 * (2 * K + 1); }

    /// Throws value_error naming the first inconsistent option.
    void validate() const {
        const auto fail = [](const std::string& m) { throw value_error("simulation_options: " + m); };
        if (!(rrab_fraction >= 0 && rrab_fraction <= 1)) fail("rrab_fraction must be in [0, 1]");
        if (!(g_min <= g_max) || !(g_min >= 5) || !(g_max <= 22)) fail("need 5 <= g_min <= g_max <= 22");
        if (!std::isfinite(g_slope)) fail("g_slope must be finite");
        if (!(epochs_median > 0) || !(epochs_sigma_ln >= 0)) fail("epochs_median > 0 and epochs_sigma_ln >= 0");
        if (std::max(fit_order_rrab, fit_order_rrc) > 8 || std::min(fit_order_rrab, fit_order_rrc) < 3)
            fail("fit orders must be in [3, 8] (phi31 needs 3 harmonics)");
        if (label_fit_order != fit_order_rule::fixed && label_fit_order != fit_order_rule::bic)
            fail("label_fit_order must be fixed or bic");
        if (label_fit_order == fit_order_rule::bic &&
            !(bic_min_order >= 3 && bic_min_order <= bic_max_order && bic_max_order <= 8))
            fail("BIC orders must satisfy 3 <= bic_min_order <= bic_max_order <= 8 (phi31 needs 3 harmonics)");
        // the order every star must be able to fit: the fixed one, or the smallest the BIC may choose
        const int K = label_fit_order == fit_order_rule::bic ? bic_min_order : std::max(fit_order_rrab, fit_order_rrc);
        const int need = min_clean_epochs(K);
        if (min_epochs < need)
            fail("min_epochs must be at least " + std::to_string(need) + " for Fourier fits of order " +
                 std::to_string(K) + " (two epochs per coefficient)");
        if (max_epochs < min_epochs || max_epochs > 2000) fail("need min_epochs <= max_epochs <= 2000");
        for (double f : {blazhko_fraction_rrab, blazhko_fraction_rrc, rejected_fraction})
            if (!(f >= 0 && f <= 1)) fail("fractions must be in [0, 1]");
        if (!(blazhko_period_min > 0 && blazhko_period_min <= blazhko_period_max)) fail("Blazhko period range");
        if (!(blazhko_amplitude_min >= 0 && blazhko_amplitude_min <= blazhko_amplitude_max &&
              blazhko_amplitude_max < 1))
            fail("Blazhko amplitude range must lie in [0, 1)");
        if (!(blazhko_phase_min >= 0 && blazhko_phase_min <= blazhko_phase_max)) fail("Blazhko phase range");
        if (!(formal_error_sigma_ln >= 0)) fail("formal_error_sigma_ln >= 0");
        if (noise_model != noise_kind::table && noise_model != noise_kind::lognormal &&
            noise_model != noise_kind::student_t)
            fail("noise_model must be table, lognormal or student_t");
        if (cadence != cadence_kind::gaia && cadence != cadence_kind::uniform) fail("cadence must be gaia or uniform");
        if (!(high_harmonics_scale >= 0 && high_harmonics_scale <= 10)) fail("high_harmonics_scale must be in [0, 10]");
        if (!(high_harmonics_phase_sd >= 0 && high_harmonics_phase_sd <= 10))
            fail("high_harmonics_phase_sd must be in [0, 10] rad");
        if (!(feh_intrinsic_scatter >= 0 && feh_intrinsic_scatter <= 5))
            fail("feh_intrinsic_scatter must be in [0, 5] dex");
        if (population != rrab_population::lmc && population != rrab_population::field)
            fail("population must be lmc or field");
        if (population == rrab_population::field) {
            if (!field_stars || field_stars->empty())
                fail("population field needs field_stars, the real RRab to resample (read_field_rrab_table())");
            if (rrab_fraction != 1.0) fail("population field makes RRab only: rrab_fraction must be 1");
            if (truth != truth_relation::muraveva2025)
                fail("population field takes feh_true from the parent star's spectroscopic [Fe/H], not from a "
                     "relation: leave truth at its default");
            if (!(field_jitter >= 0 && field_jitter <= 5)) fail("field_jitter must be in [0, 5]");
        }
        if (family.empty() || family.size() > 64 || !std::all_of(family.begin(), family.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' || c == '-';
            }))
            fail("family must be 1-64 letters, digits, '.', '_', '+' or '-' (it is a CSV field), not '" + family + "'");
    }
    /// The fit order that every star's clean epochs must support (the rejected flags never leave fewer).
    int guaranteed_fit_order(rr_type type) const noexcept {
        if (label_fit_order == fit_order_rule::bic) return bic_min_order;
        return type == rr_type::rrab ? fit_order_rrab : fit_order_rrc;
    }
};

namespace detail {

/// Draws x = mean + L z from a fitted parameter Gaussian, redrawing z with |z|^2 > 22.46 (the 99.9 % point
/// of chi2(6)): the same truncation that removed outliers when the Gaussian was fitted; and x with any
/// coordinate beyond 3.5 marginal sd, which would allow, e.g., an A1 of 0.9 mag in the ellipsoid's tips.
inline std::array<double, 6> draw_parameters(const parameter_gaussian& g, star_rng& rng) {
    for (;;) {
        std::array<double, 6> z{};
        double d2 = 0;
        for (auto& v : z) {
            v = rng.normal();
            d2 += v * v;
        }
        if (d2 > 22.46) continue;
        std::array<double, 6> x = g.mean;
        bool inside = true;
        std::size_t t = 0;
        for (std::size_t i = 0; i < 6; ++i) {
            for (std::size_t j = 0; j <= i; ++j) x[i] += g.cholesky[t++] * z[j];
            const double var = g.covariance[t - 1];  // the diagonal element (i, i) closes row i
            inside = inside && std::abs(x[i] - g.mean[i]) <= 3.5 * std::sqrt(var);
        }
        if (inside) return x;
    }
}

/// Mean G on [lo, hi] with density proportional to 10^(slope G), by inverting its CDF.
inline double draw_mean_g(double lo, double hi, double slope, star_rng& rng) {
    const double u = rng.uniform();
    const double b = slope * std::log(10.0);
    if (hi <= lo) return lo;
    if (std::abs(b) < 1e-12) return lo + u * (hi - lo);
    // G = lo + ln(1 + u (e^{b (hi - lo)} - 1)) / b, written to stay accurate for either sign of b
    return lo + std::log1p(u * std::expm1(b * (hi - lo))) / b;
}

/// Variance of the residuals that an order-`fit_order` Fourier fit leaves from the model itself: the
/// harmonics above the fit order, and the Blazhko modulation (to first order in its amplitudes).
inline double model_residual_variance(const rrlyrae_truth& t, int fit_order) {
    double high = 0, all = 0, all_k2 = 0;
    for (int k = 1; k <= t.order(); ++k) {
        const double a2 = t.A(k) * t.A(k);
        if (k > fit_order) high += 0.5 * a2;
        all += 0.5 * a2;
        all_k2 += 0.5 * k * k * a2;
    }
    double v = high;
    if (t.blazhko.active())
        v += 0.5 * t.blazhko.amplitude * t.blazhko.amplitude * all + 0.5 * t.blazhko.phase * t.blazhko.phase * all_k2;
    return v;
}

}  // namespace detail

/// \brief Simulates Gaia DR3-like RR Lyrae, star by star: star(i) depends only on the options and i, so
/// sets are reproducible from the seed and independent of the number of threads.
/// Use it as `rrlyrae_simulator`; the class template exists so that a translation unit compiles it (and what
/// it pulls in) only when it uses it.
/// \tparam Scalar the number type: double (the only one supported)
template <class Scalar = double>
class basic_rrlyrae_simulator {
    static_assert(std::is_same_v<Scalar, double>, "rrlyrae_simulator computes in double: use rrlyrae_simulator");

public:
    using rrlyrae_simulator = basic_rrlyrae_simulator;
    explicit basic_rrlyrae_simulator(simulation_options options = {}) : opt_(std::move(options)) { opt_.validate(); }

    const simulation_options& options() const noexcept { return opt_; }

    /// Star `index`, its type drawn with options().rrab_fraction.
    simulated_rrlyrae star(std::uint64_t index) const { return make(index, nullptr); }
    /// Star `index` of the given type, RRab or RRc (same draws as star(index) otherwise).
    simulated_rrlyrae star(std::uint64_t index, rr_type type) const { return make(index, &check_type(type)); }

    /// The true parameters alone (cheap: no epochs, no fit); the same as star(index, type).truth.
    rrlyrae_truth truth(std::uint64_t index, rr_type type) const {
        check_type(type);
        detail::star_rng rng(opt_.seed, index), aux(opt_.seed, index, aux_stream);
        rng.uniform();  // the type draw, kept so that the streams agree with star()
        return draw_truth(type, rng, aux);
    }

private:
    static constexpr double max_catalogue_amplitude = 2.5;  // mag
    /// The second random stream of a star: the draws of options that are off by default.
    static constexpr std::uint64_t aux_stream = 0x66616d696c79ULL;  // "family"

    static const rr_type& check(const rr_type& type) {
        if (type != rr_type::rrab && type != rr_type::rrc)
            throw value_error(std::string("rrlyrae_simulator makes RRab and RRc stars, not ") + to_string(type));
        return type;
    }
    const rr_type& check_type(const rr_type& type) const {
        check(type);
        if (type != rr_type::rrab && opt_.population == rrab_population::field)
            throw value_error("the field population (family '" + opt_.family +
                              "') makes RRab only: its real stars have no RRc table");
        return type;
    }

    /// rrab_population::field: one real star, drawn uniformly, and its parameters jittered by field_jitter
    /// times their errors as x = (ln P, ln A1, ln R21, ln R31, phi21, phi31); a draw with P or an amplitude
    /// not in (0, field_rrab_max_value] is redrawn (the parent's own values after 100 tries).
    std::array<double, 6> draw_field_parameters(detail::star_rng& rng, std::optional<field_rrab>& parent) const {
        const auto& stars = *opt_.field_stars;
        const auto row = std::min(stars.size() - 1, static_cast<std::size_t>(rng.uniform() * double(stars.size())));
        const field_rrab& f = stars[row];
        parent = f;
        const double j = opt_.field_jitter;
        double P = f.period, A1 = f.A1, A2 = f.A2, A3 = f.A3, phi21 = f.phi21, phi31 = f.phi31;
        for (int attempt = 0; attempt < 100; ++attempt) {
            const double p = f.period + j * f.period_error * rng.normal();
            const double a1 = f.A1 + j * f.A1_error * rng.normal();
            const double a2 = f.A2 + j * f.A2_error * rng.normal();
            const double a3 = f.A3 + j * f.A3_error * rng.normal();
            const double p21 = f.phi21 + j * f.phi21_error * rng.normal();
            const double p31 = f.phi31 + j * f.phi31_error * rng.normal();
            const double m = field_rrab_max_value;
            if (p > 0 && p <= m && a1 > 0 && a1 <= m && a2 > 0 && a2 <= m && a3 > 0 && a3 <= m) {
                P = p, A1 = a1, A2 = a2, A3 = a3, phi21 = p21, phi31 = p31;
                break;
            }
        }
        return {std::log(P), std::log(A1), std::log(A2 / A1), std::log(A3 / A1), ferrum::wrap_two_pi(phi21),
                ferrum::wrap_two_pi(phi31)};
    }

    simulated_rrlyrae make(std::uint64_t index, const rr_type* forced) const {
        detail::star_rng rng(opt_.seed, index), aux(opt_.seed, index, aux_stream);
        const double u_type = rng.uniform();
        const rr_type type = forced ? *forced : (u_type < opt_.rrab_fraction ? rr_type::rrab : rr_type::rrc);
        check_type(type);

        simulated_rrlyrae s;
        s.source_id = opt_.first_source_id + static_cast<std::int64_t>(index);
        s.type = type;
        s.family = opt_.family;
        s.truth = draw_truth(type, rng, aux);
        const int fit_order = opt_.guaranteed_fit_order(type);
        // A sampling that cannot support the fit is redrawn: phases too clustered for the order, or a
        // series that runs wild between the epochs (a peak-to-peak above 2.5 mag and twice the true one,
        // which no catalogue would publish). With two clean epochs per coefficient this is rare; 20
        // failures in a row mean the options ask for more than the sampling can give.
        for (int attempt = 0;; ++attempt) {
            observe(s, fit_order, rng, aux);
            std::string why;
            try {
                s.catalogue = catalogue_fit(s);
                if (std::isfinite(s.catalogue.peak_to_peak) && std::isfinite(s.catalogue.int_average) &&
                    s.catalogue.peak_to_peak <= std::max(max_catalogue_amplitude, 2 * s.truth.peak_to_peak) &&
                    s.catalogue.A1() > 0)
                    break;
                why = "fitted peak-to-peak " + std::to_string(s.catalogue.peak_to_peak) + " mag";
            } catch (const value_error& e) {
                why = e.what();
            }
            if (attempt == 20)
                throw value_error("star " + std::to_string(index) + ": no usable sampling in 20 draws (" + why +
                                  "); allow more epochs (min_epochs) or a lower fit order");
        }
        s.feh_true = s.truth.parent ? s.truth.parent->feh  // a real star's spectroscopic [Fe/H]
                     : opt_.truth == truth_relation::lamost
                         ? relations::feh_lamost_g(type, s.truth.period, s.truth.phi31(), s.truth.A1(), s.truth.A2(),
                                                   s.truth.A3())
                         : feh_muraveva2025(type, s.truth.period, s.truth.phi31(), s.truth.A2());
        if (opt_.feh_intrinsic_scatter > 0) s.feh_true += opt_.feh_intrinsic_scatter * aux.normal();
        s.feh = feh_muraveva2025(type, s.catalogue.period, s.catalogue.phi31(), s.catalogue.A2());
        s.feh_error = 0.2 + 0.2 * rng.uniform_open0();
        return s;
    }

    rrlyrae_truth draw_truth(rr_type type, detail::star_rng& rng, detail::star_rng& aux) const {
        const bool ab = type == rr_type::rrab;
        rrlyrae_truth t;
        const auto x = ab && opt_.population == rrab_population::field
                           ? draw_field_parameters(rng, t.parent)
                           : detail::draw_parameters(ab ? detail::rrab_gaussian : detail::rrc_gaussian, rng);
        t.type = type;
        t.period = std::exp(x[0]);
        const double A1 = std::exp(x[1]), R21 = std::exp(x[2]), R31 = std::exp(x[3]);
        const double phi21 = ferrum::wrap_two_pi(x[4]), phi31 = ferrum::wrap_two_pi(x[5]);
        std::vector<double> R{1.0, R21, R31}, dphi{0.0, phi21, phi31};
        if (ab) {
            for (const auto& h : detail::rrab_high_harmonics) {
                const int k = static_cast<int>(R.size()) + 1;
                R.push_back(std::exp(h.ln_r_coef[0] + h.ln_r_coef[1] * x[2] + h.ln_r_coef[2] * x[3] +
                                     h.sd_ln_r * rng.normal()));
                dphi.push_back(ferrum::wrap_two_pi(phi31 + (k - 3) * (phi31 - phi21) + h.phase_offset +
                                                   h.sd_phase * rng.normal()));
            }
        } else {
            // RRc: one more harmonic, continuing the amplitude ratios geometrically and phi_k1 linearly
            R.push_back(std::min(R31 * R31 / R21, R31));
            dphi.push_back(ferrum::wrap_two_pi(2 * phi31 - phi21));
        }
        for (std::size_t i = 3; i < R.size(); ++i) {  // harmonics above the third: another simulator's taste
            R[i] *= opt_.high_harmonics_scale;
            if (opt_.high_harmonics_phase_sd > 0)
                dphi[i] = ferrum::wrap_two_pi(dphi[i] + opt_.high_harmonics_phase_sd * aux.normal());
        }
        const double phi1 = rng.uniform(0.0, ferrum::two_pi);
        for (std::size_t i = 0; i < R.size(); ++i) {
            t.amplitude.push_back(A1 * R[i]);
            t.phase.push_back(ferrum::wrap_two_pi(dphi[i] + double(i + 1) * phi1));
        }
        t.mean_mag = detail::draw_mean_g(opt_.g_min, opt_.g_max, opt_.g_slope, rng);
        const double fb = ab ? opt_.blazhko_fraction_rrab : opt_.blazhko_fraction_rrc;
        if (rng.bernoulli(fb)) {
            auto& b = t.blazhko;
            b.period = std::exp(rng.uniform(std::log(opt_.blazhko_period_min), std::log(opt_.blazhko_period_max)));
            b.amplitude = rng.uniform(opt_.blazhko_amplitude_min, opt_.blazhko_amplitude_max);
            b.phase = rng.uniform(opt_.blazhko_phase_min, opt_.blazhko_phase_max);
            b.amplitude_phase0 = rng.uniform(0.0, ferrum::two_pi);
            b.phase_phase0 = rng.uniform(0.0, ferrum::two_pi);
        }
        const auto sum = detail::summarize(t.series());
        t.peak_to_peak = sum.peak_to_peak;
        t.intensity_mean = sum.intensity_mean;
        return t;
    }

    // Times, true magnitudes, formal errors, excess scatter and rejected epochs.
    void observe(simulated_rrlyrae& s, int fit_order, detail::star_rng& rng, detail::star_rng& aux) const {
        const auto& t = s.truth;
        const int n = detail::gaia_epoch_count(opt_.epochs_median, opt_.epochs_sigma_ln, opt_.min_epochs,
                                               opt_.max_epochs, rng);
        const auto times = opt_.cadence == cadence_kind::uniform ? detail::uniform_transit_times(n, aux)
                                                                 : detail::gaia_transit_times(n, rng);
        // Excess scatter: the star's total scatter around an order-8 fit is drawn from the real curves'
        // distribution at its G, and what the formal errors and the Blazhko modulation already explain is
        // removed in quadrature. The real distribution contains the Blazhko stars in its upper tail, so a
        // Blazhko star draws its rank from the top fraction f of it and any other star from the rest.
        double sigma_excess = 0.0;
        if (opt_.excess_scatter && opt_.noise_model == noise_kind::lognormal) {
            // the same draw as the table's rank, unconditioned on the Blazhko state
            const double z = ferrum::detail::normal_quantile(std::clamp(rng.uniform_open0(), 1e-12, 1.0 - 1e-12));
            sigma_excess = detail::g_residual_rms(t.mean_mag).median * std::exp(0.5 * z);
        } else if (opt_.excess_scatter) {
            const double f = t.type == rr_type::rrab ? opt_.blazhko_fraction_rrab : opt_.blazhko_fraction_rrc;
            const double u = rng.uniform_open0() * (t.blazhko.active() ? f : 1.0 - f) +
                             (t.blazhko.active() ? 1.0 - f : 0.0);
            const double z = ferrum::detail::normal_quantile(std::clamp(u, 1e-12, 1.0 - 1e-12));
            const double total = detail::g_residual_rms(t.mean_mag).draw(z);
            const double formal = detail::g_transit_error(t.mean_mag);
            sigma_excess = std::sqrt(std::max(
                total * total - formal * formal - detail::model_residual_variance(t, detail::rrab_harmonics), 0.0));
        }
        // Student-t with nu = 3 at unit variance: z sqrt((nu - 2) / chi2_nu), z the main stream's normal
        const bool heavy = opt_.noise_model == noise_kind::student_t && sigma_excess > 0;
        const detail::series_evaluator f(t.series());
        // never fewer clean epochs than the fit order needs, nor than min_epochs (which a model counts clean)
        const int max_rejected = std::max(
            0, n - std::max(simulation_options::min_clean_epochs(fit_order), opt_.min_epochs));
        int rejected = 0;
        s.epochs.clear();
        s.epochs.reserve(times.size());
        for (const auto& tt : times) {
            gaia_epoch e;
            e.transit_id = tt.transit_id;
            e.time = tt.time;
            const double m = t.modulated(f, tt.time);
            e.mag_error = detail::g_transit_error(m) * std::exp(opt_.formal_error_sigma_ln * rng.normal());
            const double formal_noise = e.mag_error * rng.normal();
            double excess = sigma_excess * rng.normal();
            if (heavy) excess *= std::sqrt(1.0 / aux.chi_square(3));
            double mag = m + formal_noise + excess;
            if (rng.bernoulli(opt_.rejected_fraction) && rejected < max_rejected) {
                // outliers as in the DR2 sample: errors 6.4x larger (x3.6-16.6 for 68 %), offsets ~0.1 mag
                e.rejected_by_variability = true;
                ++rejected;
                e.mag_error *= 6.4 * std::exp(0.76 * rng.normal());
                mag += std::hypot(e.mag_error, 0.1) * rng.normal();
            }
            e.mag = mag;
            s.epochs.push_back(e);
        }
    }

    // The labels' Fourier fit: fixed order, or the BIC's choice (fit_fourier with order 0) among the orders
    // that the clean epochs support at two per coefficient.
    catalogue_parameters catalogue_fit(const simulated_rrlyrae& s) const {
        std::vector<double> phase, mag, sigma;
        for (const auto& e : s.epochs) {
            if (e.rejected_by_variability) continue;
            phase.push_back(e.time / s.truth.period);  // cycles since t = 0: phases refer to t = 0 as the truth's
            mag.push_back(e.mag);
            sigma.push_back(e.mag_error);
        }
        fourier_options fo;
        fo.use_errors = opt_.label_fit_weighted;
        if (opt_.label_fit_order == fit_order_rule::bic) {
            fo.order = 0;
            fo.min_order = opt_.bic_min_order;
            int supported = fo.min_order;
            while (supported < opt_.bic_max_order &&
                   static_cast<int>(phase.size()) >= simulation_options::min_clean_epochs(supported + 1))
                ++supported;
            fo.max_order = supported;
        } else {
            fo.order = s.type == rr_type::rrab ? opt_.fit_order_rrab : opt_.fit_order_rrc;
        }
        const auto fit = fit_fourier(phase, mag, sigma, fo, s.source_id);
        catalogue_parameters c;
        c.period = s.truth.period;  // Gaia's periods over a 34-month baseline are far better than phi31
        c.mean_mag = fit.A0;
        c.amplitude = fit.amplitude;
        c.phase = fit.phase;
        c.num_clean_epochs = static_cast<int>(phase.size());
        const auto sum = detail::summarize({fit.A0, fit.amplitude, fit.phase});
        c.peak_to_peak = sum.peak_to_peak;
        c.int_average = sum.intensity_mean;
        const double t_max = c.period * sum.theta_max_light / ferrum::two_pi;
        c.epoch_g = t_max + c.period * std::ceil((detail::dr3_start - t_max) / c.period);
        return c;
    }

    simulation_options opt_;
};

/// The RR Lyrae simulator (see basic_rrlyrae_simulator).
using rrlyrae_simulator = basic_rrlyrae_simulator<>;

// ------------------------------------------------------------------------------------------------
// Writers in the archive's formats

/// Column lines of the three files.
inline constexpr const char* epoch_photometry_header =
    "source_id,transit_id,band,time,mag,flux,flux_error,flux_over_error,rejected_by_photometry,"
    "rejected_by_variability,other_flags,solution_id\n";
inline constexpr const char* vari_rrlyrae_header =
    "source_id,best_classification,pf,p1_o,epoch_g,num_clean_epochs_g,peak_to_peak_g,int_average_g,phi31_g,"
    "r21_g\n";
inline constexpr const char* labels_header =
    "source_id,type,feh,feh_error,feh_true,period,a2_true,phi31_true,a2_catalogue,phi31_catalogue,"
    "peak_to_peak_true,mean_g_true,blazhko_period,num_epochs,family\n";

/// The columns of parents.csv, written beside the three files when the RRab come from the field population:
/// each simulated star's parent (the real star it was drawn from), the parent's spectroscopic [Fe/H] and
/// error, and the true parameters labels.csv does not carry (A1, A3, phi21), so that any relation can be
/// applied to the true shapes.
inline constexpr const char* parents_header =
    "source_id,parent_source_id,parent_feh,parent_feh_error,a1_true,a3_true,phi21_true\n";

namespace detail {

/// solution_id written for simulated rows (no real Gaia solution has 0).
inline constexpr std::int64_t simulated_solution_id = 0;
/// other_flags of every simulated G transit: 1, the most common value in the DR2 sample (not modelled).
inline constexpr std::int64_t simulated_other_flags = 1;

inline void append_epoch_rows(std::string& out, const simulated_rrlyrae& s) {
    for (const auto& e : s.epochs) {
        const double flux = g_flux_from_mag(e.mag);
        // the archive keeps flux_over_error in single precision; flux_error follows from it
        const float foe = static_cast<float>(mag_per_ln_flux / e.mag_error);
        append_row(out, s.source_id, e.transit_id, "G", e.time, e.mag, flux, flux / static_cast<double>(foe), foe,
                   false, e.rejected_by_variability, simulated_other_flags, simulated_solution_id);
    }
}

inline void append_vari_row(std::string& out, const simulated_rrlyrae& s) {
    const auto& c = s.catalogue;
    const bool ab = s.type == rr_type::rrab;  // pf: fundamental period, p1_o: first overtone
    append_row(out, s.source_id, to_string(s.type), ab ? std::optional<double>(c.period) : std::nullopt,
               ab ? std::nullopt : std::optional<double>(c.period), c.epoch_g, std::int64_t{c.num_clean_epochs},
               c.peak_to_peak, c.int_average, c.phi31(), c.R21());
}

inline void append_label_row(std::string& out, const simulated_rrlyrae& s) {
    append_row(out, s.source_id, to_string(s.type), s.feh, s.feh_error, s.feh_true, s.truth.period, s.truth.A2(),
               s.truth.phi31(), s.catalogue.A2(), s.catalogue.phi31(), s.truth.peak_to_peak, s.truth.mean_mag,
               s.truth.blazhko.period, static_cast<std::int64_t>(s.epochs.size()), s.family);
}

inline void append_parent_row(std::string& out, const simulated_rrlyrae& s) {
    if (!s.truth.parent) return;
    const auto& p = *s.truth.parent;
    append_row(out, s.source_id, p.source_id, p.feh, p.feh_error, s.truth.A1(), s.truth.A3(), s.truth.phi21());
}

// --- the Gaia DR3 bulk layout (EpochPhotometry_*.csv.gz; Gaia DR3 data model, epoch_photometry) ---------
// One row per source, array cells JSON-encoded as astropy's ECSV writes them (null for a missing element).
// The simulator models G only: the BP and RP arrays hold null, photometry_flag_{bp,rp}_unavailable true.

struct bulk_column {
    const char *name, *datatype, *subtype;
};

inline std::vector<bulk_column> dr3_epoch_photometry_columns() {
    std::vector<bulk_column> c = {
        {"solution_id", "int64", ""},
        {"source_id", "int64", ""},
        {"n_transits", "int16", ""},
        {"transit_id", "string", "int64[null]"},
        {"g_transit_time", "string", "float64[null]"},
        {"g_transit_flux", "string", "float64[null]"},
        {"g_transit_flux_error", "string", "float64[null]"},
        {"g_transit_flux_over_error", "string", "float32[null]"},
        {"g_transit_mag", "string", "float64[null]"},
        {"g_transit_n_obs", "string", "int8[null]"},
    };
    for (const char* name : {"bp_obs_time", "bp_flux", "bp_flux_error", "bp_flux_over_error", "bp_mag", "rp_obs_time",
                             "rp_flux", "rp_flux_error", "rp_flux_over_error", "rp_mag"})
        c.push_back({name, "string",
                     std::string_view(name).substr(3) == "flux_over_error" ? "float32[null]" : "float64[null]"});
    static const char* const flags[] = {
        "photometry_flag_noisy_data",      "photometry_flag_sm_unavailable",  "photometry_flag_af1_unavailable",
        "photometry_flag_af2_unavailable", "photometry_flag_af3_unavailable", "photometry_flag_af4_unavailable",
        "photometry_flag_af5_unavailable", "photometry_flag_af6_unavailable", "photometry_flag_af7_unavailable",
        "photometry_flag_af8_unavailable", "photometry_flag_af9_unavailable", "photometry_flag_bp_unavailable",
        "photometry_flag_rp_unavailable",  "photometry_flag_sm_reject",       "photometry_flag_af1_reject",
        "photometry_flag_af2_reject",      "photometry_flag_af3_reject",      "photometry_flag_af4_reject",
        "photometry_flag_af5_reject",      "photometry_flag_af6_reject",      "photometry_flag_af7_reject",
        "photometry_flag_af8_reject",      "photometry_flag_af9_reject",      "photometry_flag_bp_reject",
        "photometry_flag_rp_reject",       "variability_flag_g_reject",       "variability_flag_bp_reject",
        "variability_flag_rp_reject"};
    for (const char* f : flags) c.push_back({f, "string", "bool[null]"});
    return c;
}

/// The ECSV header and column line of the bulk layout.
inline std::string dr3_epoch_photometry_header() {
    std::string h = "# %ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n";
    std::string names;
    for (const auto& c : dr3_epoch_photometry_columns()) {
        h += std::string("# - {name: ") + c.name + ", datatype: " + c.datatype;
        if (*c.subtype) h += std::string(", subtype: '") + c.subtype + "'";
        h += "}\n";
        names += (names.empty() ? "" : ",") + std::string(c.name);
    }
    return h + "# schema: astropy-2.0\n" + names + "\n";
}

// One array cell, "[a,b,...]" quoted for CSV; `element(i)` appends element i.
template <class Element>
void append_array(std::string& out, std::size_t n, Element&& element) {
    out += "\"[";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out += ',';
        element(i);
    }
    out += "]\"";
}

inline void append_bulk_row(std::string& out, const simulated_rrlyrae& s) {
    const auto& ep = s.epochs;
    const std::size_t n = ep.size();
    append_integer(out, simulated_solution_id);
    out += ',';
    append_integer(out, s.source_id);
    out += ',';
    append_integer(out, static_cast<std::int64_t>(n));
    const auto foe = [&](std::size_t i) { return static_cast<float>(mag_per_ln_flux / ep[i].mag_error); };
    const auto column = [&](auto&& element) {
        out += ',';
        append_array(out, n, element);
    };
    column([&](std::size_t i) { append_integer(out, ep[i].transit_id); });
    column([&](std::size_t i) { append_number(out, ep[i].time); });
    column([&](std::size_t i) { append_number(out, g_flux_from_mag(ep[i].mag)); });
    column([&](std::size_t i) { append_number(out, g_flux_from_mag(ep[i].mag) / static_cast<double>(foe(i))); });
    column([&](std::size_t i) { append_float(out, foe(i)); });
    column([&](std::size_t i) { append_number(out, ep[i].mag); });
    column([&](std::size_t) { out += "null"; });                               // g_transit_n_obs: not modelled
    for (int k = 0; k < 10; ++k) column([&](std::size_t) { out += "null"; });  // BP and RP
    const auto flag = [&](bool value) { column([&](std::size_t) { append_bool(out, value); }); };
    flag(false);                               // noisy_data
    for (int k = 0; k < 10; ++k) flag(false);  // sm, af1..af9 unavailable
    flag(true), flag(true);                    // bp, rp unavailable
    for (int k = 0; k < 12; ++k) flag(false);  // sm, af1..af9, bp, rp reject
    column([&](std::size_t i) { append_bool(out, ep[i].rejected_by_variability); });
    for (int k = 0; k < 2; ++k) column([&](std::size_t) { out += "null"; });  // BP, RP variability flags
    out += '\n';
}

// The DR3 data model's vari_rrlyrae columns, in its order; the simulator fills those it models.
inline const std::vector<const char*>& dr3_vari_rrlyrae_columns() {
    static const std::vector<const char*> c = {"solution_id",
                                               "source_id",
                                               "pf",
                                               "pf_error",
                                               "p1_o",
                                               "p1_o_error",
                                               "epoch_g",
                                               "epoch_g_error",
                                               "epoch_bp",
                                               "epoch_bp_error",
                                               "epoch_rp",
                                               "epoch_rp_error",
                                               "epoch_rv",
                                               "epoch_rv_error",
                                               "int_average_g",
                                               "int_average_g_error",
                                               "int_average_bp",
                                               "int_average_bp_error",
                                               "int_average_rp",
                                               "int_average_rp_error",
                                               "average_rv",
                                               "average_rv_error",
                                               "peak_to_peak_g",
                                               "peak_to_peak_g_error",
                                               "peak_to_peak_bp",
                                               "peak_to_peak_bp_error",
                                               "peak_to_peak_rp",
                                               "peak_to_peak_rp_error",
                                               "peak_to_peak_rv",
                                               "peak_to_peak_rv_error",
                                               "metallicity",
                                               "metallicity_error",
                                               "r21_g",
                                               "r21_g_error",
                                               "r31_g",
                                               "r31_g_error",
                                               "phi21_g",
                                               "phi21_g_error",
                                               "phi31_g",
                                               "phi31_g_error",
                                               "num_clean_epochs_g",
                                               "num_clean_epochs_bp",
                                               "num_clean_epochs_rp",
                                               "num_clean_epochs_rv",
                                               "zp_mag_g",
                                               "zp_mag_bp",
                                               "zp_mag_rp",
                                               "num_harmonics_for_p1_g",
                                               "num_harmonics_for_p1_bp",
                                               "num_harmonics_for_p1_rp",
                                               "num_harmonics_for_p1_rv",
                                               "reference_time_g",
                                               "reference_time_bp",
                                               "reference_time_rp",
                                               "reference_time_rv",
                                               "fund_freq1",
                                               "fund_freq1_error",
                                               "fund_freq2",
                                               "fund_freq2_error",
                                               "fund_freq1_harmonic_ampl_g",
                                               "fund_freq1_harmonic_ampl_g_error",
                                               "fund_freq1_harmonic_phase_g",
                                               "fund_freq1_harmonic_phase_g_error",
                                               "fund_freq1_harmonic_ampl_bp",
                                               "fund_freq1_harmonic_ampl_bp_error",
                                               "fund_freq1_harmonic_phase_bp",
                                               "fund_freq1_harmonic_phase_bp_error",
                                               "fund_freq1_harmonic_ampl_rp",
                                               "fund_freq1_harmonic_ampl_rp_error",
                                               "fund_freq1_harmonic_phase_rp",
                                               "fund_freq1_harmonic_phase_rp_error",
                                               "fund_freq1_harmonic_ampl_rv",
                                               "fund_freq1_harmonic_ampl_rv_error",
                                               "fund_freq1_harmonic_phase_rv",
                                               "fund_freq1_harmonic_phase_rv_error",
                                               "best_classification",
                                               "g_absorption",
                                               "g_absorption_error"};
    return c;
}

inline std::string dr3_vari_rrlyrae_header() {
    std::string h;
    for (const char* c : dr3_vari_rrlyrae_columns()) h += (h.empty() ? "" : ",") + std::string(c);
    return h + "\n";
}

// The same values as append_vari_row(), each in its DR3 column; the columns not modelled stay empty.
inline void append_dr3_vari_row(std::string& out, const simulated_rrlyrae& s) {
    const auto& c = s.catalogue;
    const bool ab = s.type == rr_type::rrab;
    bool first = true;
    for (const std::string_view name : dr3_vari_rrlyrae_columns()) {
        if (!first) out += ',';
        first = false;
        if (name == "solution_id") append_integer(out, simulated_solution_id);
        else if (name == "source_id") append_integer(out, s.source_id);
        else if (name == (ab ? "pf" : "p1_o")) append_number(out, c.period);
        else if (name == "epoch_g") append_number(out, c.epoch_g);
        else if (name == "num_clean_epochs_g") append_integer(out, std::int64_t{c.num_clean_epochs});
        else if (name == "peak_to_peak_g") append_number(out, c.peak_to_peak);
        else if (name == "int_average_g") append_number(out, c.int_average);
        else if (name == "phi31_g") append_number(out, c.phi31());
        else if (name == "r21_g") append_number(out, c.R21());
        else if (name == "best_classification") out += to_string(s.type);
    }
    out += '\n';
}

// Writes `text` gzip-compressed to `path`, atomically.
inline void write_gzip_atomically(const std::filesystem::path& path, const std::string& text) {
    write_file_atomically(path, [&](std::ostream& os) {
        gzip_writer gz(os);
        gz.write(text);
        gz.finish();
    });
}

}  // namespace detail

/// \brief The layouts write_gaia_like_set() can write the epoch photometry and the catalogue in.
enum class output_format : unsigned char {
    /// epoch_photometry.csv in the long layout (DR2, DR3 DataLink INDIVIDUAL), vari_rrlyrae.csv with the
    /// columns the simulator models
    gaia_long,
    /// epoch_photometry.csv.gz in the DR3 bulk layout (ECSV, array cells, gzip) and vari_rrlyrae.csv.gz
    /// with every column of DR3's vari_rrlyrae (those not modelled empty)
    dr3_bulk,
};

/// \brief Where write_gaia_like_set() put its files and how much it wrote.
struct gaia_like_set {
    /// epoch_photometry.csv: the archive's long G-band layout (dr3_bulk: epoch_photometry.csv.gz, or with
    /// several files the glob DIR/EpochPhotometry_*.csv.gz; epoch_files lists them)
    std::filesystem::path epoch_photometry;
    std::filesystem::path vari_rrlyrae;  ///< vari_rrlyrae.csv: the catalogue parameters
    std::filesystem::path labels;        ///< labels.csv: feh (catalogue), feh_error, feh_true, truths
    std::size_t stars = 0;
    std::size_t epochs = 0;
    std::vector<std::filesystem::path> epoch_files;  ///< the epoch-photometry file(s) written
    /// parents.csv (parents_header), only when the RRab come from the field population (else empty)
    std::filesystem::path parents;
};

/// \brief Options of write_gaia_like_set() beyond the simulation itself.
struct write_options {
    unsigned threads = 0;  ///< 0: std::thread::hardware_concurrency()
    bool progress = progress_enabled_by_default();
    std::size_t chunk = 2048;  ///< stars per unit of parallel work
    output_format format = output_format::gaia_long;
    /// dr3_bulk only: above 1, the epoch photometry is split into this many files of consecutive stars named
    /// like the archive's bulk files (bulk_epoch_file_name()), whose concatenation is the one-file layout.
    std::size_t files = 1;
};

/// \brief The name of simulated bulk file holding stars `first` .. `last` (indices): the Gaia archive's
/// pattern `EpochPhotometry_000000-003111.csv.gz` (there the numbers are HEALPix level-8 ranges; here star
/// indices, zero-padded to `width` digits (at least 6) so that names sort in star order).
inline std::string bulk_epoch_file_name(std::size_t first, std::size_t last, std::size_t width = 6) {
    const auto pad = [width](std::size_t v) {
        std::string t = std::to_string(v);
        return std::string(width > t.size() ? width - t.size() : 0, '0') + t;
    };
    return "EpochPhotometry_" + pad(first) + "-" + pad(last) + ".csv.gz";
}

/// \brief Writes the three in-memory tables for `stars` into `dir` (created if needed), atomically.
inline gaia_like_set write_gaia_like_set(const std::filesystem::path& dir,
                                         const std::vector<simulated_rrlyrae>& stars) {
    std::filesystem::create_directories(dir);
    gaia_like_set out{dir / "epoch_photometry.csv", dir / "vari_rrlyrae.csv", dir / "labels.csv", stars.size(), 0, {}, {}};
    std::string ep = epoch_photometry_header, vr = vari_rrlyrae_header, lb = labels_header, pa = parents_header;
    bool parents = false;
    for (const auto& s : stars) {
        detail::append_epoch_rows(ep, s);
        detail::append_vari_row(vr, s);
        detail::append_label_row(lb, s);
        detail::append_parent_row(pa, s);
        parents = parents || s.truth.parent.has_value();
        out.epochs += s.epochs.size();
    }
    write_file_atomically(out.epoch_photometry, ep);
    out.epoch_files.push_back(out.epoch_photometry);
    write_file_atomically(out.vari_rrlyrae, vr);
    write_file_atomically(out.labels, lb);
    if (parents) {
        out.parents = dir / "parents.csv";
        write_file_atomically(out.parents, pa);
    }
    return out;
}

/// \brief Simulates n_rrab RRab (indices 0 .. n_rrab - 1) and n_rrc RRc (the next n_rrc indices) and
/// writes them to `dir` in parallel, streaming the epoch file; each file appears atomically when done.
template <class Dummy = void>  // a template: compiled only where it is used
inline gaia_like_set write_gaia_like_set(const std::filesystem::path& dir, std::size_t n_rrab, std::size_t n_rrc,
                                         const simulation_options& options, const write_options& w = {}) {
    const rrlyrae_simulator sim(options);
    if (options.population == rrab_population::field && n_rrc > 0)
        throw value_error("the field population (family '" + options.family + "') makes RRab only: ask for 0 RRc, not " +
                          std::to_string(n_rrc));
    std::filesystem::create_directories(dir);
    const std::size_t n = n_rrab + n_rrc;
    const bool bulk = w.format == output_format::dr3_bulk;
    gaia_like_set out{dir / (bulk ? "epoch_photometry.csv.gz" : "epoch_photometry.csv"),
                      dir / (bulk ? "vari_rrlyrae.csv.gz" : "vari_rrlyrae.csv"),
                      dir / "labels.csv",
                      n,
                      0,
                      {},
                      {}};
    const std::size_t chunk = std::max<std::size_t>(1, w.chunk);
    const unsigned threads = w.threads;
    struct piece {
        std::string epochs, vari, labels, parents;
        std::size_t n_epochs = 0;
    };
    std::string vari = bulk ? detail::dr3_vari_rrlyrae_header() : vari_rrlyrae_header, labels = labels_header;
    std::string parents = parents_header;
    progress bar("simulate", n, "stars", w.progress);
    // Stars [first, last) into one epoch file, chunk by chunk in parallel, in star order.
    const auto write_epochs = [&](const std::filesystem::path& path, std::size_t first, std::size_t last) {
        write_file_atomically(path, [&](std::ostream& os) {
            std::optional<gzip_writer> gz;
            if (bulk) {
                gz.emplace(os);
                gz->write(detail::dr3_epoch_photometry_header());
            } else {
                os << epoch_photometry_header;
            }
            ferrum::ordered_parallel((last - first + chunk - 1) / chunk, threads,
                                     [&](std::size_t c) {
                piece p;
                p.epochs.reserve(chunk * 60 * 170);
                const std::size_t end = std::min(last, first + (c + 1) * chunk);
                for (std::size_t i = first + c * chunk; i < end; ++i) {
                    const auto s = sim.star(i, i < n_rrab ? rr_type::rrab : rr_type::rrc);
                    if (bulk) {
                        detail::append_bulk_row(p.epochs, s);
                        detail::append_dr3_vari_row(p.vari, s);
                    } else {
                        detail::append_epoch_rows(p.epochs, s);
                        detail::append_vari_row(p.vari, s);
                    }
                    detail::append_label_row(p.labels, s);
                    detail::append_parent_row(p.parents, s);
                    p.n_epochs += s.epochs.size();
                }
                return p;
            },
                                     [&](std::size_t c, piece&& p) {
                if (gz) gz->write(p.epochs);
                else os.write(p.epochs.data(), static_cast<std::streamsize>(p.epochs.size()));
                if (!os) throw io_error("writing '" + path.string() + "' failed (disk full?)");
                vari += p.vari;
                labels += p.labels;
                parents += p.parents;
                out.epochs += p.n_epochs;
                bar.update(std::min(last, first + (c + 1) * chunk));
            });
            if (gz) gz->finish();
        });
        out.epoch_files.push_back(path);
    };
    const std::size_t n_files = bulk ? std::max<std::size_t>(1, std::min(w.files, std::max<std::size_t>(1, n))) : 1;
    if (n_files == 1) {
        write_epochs(out.epoch_photometry, 0, n);
    } else {
        const std::size_t width = std::max<std::size_t>(6, std::to_string(n - 1).size());
        for (std::size_t f = 0; f < n_files; ++f) {
            const std::size_t first = n * f / n_files, last = n * (f + 1) / n_files;
            write_epochs(dir / bulk_epoch_file_name(first, last - 1, width), first, last);
        }
        out.epoch_photometry = dir / "EpochPhotometry_*.csv.gz";
    }
    if (bulk) detail::write_gzip_atomically(out.vari_rrlyrae, vari);
    else write_file_atomically(out.vari_rrlyrae, vari);
    write_file_atomically(out.labels, labels);
    if (options.population == rrab_population::field && n_rrab > 0) {
        out.parents = dir / "parents.csv";
        write_file_atomically(out.parents, parents);
    }
    return out;
}

/// \brief write_gaia_like_set() with default options and the given seed.
template <class Dummy = void>  // a template: compiled only where it is used
inline gaia_like_set write_gaia_like_set(const std::filesystem::path& dir, std::size_t n_rrab, std::size_t n_rrc,
                                         std::uint64_t seed) {
    simulation_options o;
    o.seed = seed;
    return write_gaia_like_set(dir, n_rrab, n_rrc, o);
}

}  // namespace ferrum::sim
