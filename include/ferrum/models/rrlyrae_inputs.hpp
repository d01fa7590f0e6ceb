// What the RR Lyrae [Fe/H] models read: each star's network sequence (Monti et al. 2025, Sect. 3: fold on
// epoch_g and the period, GCV smoothing spline, 264/265 resampled phases, standardised; channels phase x P
// and magnitude; or the raw folded epochs) and its tabular Fourier features, or the flag saying why not.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/lightcurve/fourier.hpp"
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/lightcurve/phase_fold.hpp"
#include "ferrum/lightcurve/preprocess.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/relations/classical.hpp"

namespace ferrum::models {

/// \brief What the recurrent network sees of a star.
enum class rrl_sequence {
    resampled,  ///< the paper's: GCV smoothing spline resampled on 264 (RRab) / 265 (RRc) phases
    raw_epochs  ///< the folded epochs themselves, one step per epoch (variable length, no spline)
};

inline const char* to_string(rrl_sequence s) noexcept {
    return s == rrl_sequence::raw_epochs ? "raw_epochs" : "resampled";
}
inline rrl_sequence parse_rrl_sequence(const std::string& s) {
    for (auto q : {rrl_sequence::resampled, rrl_sequence::raw_epochs})
        if (s == to_string(q)) return q;
    throw value_error("unknown sequence '" + s + "' (expected resampled or raw_epochs)");
}
FERRUM_ENUM_JSON(rrl_sequence, parse_rrl_sequence)

/// \brief The smoothing spline of the resampled sequences (lightcurve/preprocess.hpp's preprocess_options):
/// the criterion that picks each curve's smoothing (gamma 1: SciPy's GCV; > 1: the modified GCV of Kim & Gu
/// 2004) and the wrap-around padding that lets the spline see the curve as periodic.
struct rrl_spline_options {
    double gamma = preprocess_options::modified_gcv().gamma;
    double wrap_padding = preprocess_options{}.wrap_padding;
};
FERRUM_OPTIONS(rrl_spline_options, gamma, wrap_padding)

/// \brief How stars become model inputs. Stored in model files, so prediction repeats training's choices.
struct rrl_input_options {
    rrl_sequence sequence = rrl_sequence::resampled;
    /// false: channel 0 is the phase (folded curves without a period, e.g. Dekany et al. 2022's set).
    bool use_period = true;
    std::size_t n_phases_rrab = paper_phases_rrab;
    std::size_t n_phases_rrc = paper_phases_rrc;
    /// Stars with fewer clean epochs are flagged "too_few_epochs" and get no prediction.
    std::size_t min_epochs = 20;
    /// Raw-epoch sequences longer than this are thinned evenly in phase (bounded cost per star).
    std::size_t max_raw_steps = 400;
    /// Highest order of the Fourier fit giving the tabular features (chosen per star by BIC from 3).
    int fourier_max_order = 4;
    rrl_spline_options spline;

    /// Bounds on the sizes (from_json calls it, so config and model files are checked naming the field):
    /// a damaged file's n_phases_rrab of 2^40 is an error, not 16 GB of resampled curves.
    void validate() const {
        option_range("n_phases_rrab", n_phases_rrab, 4, 100000);
        option_range("n_phases_rrc", n_phases_rrc, 4, 100000);
        option_range("min_epochs", min_epochs, 0, 1e6);
        option_range("max_raw_steps", max_raw_steps, 1, 100000);
        option_range("fourier_max_order", fourier_max_order, 1, 50);
    }
};
FERRUM_OPTIONS(rrl_input_options, sequence, use_period, n_phases_rrab, n_phases_rrc, min_epochs, max_raw_steps,
               fourier_max_order, spline)

/// \brief The id prepare_rrlyrae_inputs gives a star: its name when it has one, else its source_id as text.
inline std::string rrl_star_id(std::int64_t source_id, const std::string& name) {
    return name.empty() ? std::to_string(source_id) : name;
}

/// Names of the tabular features, in order (the "gru_fourier" and "fourier_linear" models read them).
inline const std::vector<std::string>& rrl_feature_names() {
    static const std::vector<std::string> names{"period",
                                                "A1",
                                                "A2",
                                                "R21",
                                                "R31",
                                                "cos_phi21",
                                                "sin_phi21",
                                                "cos_phi31",
                                                "sin_phi31",
                                                "phi31",
                                                "ln_sigma_phi31",
                                                "ln_sigma_A2",
                                                "ln_n_epochs",
                                                "fourier_rms",
                                                "is_rrc",
                                                "phi31_catalogue_order",
                                                "A2_catalogue_order",
                                                "feh_classical"};
    return names;
}

/// \brief One star ready for a model, or the reason it cannot be predicted (`flag`).
struct rrl_star_input {
    std::string id;  ///< source_id as text, or the star's name
    rr_type type = rr_type::unknown;
    double period = 0.0;        ///< days; 0 when unknown
    std::size_t n_epochs = 0;   ///< clean epochs of the light curve
    double peak_to_peak = 0.0;  ///< of the fitted Fourier series (mag), for the paper's AmpG <= 1.4 cut
    /// phi31 (rad, cosine convention) and A2 (mag) of a weighted Fourier fit of the catalogue's fixed order
    /// (4 for RRab, 3 for RRc, as Gaia's SOS pipeline and the simulator's catalogue): the classical inputs.
    double phi31_catalogue = 0.0, a2_catalogue = 0.0;
    /// Their 1-sigma errors and covariance from the same fit (for the classical relation's sigma).
    double phi31_catalogue_sigma = 0.0, a2_catalogue_sigma = 0.0, cov_phi31_a2_catalogue = 0.0;
    /// steps x 2, interleaved: (phase x period, or phase), standardised magnitude; written by the preprocessor,
    /// read by batch_tensor() (sequence_of below)
    std::vector<float> sequence;
    std::vector<double> features;  ///< rrl_feature_names() order
    /// Empty when usable; else one of too_few_epochs, no_period, unknown_type, no_light_curve,
    /// not_in_catalogue, implausible_period, implausible_magnitude, implausible_errors (rrl_plausible_range),
    /// preprocessing_failed (+ ": reason").
    std::string flag;

    bool ok() const noexcept { return flag.empty(); }
    std::size_t steps() const noexcept { return sequence.size() / 2; }
};

/// \brief A star's sequence as a row of batch_tensor() (lightcurve/preprocess.hpp), the one builder of the
/// tensors the models read.
inline sequence_view<float> sequence_of(const rrl_star_input& s) {
    return {s.sequence.data(), s.sequence.data() + 1, s.steps(), 2};
}

/// \brief Where and with what a light curve is folded; `problem` non-empty when it cannot be.
struct rrl_ephemeris {
    rr_type type = rr_type::unknown;
    double period = 0.0;
    double epoch = 0.0;
    double peak_to_peak = 0.0;  ///< the catalogue's peak_to_peak_g when known (0: use the Fourier fit's)
    std::string problem;        ///< a flag (see rrl_star_input::flag)
};

/// \brief What ferrum takes as physically possible for an RR Lyrae light curve; a star outside is flagged
/// (implausible_period, implausible_magnitude, implausible_errors) and gets no number rather than a number
/// computed from impossible input. Wide on purpose: they catch sentinels (mag -99, P 1e-30), not outliers.
struct rrl_plausible_range {
    static constexpr double min_period = 0.1, max_period = 2.0;     ///< d (RR Lyrae: about 0.2-1.0 d)
    static constexpr double min_mag = -2.0, max_mag = 30.0;         ///< any optical band, any survey
    static constexpr double min_mag_err = 1e-5, max_mag_err = 5.0;  ///< mag; beyond: weights over/underflow
};

namespace detail {

/// The flag of a curve with an impossible period, magnitude or error (empty when plausible).
inline std::string implausible_input(double period, const std::vector<double>& mag, const std::vector<double>& err) {
    using R = rrl_plausible_range;
    char buf[160];
    if (period != 0.0 && !(period >= R::min_period && period <= R::max_period)) {
        std::snprintf(buf, sizeof buf, "implausible_period: P = %.6g d is outside %g-%g d", period, R::min_period,
                      R::max_period);
        return buf;
    }
    std::size_t n_mag = 0, n_err = 0;
    double bad_mag = 0.0, bad_err = 0.0;
    for (double m : mag)
        if (!(m >= R::min_mag && m <= R::max_mag) && n_mag++ == 0) bad_mag = m;
    for (double e : err)
        if (!(e >= R::min_mag_err && e <= R::max_mag_err) && n_err++ == 0) bad_err = e;
    if (n_mag > 0) {
        std::snprintf(buf, sizeof buf, "implausible_magnitude: %zu epoch(s) outside %g-%g mag (e.g. %.6g)", n_mag,
                      R::min_mag, R::max_mag, bad_mag);
        return buf;
    }
    if (n_err > 0) {
        std::snprintf(buf, sizeof buf, "implausible_errors: %zu epoch(s) with an error outside %g-%g mag (e.g. %.6g)",
                      n_err, R::min_mag_err, R::max_mag_err, bad_err);
        return buf;
    }
    return {};
}

inline std::vector<double> rrl_features(const fourier_decomposition& f, double period, rr_type type) {
    const auto phi21 = f.phi21(), phi31 = f.phi31();
    const double a2 = f.amplitude[1];
    const double s_phi31 = std::isfinite(phi31.sigma) ? std::min(std::max(phi31.sigma, 1e-4), 10.0) : 10.0;
    const double s_a2 = std::isfinite(f.sigma_amplitude(2)) ? std::min(std::max(f.sigma_amplitude(2), 1e-5), 1.0) : 1.0;
    return {period,
            f.amplitude[0],
            a2,
            f.R21().value,
            f.R31().value,
            std::cos(phi21.value),
            std::sin(phi21.value),
            std::cos(phi31.value),
            std::sin(phi31.value),
            phi31.value,
            std::log(s_phi31),
            std::log(s_a2),
            std::log(double(f.n)),
            f.rms,
            type == rr_type::rrc ? 1.0 : 0.0};
}

/// Raw-epoch sequence: the folded epochs (thinned evenly to at most max_steps), magnitudes standardised over
/// all epochs by the preprocessor's per-curve standardisation (ferrum::standardise).
inline std::vector<float> raw_sequence(const folded_curve& fc, bool use_period, std::size_t max_steps) {
    const std::size_t n = fc.size();
    const std::size_t m = std::min(n, std::max<std::size_t>(max_steps, 2));
    const std::vector<double> z = standardise(fc.mag).values;
    std::vector<float> s(2 * m);
    const double scale = use_period && fc.period > 0 ? fc.period : 1.0;
    for (std::size_t j = 0; j < m; ++j) {
        const std::size_t i = m == n ? j : j * (n - 1) / (m - 1);
        s[2 * j] = static_cast<float>(fc.phase[i] * scale);
        s[2 * j + 1] = static_cast<float>(z[i]);
    }
    return s;
}

/// Everything from one folded curve (type and period already known to be usable).
template <class Dummy = void>  // a template: compiled only where it is used
inline void fill_input(rrl_star_input& out, const folded_curve& fc, rr_type type, const rrl_input_options& opt,
                       preprocessor& ab, preprocessor& c) {
    out.n_epochs = fc.size();
    if (fc.size() < opt.min_epochs) {
        out.flag = "too_few_epochs: " + std::to_string(fc.size()) + " < " + std::to_string(opt.min_epochs);
        return;
    }
    try {
        fourier_options fo;
        fo.max_order = opt.fourier_max_order;
        const fourier_decomposition f = fit_fourier(fc, fo);
        out.features = rrl_features(f, fc.period, type);
        double lo = f(0.0), hi = lo;
        for (int k = 1; k < 256; ++k) {
            const double m = f(k / 256.0);
            lo = std::min(lo, m);
            hi = std::max(hi, m);
        }
        out.peak_to_peak = hi - lo;
        fourier_options fixed;
        fixed.order = std::min(type == rr_type::rrc ? 3 : 4, static_cast<int>((fc.size() - 2) / 2));
        const fourier_decomposition g = fixed.order >= 3 ? fit_fourier(fc, fixed) : f;
        const ferrum::measurement phi31_g = g.phi31();
        out.phi31_catalogue = phi31_g.value;
        out.a2_catalogue = g.amplitude[1];
        out.phi31_catalogue_sigma = phi31_g.sigma;
        out.a2_catalogue_sigma = g.sigma_amplitude(2);
        // phi31 = phi_3 - 3 phi_1 and A2 sit at (6, 2) and 3 of the (A0, A1, phi1, A2, phi2, ...) covariance
        out.cov_phi31_a2_catalogue = g.covariance(6, 3) - 3.0 * g.covariance(2, 3);
        // The classical inputs and the relation on them (Muraveva et al. 2025) as three more features: with
        // them the network starts from the classical estimate and learns what the light-curve shape adds.
        out.features.push_back(out.phi31_catalogue);
        out.features.push_back(out.a2_catalogue);
        // (0 for RRd and other types, which have no relation and no model: such stars get flagged at prediction)
        const bool has_relation = type == rr_type::rrab || type == rr_type::rrc;
        out.features.push_back(
            has_relation ? relations::feh_muraveva2025(type, fc.period, out.phi31_catalogue, out.a2_catalogue) : 0.0);
        if (opt.sequence == rrl_sequence::resampled) {
            folded_curve curve = fc;
            if (!opt.use_period) curve.period = 0.0;
            preprocessor& p = type == rr_type::rrc ? c : ab;
            out.sequence.resize(2 * p.grid().size());
            p(curve, out.sequence.data());  // straight into the star's batch row
        } else {
            out.sequence = raw_sequence(fc, opt.use_period, opt.max_raw_steps);
        }
        for (double v : out.features)
            if (!std::isfinite(v)) throw value_error("a Fourier feature is not finite");
    } catch (const ferrum::error& e) {
        out.flag = std::string("preprocessing_failed: ") + e.what();
        out.sequence.clear();
        out.features.clear();
    }
}

inline preprocess_options rrl_preprocess_options(std::size_t n_phases, const rrl_input_options& opt) {
    preprocess_options p;
    p.n_phases = n_phases;
    p.min_epochs = std::max<std::size_t>(opt.min_epochs, 8);
    p.spline.gamma = opt.spline.gamma;
    p.wrap_padding = opt.spline.wrap_padding;
    p.fit_fourier = false;  // the features come from our own fit (order chosen by BIC up to fourier_max_order)
    return p;
}

/// Runs work(i, ab, c) for i in [0, n) on `threads` threads, each with its own pair of preprocessors.
template <class Work>
void parallel_inputs(std::size_t n, const rrl_input_options& opt, unsigned threads, bool show, Work&& work) {
    struct preprocessors {
        preprocessor ab, c;
    };
    ferrum::progress bar("prepare", n, "stars", show);
    parallel_for_each_worker(
        n, {threads, 256, &bar},
        [&] {
        return preprocessors{preprocessor(rrl_preprocess_options(opt.n_phases_rrab, opt)),
                             preprocessor(rrl_preprocess_options(opt.n_phases_rrc, opt))};
        },
        [&](preprocessors& p, std::size_t i) { work(i, p.ab, p.c); });
}

}  // namespace detail

/// \brief Inputs for light curves folded with their ephemerides (curve i with ephemerides[i]).
/// A star that cannot be prepared is kept, with its flag, so outputs stay one row per star.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<rrl_star_input> prepare_rrlyrae_inputs(const std::vector<light_curve>& curves,
                                                   const std::vector<rrl_ephemeris>& ephemerides,
                                                   const rrl_input_options& opt = {}, unsigned threads = 0,
                                                   bool show_progress = progress_enabled_by_default()) {
    if (curves.size() != ephemerides.size())
        throw value_error("prepare_rrlyrae_inputs: " + std::to_string(curves.size()) + " light curves but " +
                          std::to_string(ephemerides.size()) + " ephemerides");
    std::vector<rrl_star_input> out(curves.size());
    detail::parallel_inputs(curves.size(), opt, threads, show_progress,
                            [&](std::size_t i, preprocessor& ab, preprocessor& c) {
        const light_curve& lc = curves[i];
        const rrl_ephemeris& e = ephemerides[i];
        rrl_star_input& s = out[i];
        s.id = rrl_star_id(lc.source_id, lc.name);
        s.type = e.type;
        s.period = e.period;
        s.n_epochs = lc.size();
        if (!e.problem.empty()) {
            s.flag = e.problem;
            return;
        }
        if (std::string why = detail::implausible_input(e.period, lc.mag, lc.mag_err); !why.empty()) {
            s.flag = std::move(why);
            return;
        }
        if (lc.size() < opt.min_epochs) {
            s.flag = "too_few_epochs: " + std::to_string(lc.size()) + " < " + std::to_string(opt.min_epochs);
            return;
        }
        try {
            folded_curve fc = phase_fold(lc, e.period, e.epoch, {opt.min_epochs});
            detail::fill_input(s, fc, e.type, opt, ab, c);
            if (e.peak_to_peak > 0) s.peak_to_peak = e.peak_to_peak;
        } catch (const ferrum::error& x) {
            s.flag = std::string("preprocessing_failed: ") + x.what();
        }
    });
    return out;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<rrl_star_input> prepare_rrlyrae_inputs<void>(
    const std::vector<light_curve>& curves, const std::vector<rrl_ephemeris>& ephemerides, const rrl_input_options& opt,
    unsigned threads, bool show_progress);
#endif

/// \brief One star's input from its epochs (times in days, magnitudes, their errors; errors may be empty),
/// period (days), epoch of maximum light (same time scale) and type: the shortest way from a light curve to
/// rrlyrae_model::predict. Give the model's own input options (`model.options().input`) so that the star is
/// prepared as the model's training stars were. A star that cannot be prepared carries its flag (ok() false).
template <class Dummy = void>  // a template: compiled only where it is used
rrl_star_input prepare_rrlyrae_input(std::vector<double> time, std::vector<double> mag, std::vector<double> mag_err,
                                     double period, double epoch, rr_type type = rr_type::rrab,
                                     const rrl_input_options& opt = {}, std::string id = "") {
    if (mag.size() != time.size() || (!mag_err.empty() && mag_err.size() != time.size()))
        throw value_error("prepare_rrlyrae_input: " + std::to_string(time.size()) + " times, " +
                          std::to_string(mag.size()) + " magnitudes and " + std::to_string(mag_err.size()) +
                          " errors (give one of each per epoch; errors may be empty)");
    light_curve lc;
    lc.name = std::move(id);
    lc.time = std::move(time);
    lc.mag = std::move(mag);
    lc.mag_err = std::move(mag_err);
    rrl_ephemeris e;
    e.type = type;
    e.period = period;
    e.epoch = epoch;
    if (type != rr_type::rrab && type != rr_type::rrc) e.problem = std::string("unknown_type: ") + to_string(type);
    else if (!(period > 0) || !std::isfinite(epoch))
        e.problem = "no_period: the period must be > 0 and the epoch finite";
    return std::move(prepare_rrlyrae_inputs({lc}, {e}, opt, 1, false).front());
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE rrl_star_input prepare_rrlyrae_input<void>(std::vector<double> time, std::vector<double> mag,
                                                                    std::vector<double> mag_err, double period,
                                                                    double epoch, rr_type type,
                                                                    const rrl_input_options& opt, std::string id);
#endif

/// \brief Ephemerides from a vari_rrlyrae catalogue: type from best_classification, period pf (RRab) or
/// p1_o (RRc, RRd), epoch_g. A star missing from the catalogue or without a usable period is flagged.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<rrl_ephemeris> rrlyrae_ephemerides(const std::vector<light_curve>& curves,
                                               const rrlyrae_catalogue& catalogue) {
    std::vector<rrl_ephemeris> out(curves.size());
    for (std::size_t i = 0; i < curves.size(); ++i) {
        const rrlyrae_star* s = catalogue.find(curves[i].source_id);
        if (!s) {
            out[i].problem = "not_in_catalogue";
            continue;
        }
        out[i].type = s->type;
        if (s->peak_to_peak_g && *s->peak_to_peak_g > 0) out[i].peak_to_peak = *s->peak_to_peak_g;
        if (s->type == rr_type::unknown) {
            out[i].problem = "unknown_type: " + s->folding_problem();
        } else if (auto f = s->folding()) {
            out[i].period = f->period;
            if (s->epoch_g && std::isfinite(*s->epoch_g)) out[i].epoch = *s->epoch_g;
            else out[i].problem = "no_period: epoch_g is missing";
        } else {
            out[i].problem = "no_period: " + s->folding_problem();
        }
    }
    return out;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<rrl_ephemeris> rrlyrae_ephemerides<void>(const std::vector<light_curve>& curves,
                                                                              const rrlyrae_catalogue& catalogue);
#endif

/// \brief Inputs for curves that come already folded (`id,phase,mag`); `types[i]` the type of curve i
/// (one entry: the same type for all). Their period is fc.period (0: unknown, needs use_period = false).
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<rrl_star_input> prepare_rrlyrae_inputs(const std::vector<folded_curve>& curves,
                                                   const std::vector<rr_type>& types, const rrl_input_options& opt = {},
                                                   unsigned threads = 0,
                                                   bool show_progress = progress_enabled_by_default()) {
    if (types.size() != 1 && types.size() != curves.size())
        throw value_error("prepare_rrlyrae_inputs: give one type, or one per curve");
    std::vector<rrl_star_input> out(curves.size());
    detail::parallel_inputs(curves.size(), opt, threads, show_progress,
                            [&](std::size_t i, preprocessor& ab, preprocessor& c) {
        const folded_curve& fc = curves[i];
        rrl_star_input& s = out[i];
        s.id = rrl_star_id(fc.source_id, fc.name);
        s.type = types.size() == 1 ? types[0] : types[i];
        s.period = fc.period;
        s.n_epochs = fc.size();
        if (s.type != rr_type::rrab && s.type != rr_type::rrc)
            s.flag = std::string("unknown_type: ") + to_string(s.type);
        else if (opt.use_period && !(fc.period > 0))
            s.flag = "no_period: the folded curve has none (use a model trained without periods)";
        else if (std::string why = detail::implausible_input(fc.period, fc.mag, fc.mag_err); !why.empty())
            s.flag = std::move(why);
        else detail::fill_input(s, fc, s.type, opt, ab, c);
    });
    return out;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<rrl_star_input> prepare_rrlyrae_inputs<void>(
    const std::vector<folded_curve>& curves, const std::vector<rr_type>& types, const rrl_input_options& opt,
    unsigned threads, bool show_progress);
#endif

}  // namespace ferrum::models
