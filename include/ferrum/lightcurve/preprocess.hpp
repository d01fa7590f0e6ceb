// The light-curve pre-processing of Monti et al. (2025, A&A 702, A148, Sect. 3): fold on the period with
// phase 0 at maximum light (eq. 1), fit a smoothing spline (make_smoothing_spline; by default modified GCV,
// Kim & Gu 2004, on wrap-padded phases), resample it on N uniform phases, standardise per curve, and return
// the two channels (phase x P, magnitude) with the features (mean, std, peak-to-peak, Fourier parameters).
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/lightcurve/fourier.hpp"
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/lightcurve/phase_fold.hpp"
#include "ferrum/spline/resample.hpp"
#include "ferrum/spline/smoothing_spline.hpp"

namespace ferrum {

/// \brief Phases per resampled curve in Monti et al. (2025): 264 for RRab, 265 for RRc.
constexpr std::size_t paper_phases_rrab = 264;
constexpr std::size_t paper_phases_rrc = 265;

/// \brief Settings of the pre-processing: the paper's RRab grid, and spline defaults chosen for robustness on
/// sparse Gaia curves (wrap_padding, spline); wrap_padding = 0 with spline.gamma = 1 is the plain GCV spline.
struct preprocess_options {
    /// Phases of the resampled curve (paper: 264 RRab, 265 RRc).
    std::size_t n_phases = paper_phases_rrab;
    /// Grid np.linspace(0, 1, n_phases) (true) or np.linspace(0, 1, n_phases, endpoint=False) (false).
    bool include_end = true;
    /// Fraction of a cycle (0 to 0.5) copied from each end of the folded curve to the other, shifted by one
    /// cycle, before the spline is fitted, so that it sees the curve as periodic near phases 0 and 1 instead
    /// of extrapolating there. 0 fits the folded epochs only, as the paper's make_smoothing_spline does;
    /// the default 0.1 halves the median error within 0.05 of phase 0 and 1 on simulated Gaia curves
    /// (docs/lightcurves.md, bench_preprocess) for about 25% more time.
    double wrap_padding = 0.1;
    /// The spline's smoothing parameter; nullopt chooses it per curve by GCV.
    std::optional<double> lam;
    /// Weight the spline by 1/mag_err^2 when the curve has errors (make_smoothing_spline's w); off by
    /// default: the paper's spline is unweighted, and Gaia's formal errors under-state the scatter.
    bool weight_spline_by_errors = false;
    /// Curves with fewer epochs are refused (value_error / per-curve error).
    std::size_t min_epochs = 12;
    /// Fit the Fourier series on the folded epochs (features for relations and for checks).
    bool fit_fourier = true;
    fourier_options fourier;
    /// The smoothing spline's options. The default here is the modified GCV of Kim & Gu (2004), gamma = 1.4:
    /// plain GCV (gamma = 1) has its minimum at the interpolating end for about 1 in 5 sparse Gaia curves,
    /// and an interpolated noisy curve swings by magnitudes between epochs.
    smoothing_spline_options spline = modified_gcv();

    static smoothing_spline_options modified_gcv() { return smoothing_spline_options::modified_gcv(); }
};

/// \brief Per-curve features kept beside the standardised sequence.
struct curve_features {
    double mean = 0.0;                             ///< mean of the resampled curve (mag)
    double std = 0.0;                              ///< population std of the resampled curve (mag)
    double peak_to_peak = 0.0;                     ///< max - min of the resampled curve (mag)
    std::size_t n_epochs = 0;                      ///< folded epochs used
    double lam = 0.0;                              ///< the spline's smoothing parameter
    std::optional<fourier_decomposition> fourier;  ///< present when preprocess_options::fit_fourier
};

/// \brief One pre-processed curve: the network's two input channels and the features.
struct preprocessed_curve {
    std::int64_t source_id = 0;
    std::string name;
    double period = 0.0;  ///< days; 0 when the input came folded without a period
    /// Channel 1: phase x period (days) on the grid uniform_phase_grid(n_phases, include_end) (also
    /// preprocessor::grid(); not stored per curve, to halve a DR3-sized batch). When the period is unknown
    /// (0) it holds the phase itself.
    std::vector<double> time;
    std::vector<double> mag;  ///< channel 2: the resampled magnitudes, standardised
    curve_features features;
};

/// \brief A curve of a batch: the result, or why the curve could not be pre-processed.
struct preprocess_result {
    preprocessed_curve curve;
    std::string error;  ///< empty when the curve was pre-processed
    bool ok() const noexcept { return error.empty(); }
};

/// \brief The pre-processing of one curve at a time, keeping the spline's work arrays between curves (so
/// a batch allocates little). Not thread-safe: use one per thread, as preprocess_curves() does. Use it as
/// `preprocessor`; the class template exists so that a translation unit compiles it (and the Fourier fit's
/// QR) only when it uses it.
/// \tparam Scalar the number type of the fits: double (the only one supported)
template <class Scalar = double>
class basic_preprocessor {
    static_assert(std::is_same_v<Scalar, double>, "preprocessor computes in double: use preprocessor");

public:
    explicit basic_preprocessor(preprocess_options opt = {}) : opt_(std::move(opt)), fitter_(opt_.spline) {
        if (!(opt_.wrap_padding >= 0.0 && opt_.wrap_padding <= 0.5))
            throw value_error("preprocess_options: wrap_padding must be in [0, 0.5], got " +
                              detail::format_value(opt_.wrap_padding));
        if (opt_.lam && !(*opt_.lam >= 0.0 && std::isfinite(*opt_.lam)))
            throw value_error("preprocess_options: lam must be finite and >= 0, got " +
                              detail::format_value(*opt_.lam));
        grid_ = uniform_phase_grid(opt_.n_phases, opt_.include_end);
    }

    const preprocess_options& options() const noexcept { return opt_; }
    const std::vector<double>& grid() const noexcept { return grid_; }

    /// Folds `lc` on `period` with phase 0 at `epoch_max`, then as operator()(const folded_curve&).
    /// \throws value_error (naming the star) for a bad period or epoch, too few epochs, a flat curve.
    preprocessed_curve operator()(const light_curve& lc, double period, double epoch_max) {
        return (*this)(phase_fold(lc, period, epoch_max, {opt_.min_epochs}));
    }

    /// Spline, resample, standardise and features of an already folded curve (phase in [0, 1)).
    preprocessed_curve operator()(const folded_curve& fc) {
        preprocessed_curve out;
        out.source_id = fc.source_id;
        out.name = fc.name;
        out.period = fc.period;
        out.mag = fit(fc, out.features);
        out.time.resize(grid_.size());
        const double scale = time_scale(fc);
        for (std::size_t i = 0; i < grid_.size(); ++i) out.time[i] = grid_[i] * scale;
        return out;
    }

    /// The same, written straight into one row of a batch: grid().size() steps of (time channel, standardised
    /// magnitude) interleaved at `row` (batch_tensor's layout), each value as operator() gives it, cast to T.
    /// Returns the curve's features. Nothing is written when it throws.
    template <class T>
    curve_features operator()(const folded_curve& fc, T* row) {
        curve_features f;
        const std::vector<double> mag = fit(fc, f);
        const double scale = time_scale(fc);
        for (std::size_t i = 0; i < grid_.size(); ++i) {
            row[2 * i] = static_cast<T>(grid_[i] * scale);
            row[2 * i + 1] = static_cast<T>(mag[i]);
        }
        return f;
    }

private:
    static double time_scale(const folded_curve& fc) noexcept { return fc.period > 0 ? fc.period : 1.0; }

    // The curve's magnitudes resampled on grid_ and standardised (the one per-curve standardisation of the
    // magnitudes, ferrum::standardise), with `f` filled in.
    std::vector<double> fit(const folded_curve& fc, curve_features& f) {
        const std::string who = detail::curve_name(fc.source_id, fc.name);
        detail::check_light_curve_columns(who, fc.phase, "phase", fc.mag, fc.mag_err);
        if (fc.size() < opt_.min_epochs)
            throw value_error(who + ": " + std::to_string(fc.size()) + " epochs, at least " +
                              std::to_string(opt_.min_epochs) + " needed");
        for (std::size_t i = 0; i < fc.size(); ++i)
            if (!(fc.phase[i] >= 0.0 && fc.phase[i] < 1.0))
                throw value_error(who + ": phase[" + std::to_string(i) + "] = " + detail::format_value(fc.phase[i]) +
                                  " is outside [0, 1)");
        if (!(fc.period >= 0.0) || !std::isfinite(fc.period))
            throw value_error(who + ": period " + detail::format_value(fc.period) + " is not finite and >= 0");

        f.n_epochs = fc.size();
        try {
            pad(fc);
            const smoothing_spline s = opt_.lam ? fitter_.fit(x_, y_, w_, *opt_.lam) : fitter_.fit(x_, y_, w_);
            f.lam = s.lam();
            // s(grid) walks the sorted grid once instead of a binary search per phase (3x faster here).
            std::vector<double> values = s(grid_);
            detail::check_resampled(values, grid_);
            standardised_curve z = standardise(std::move(values));
            f.mean = z.mean;
            f.std = z.std;
            f.peak_to_peak = z.peak_to_peak;
            if (opt_.fit_fourier) f.fourier = fit_fourier(fc, opt_.fourier);
            return std::move(z.values);
        } catch (const value_error& e) {
            const std::string what = e.what();
            // The spline and resampler do not know the star: name it once, here.
            throw value_error(what.rfind(who, 0) == 0 ? what : who + ": " + what);
        }
    }

    // x_, y_, w_ <- the folded epochs, preceded by those with phase >= 1 - pad shifted by -1 and followed by
    // those with phase < pad shifted by +1 (the fitter sorts, so unsorted input is fine too).
    void pad(const folded_curve& fc) {
        const double p = opt_.wrap_padding;
        const bool weighted = opt_.weight_spline_by_errors && fc.has_errors();
        x_.clear();
        y_.clear();
        w_.clear();
        auto push = [&](std::size_t i, double shift) {
            x_.push_back(fc.phase[i] + shift);
            y_.push_back(fc.mag[i]);
            if (weighted) w_.push_back(1.0 / (fc.mag_err[i] * fc.mag_err[i]));
        };
        const std::size_t n = fc.size();
        if (p > 0)
            for (std::size_t i = 0; i < n; ++i)
                if (fc.phase[i] >= 1.0 - p) push(i, -1.0);
        for (std::size_t i = 0; i < n; ++i) push(i, 0.0);
        if (p > 0)
            for (std::size_t i = 0; i < n; ++i)
                if (fc.phase[i] < p) push(i, 1.0);
    }

    preprocess_options opt_;
    smoothing_spline_fitter fitter_;
    std::vector<double> grid_, x_, y_, w_;
};

/// The pre-processing of one curve at a time (see basic_preprocessor).
using preprocessor = basic_preprocessor<>;
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE class basic_preprocessor<>;
#endif

/// \brief preprocessor(opt)(lc, period, epoch_max) for one curve.
template <class Dummy = void>  // a template: compiled only where it is used
preprocessed_curve preprocess_curve(const light_curve& lc, double period, double epoch_max,
                                    const preprocess_options& opt = {}) {
    return preprocessor(opt)(lc, period, epoch_max);
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE preprocessed_curve preprocess_curve<void>(const light_curve& lc, double period,
                                                                   double epoch_max, const preprocess_options& opt);
#endif
/// \brief preprocessor(opt)(fc) for one already folded curve.
template <class Dummy = void>  // a template: compiled only where it is used
preprocessed_curve preprocess_curve(const folded_curve& fc, const preprocess_options& opt = {}) {
    return preprocessor(opt)(fc);
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE preprocessed_curve preprocess_curve<void>(const folded_curve& fc,
                                                                   const preprocess_options& opt);
#endif

/// \brief How a batch runs.
struct batch_options {
    unsigned threads = 0;  ///< 0: std::thread::hardware_concurrency()
    bool show_progress = progress_enabled_by_default();
    std::string label = "preprocess";
};

namespace detail {

/// Runs `work(preprocessor&, i)` for i in [0, n) on `threads` threads, each with its own preprocessor, and
/// stores each curve's outcome at its index: results do not depend on the number of threads. A ferrum
/// error in one curve becomes that curve's error; anything else (e.g. bad_alloc) stops the batch and is
/// rethrown.
template <class Work>
std::vector<preprocess_result> run_batch(std::size_t n, const preprocess_options& opt, const batch_options& b,
                                         Work&& work) {
    std::vector<preprocess_result> results(n);
    preprocessor probe(opt);  // validates the options once, on the calling thread
    ferrum::progress bar(b.label, n, "curves", b.show_progress);
    parallel_for_each_worker(
        n, {b.threads, 64, &bar}, [&] { return preprocessor(opt); },
        [&](preprocessor& p, std::size_t i) {
        try {
            results[i].curve = work(p, i);
        } catch (const ferrum::error& e) {
            results[i].error = e.what();
        }
        });
    return results;
}

}  // namespace detail

/// \brief Pre-processes already folded curves in parallel; result i belongs to curves[i].
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<preprocess_result> preprocess_curves(const std::vector<folded_curve>& curves,
                                                 const preprocess_options& opt = {}, const batch_options& batch = {}) {
    return detail::run_batch(curves.size(), opt, batch, [&](preprocessor& p, std::size_t i) { return p(curves[i]); });
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<preprocess_result> preprocess_curves<void>(const std::vector<folded_curve>& curves,
                                                                                const preprocess_options& opt,
                                                                                const batch_options& batch);
#endif

/// \brief Folds and pre-processes light curves in parallel, curve i with periods[i] and epochs_max[i].
/// \throws value_error if the three vectors differ in length (per-curve problems are per-curve errors).
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<preprocess_result> preprocess_curves(const std::vector<light_curve>& curves,
                                                 const std::vector<double>& periods,
                                                 const std::vector<double>& epochs_max,
                                                 const preprocess_options& opt = {}, const batch_options& batch = {}) {
    if (periods.size() != curves.size() || epochs_max.size() != curves.size())
        throw value_error("preprocess_curves: " + std::to_string(curves.size()) + " curves but " +
                          std::to_string(periods.size()) + " periods and " + std::to_string(epochs_max.size()) +
                          " epochs");
    return detail::run_batch(curves.size(), opt, batch,
                             [&](preprocessor& p, std::size_t i) { return p(curves[i], periods[i], epochs_max[i]); });
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<preprocess_result> preprocess_curves<void>(const std::vector<light_curve>& curves,
                                                                                const std::vector<double>& periods,
                                                                                const std::vector<double>& epochs_max,
                                                                                const preprocess_options& opt,
                                                                                const batch_options& batch);
#endif

/// \brief The scaling of a batch tensor's time channel, t -> (t - mean) / scale: the identity by default; a
/// model passes the scaling it learnt from its training curves, so that the time channel is standardised
/// once, when the batch is built.
struct time_scaling {
    double mean = 0.0;
    double scale = 1.0;
};

/// \brief One curve's sequence as batch_tensor() reads it: `steps` steps, step t's time channel at
/// time[t * stride] and its standardised magnitude at mag[t * stride]. A type becomes a batch row by an
/// overload of sequence_of() beside it (found by argument-dependent lookup), as the models' star inputs do.
template <class V>
struct sequence_view {
    const V* time = nullptr;
    const V* mag = nullptr;
    std::size_t steps = 0;
    std::size_t stride = 1;
};

/// \brief A pre-processed curve as a batch row. \throws value_error if its channels differ in length.
inline sequence_view<double> sequence_of(const preprocessed_curve& c) {
    if (c.time.size() != c.mag.size())
        throw value_error("batch_tensor: " + detail::curve_name(c.source_id, c.name) + " has " +
                          std::to_string(c.time.size()) + " times but " + std::to_string(c.mag.size()) + " magnitudes");
    return {c.time.data(), c.mag.data(), c.mag.size(), 1};
}

/// \brief The batch tensor, the one form in which sequences reach a model: shape (rows, steps, 2), the GRU's
/// layout (batch, sequence, features). Row k is curves[rows[k]]: channel 0 its time channel (phase x period,
/// or phase) scaled by `scaling`, channel 1 its standardised magnitude. Training, prediction, the model files'
/// self-tests and the example's .npy output all build their batches here. Curves of different lengths
/// (raw-epoch sequences) need `lengths`: rows are then zero-padded to the longest and lengths[k] is row k's
/// number of steps (left empty when all rows have the same).
/// \throws value_error if a row index is out of range, or the curves differ in length and `lengths` is null.
template <class T = double, class Curve>
xt::xtensor<T, 3> batch_tensor(const std::vector<Curve>& curves, const std::vector<std::size_t>& rows,
                               const time_scaling& scaling = {}, std::vector<std::size_t>* lengths = nullptr) {
    std::size_t steps = 0;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        if (rows[k] >= curves.size())
            throw value_error("batch_tensor: row " + std::to_string(rows[k]) + " of " + std::to_string(curves.size()) +
                              " curves");
        const std::size_t n = sequence_of(curves[rows[k]]).steps;
        if (!lengths && k > 0 && n != steps)
            throw value_error("batch_tensor: curve " + std::to_string(rows[k]) + " has " + std::to_string(n) +
                              " phases, the first has " + std::to_string(steps));
        steps = std::max(steps, n);
    }
    xt::xtensor<T, 3> t = xt::zeros<T>({rows.size(), steps, std::size_t(2)});
    bool ragged = false;
    if (lengths) lengths->assign(rows.size(), 0);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const auto s = sequence_of(curves[rows[k]]);
        T* dst = t.data() + k * steps * 2;
        for (std::size_t i = 0; i < s.steps; ++i) {
            dst[2 * i] = static_cast<T>((static_cast<double>(s.time[i * s.stride]) - scaling.mean) / scaling.scale);
            dst[2 * i + 1] = static_cast<T>(s.mag[i * s.stride]);
        }
        if (lengths) (*lengths)[k] = s.steps;
        ragged = ragged || s.steps != steps;
    }
    if (lengths && !ragged) lengths->clear();
    return t;
}

/// \brief batch_tensor() of every curve, in order, with the time channel as it is (phase x period).
template <class T = double, class Curve>
xt::xtensor<T, 3> batch_tensor(const std::vector<Curve>& curves) {
    std::vector<std::size_t> rows(curves.size());
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = k;
    return batch_tensor<T>(curves, rows);
}

}  // namespace ferrum
