// Period search for light curves without a catalogue period: the generalised (floating-mean) Lomb-Scargle
// periodogram of Zechmeister & Kuerster (2009) with K Fourier terms (Palmer 2009; VanderPlas 2018, sec. 6),
// normalised as astropy's LombScargle 'standard', its false-alarm probability (Baluev 2008, eq. 6 and
// Table 1), and the epoch of maximum light from a Fourier fit at the best period.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/lightcurve/fourier.hpp"
#include "ferrum/lightcurve/light_curve.hpp"
#include "ferrum/lightcurve/phase_fold.hpp"

namespace ferrum {

/// \brief How the power is computed on the frequency grid.
enum class periodogram_method {
    /// The trigonometric sums of every frequency from the previous one by complex rotation, exp(i w_{j+1} t)
    /// = exp(i w_j t) exp(i dw t), re-seeded with exact sin/cos every 512 frequencies: O(N F) multiplies and
    /// no trigonometric call in the inner loop. Equal to `direct` to ~1e-10 relative (rounding only).
    fast,
    /// sin/cos of every (epoch, frequency, harmonic): the textbook O(N F K) sums, kept as the cross-check.
    direct,
};

/// \brief Options of lomb_scargle() and find_period(); the names and defaults are astropy's
/// `LombScargle(..., nterms, fit_mean, center_data)` and `autofrequency(samples_per_peak, nyquist_factor,
/// minimum_frequency, maximum_frequency)`. Frequencies in cycles per day when times are in days.
struct periodogram_options {
    int nterms = 1;                           ///< K, the number of Fourier terms of the model at each frequency (1..10)
    bool fit_mean = true;                     ///< a floating mean at each frequency (the "generalised" periodogram)
    bool center_data = true;                  ///< subtract the weighted mean first (always done when fit_mean)
    bool use_errors = true;                   ///< weights 1/mag_err^2 when the curve has errors, else 1
    double samples_per_peak = 5;              ///< grid step df = 1 / (baseline * samples_per_peak)
    double nyquist_factor = 5;                ///< default maximum = nyquist_factor * N / (2 baseline)
    std::optional<double> minimum_frequency;  ///< default df / 2
    std::optional<double> maximum_frequency;  ///< default from nyquist_factor
    periodogram_method method = periodogram_method::fast;
    /// Refine the grid's best frequency by a golden-section search of the exact power within one grid
    /// step on each side (the grid alone resolves the peak to df / 2).
    bool refine_peak = true;
    /// A grid larger than this is refused (value_error) rather than allocated: 8 bytes per frequency.
    std::size_t max_frequencies = 50'000'000;
    /// Fourier fit for the epoch of maximum light (order chosen by the BIC between these bounds).
    fourier_options epoch_fit = {0, 1, 8, true, covariance_scaling::inflate_only};
    parallel_options parallel = {};  ///< the frequency blocks are spread over these threads
};

/// \brief The RR Lyrae preset: periods 0.2-1.0 d (frequencies 1-5 per day), 10 samples per peak and a
/// 3-term model, which follows the saw-tooth RRab curve better than one sinusoid (on the 264 CRTS RRab of
/// docs/periodogram.md it recovers 263 catalogue periods; one term, astropy on the same grid, 261).
inline periodogram_options rrlyrae_period_search_options() {
    periodogram_options o;
    o.nterms = 3;
    o.samples_per_peak = 10;
    o.minimum_frequency = 1.0;
    o.maximum_frequency = 5.0;
    return o;
}

/// \brief A regular frequency grid f_j = f0 + j df, j = 0..n-1.
struct frequency_grid {
    double f0 = 0.0;
    double df = 0.0;
    std::size_t n = 0;

    double operator[](std::size_t j) const noexcept { return f0 + df * double(j); }
    double max() const noexcept { return n ? (*this)[n - 1] : f0; }
    std::size_t size() const noexcept { return n; }
};

/// \brief A periodogram: the grid and the power at each of its frequencies ('standard' normalisation:
/// the fraction of the weighted variance about the mean that the K-term model explains, in [0, 1]).
struct periodogram {
    frequency_grid frequency;
    std::vector<double> power;
};

/// \brief What find_period() found.
struct period_search_result {
    double frequency = 0.0;  ///< best frequency (refined when periodogram_options::refine_peak)
    double period = 0.0;     ///< 1 / frequency
    double power = 0.0;      ///< power of the nterms model at `frequency`
    /// Baluev (2008) false-alarm probability of the highest peak up to the grid's maximum frequency, as
    /// astropy's `false_alarm_probability(method='baluev')`. It is defined for the 1-term periodogram only,
    /// so for nterms > 1 it is evaluated on the 1-term power at `frequency` (the significance of the
    /// fundamental at the period the K-term search chose), stated in `fap_power_nterms1`.
    double false_alarm_probability = 1.0;
    double fap_power_nterms1 = 0.0;  ///< the 1-term power the FAP was computed from
    /// Time of maximum light (minimum magnitude of `fit`), the first one at or after the earliest epoch.
    double epoch_max = 0.0;
    fourier_decomposition fit;  ///< the Fourier series at `period`, phases counted from the earliest epoch
    frequency_grid grid;        ///< the grid that was searched
};

namespace detail {

constexpr int periodogram_max_nterms = 10;
constexpr std::size_t periodogram_block = 512;

/// The data the sums need: times relative to the first epoch (the power does not depend on the origin, the
/// phases keep more bits), normalised weights, weighted residuals about the mean and their chi2.
struct ls_data {
    std::vector<double> t, w, wy;
    double wsum = 0, wysum = 0, chi2_ref = 0, t_ref = 0, baseline = 0;
};

inline std::string periodogram_who(const light_curve& lc) { return curve_name(lc.source_id, lc.name); }

inline ls_data prepare_ls(const light_curve& lc, const periodogram_options& opt) {
    const std::string who = periodogram_who(lc);
    check_light_curve_columns(who, lc.time, "time", lc.mag, lc.mag_err);
    if (opt.nterms < 1 || opt.nterms > periodogram_max_nterms)
        throw value_error(who + ": nterms must be in 1.." + std::to_string(periodogram_max_nterms) + ", got " +
                          std::to_string(opt.nterms));
    const std::size_t n = lc.size();
    const std::size_t p = std::size_t(2 * opt.nterms + (opt.fit_mean ? 1 : 0));
    if (n <= p)
        throw value_error(who + ": " + std::to_string(n) + " epochs are too few for a periodogram with nterms " +
                          std::to_string(opt.nterms) + " (needs at least " + std::to_string(p + 1) + ")");
    ls_data d;
    const auto [lo, hi] = std::minmax_element(lc.time.begin(), lc.time.end());
    d.t_ref = *lo;
    d.baseline = *hi - *lo;
    if (!(d.baseline > 0)) throw value_error(who + ": time spans 0 days; a periodogram needs distinct epochs");
    d.t.resize(n);
    d.w.resize(n);
    d.wy.resize(n);
    const bool weighted = opt.use_errors && lc.has_errors();
    double ws = 0;
    for (std::size_t i = 0; i < n; ++i) {
        d.t[i] = lc.time[i] - d.t_ref;
        d.w[i] = weighted ? 1.0 / (lc.mag_err[i] * lc.mag_err[i]) : 1.0;
        ws += d.w[i];
    }
    for (auto& w : d.w) w /= ws;
    double mean = 0;
    for (std::size_t i = 0; i < n; ++i) mean += d.w[i] * lc.mag[i];
    const double shift = (opt.fit_mean || opt.center_data) ? mean : 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double y = lc.mag[i] - shift;
        d.wy[i] = d.w[i] * y;
        d.wysum += d.wy[i];
        d.chi2_ref += d.wy[i] * y;
        d.wsum += d.w[i];
    }
    if (!(d.chi2_ref > 0)) throw value_error(who + ": mag is constant; the periodogram is undefined");
    return d;
}

/// Trigonometric sums at one frequency: cw[m] = sum w cos(m w t), sw[m] likewise (m = 0..2K) and cy[m], sy[m]
/// = sum w y cos/sin(m w t) (m = 0..K).
struct trig_sums {
    std::array<double, 2 * periodogram_max_nterms + 1> cw{}, sw{}, cy{}, sy{};
};

/// Power from the sums by the normal equations (Palmer 2009): X = [1, sin(wt), cos(wt), ..., sin(Kwt),
/// cos(Kwt)], X^T W X from the product-to-sum identities, power = (X^T W y)^T (X^T W X)^-1 (X^T W y) /
/// chi2_ref. Solved by LDL^T with a pivot that falls to rounding level dropping its column, so that an
/// aliased frequency (columns dependent, e.g. f = 0 or a sampling alias) gives the projection onto the
/// independent ones instead of a division by zero.
inline double power_from_sums(const trig_sums& s, int K, bool fit_mean, double chi2_ref) noexcept {
    constexpr int pmax = 2 * periodogram_max_nterms + 1;
    // Column j: kind (0 constant, 1 sin, 2 cos) and harmonic.
    std::array<int, pmax> kind{}, harm{};
    int p = 0;
    if (fit_mean) kind[std::size_t(p)] = 0, harm[std::size_t(p++)] = 0;
    for (int k = 1; k <= K; ++k) {
        kind[std::size_t(p)] = 1, harm[std::size_t(p++)] = k;
        kind[std::size_t(p)] = 2, harm[std::size_t(p++)] = k;
    }
    auto cw = [&](int m) { return s.cw[std::size_t(m)]; };
    auto sw = [&](int m) { return m < 0 ? -s.sw[std::size_t(-m)] : s.sw[std::size_t(m)]; };
    // <a_m(x) b_n(x)>_w with a, b in {1, sin, cos}.
    auto xtx = [&](int ka, int m, int kb, int n) {
        if (ka == 0 && kb == 0) return cw(0);
        if (ka == 0) return kb == 1 ? sw(n) : cw(n);
        if (kb == 0) return ka == 1 ? sw(m) : cw(m);
        if (ka == 1 && kb == 1) return 0.5 * (cw(std::abs(m - n)) - cw(m + n));
        if (ka == 2 && kb == 2) return 0.5 * (cw(std::abs(m - n)) + cw(m + n));
        if (ka == 1) return 0.5 * (sw(m - n) + sw(m + n));  // sin(m) cos(n)
        return 0.5 * (sw(n - m) + sw(m + n));               // cos(m) sin(n)
    };
    std::array<double, pmax * pmax> L{};
    std::array<double, pmax> D{}, b{}, z{};
    double trace = 0;
    for (int j = 0; j < p; ++j) {
        b[std::size_t(j)] = kind[std::size_t(j)] == 0   ? s.cy[0]
                            : kind[std::size_t(j)] == 1 ? s.sy[std::size_t(harm[std::size_t(j)])]
                                                        : s.cy[std::size_t(harm[std::size_t(j)])];
        trace += xtx(kind[std::size_t(j)], harm[std::size_t(j)], kind[std::size_t(j)], harm[std::size_t(j)]);
    }
    const double tol = 1e-12 * trace;
    double power = 0;
    for (int j = 0; j < p; ++j) {
        const std::size_t uj = std::size_t(j);
        for (int i = j; i < p; ++i) {
            const std::size_t ui = std::size_t(i);
            double a = xtx(kind[ui], harm[ui], kind[uj], harm[uj]);
            for (int k = 0; k < j; ++k)
                a -= L[ui * pmax + std::size_t(k)] * L[uj * pmax + std::size_t(k)] * D[std::size_t(k)];
            L[ui * pmax + uj] = a;  // D_j on the diagonal, then L_ij = a / D_j below it
        }
        const double dj = L[uj * pmax + uj];
        double zj = b[uj];
        for (int k = 0; k < j; ++k) zj -= L[uj * pmax + std::size_t(k)] * z[std::size_t(k)];
        if (dj > tol) {
            D[uj] = dj;
            for (int i = j + 1; i < p; ++i) L[std::size_t(i) * pmax + uj] /= dj;
            z[uj] = zj;
            power += zj * zj / dj;
        } else {  // dependent column: drop it
            D[uj] = 0;
            for (int i = j + 1; i < p; ++i) L[std::size_t(i) * pmax + uj] = 0;
            z[uj] = 0;
        }
        L[uj * pmax + uj] = 1;
    }
    return std::clamp(power / chi2_ref, 0.0, 1.0);
}

/// Harmonics of w needed: 0..2K; of w y: 0..K.
inline void init_sums(trig_sums& s, const ls_data& d) noexcept {
    s = trig_sums{};
    s.cw[0] = d.wsum;
    s.cy[0] = d.wysum;
}

/// The direct sums at one frequency (sin/cos of every harmonic): the cross-check of the fast path, and what
/// the peak refinement evaluates.
inline double direct_power(const ls_data& d, double f, int K, bool fit_mean) noexcept {
    trig_sums s;
    init_sums(s, d);
    for (std::size_t i = 0; i < d.t.size(); ++i) {
        const double x = two_pi * f * d.t[i];
        for (int m = 1; m <= 2 * K; ++m) {
            const double c = std::cos(m * x), sn = std::sin(m * x);
            s.cw[std::size_t(m)] += d.w[i] * c;
            s.sw[std::size_t(m)] += d.w[i] * sn;
            if (m <= K) {
                s.cy[std::size_t(m)] += d.wy[i] * c;
                s.sy[std::size_t(m)] += d.wy[i] * sn;
            }
        }
    }
    return power_from_sums(s, K, fit_mean, d.chi2_ref);
}

/// Per-thread scratch of the fast path: the rotating phasors of the block, their steps, and the weights,
/// padded with zero weights to a multiple of `lanes` epochs.
struct rotation_state {
    std::vector<double> zr, zi, dr, di, w, wy;
};

/// Epochs processed side by side in independent lanes (the sums over epochs are kept per lane and added at
/// the end, so the loop vectorises without reassociating a reduction).
constexpr std::size_t lanes = 8;

/// The fast path on frequencies [j0, j1) of `grid`: each epoch's phasor exp(2 pi i f t) is seeded exactly at
/// f_{j0} and rotated by exp(2 pi i df t) from one frequency to the next; harmonic m is its m-th power.
inline void fast_block(const ls_data& d, const frequency_grid& grid, std::size_t j0, std::size_t j1, int K,
                       bool fit_mean, rotation_state& st, double* power) {
    const std::size_t n = d.t.size(), np = (n + lanes - 1) / lanes * lanes;
    st.zr.assign(np, 1.0);
    st.zi.assign(np, 0.0);
    st.dr.assign(np, 1.0);
    st.di.assign(np, 0.0);
    st.w.assign(np, 0.0);
    st.wy.assign(np, 0.0);
    const double f0 = grid[j0];
    for (std::size_t i = 0; i < n; ++i) {
        const double x = two_pi * f0 * d.t[i], dx = two_pi * grid.df * d.t[i];
        st.zr[i] = std::cos(x);
        st.zi[i] = std::sin(x);
        st.dr[i] = std::cos(dx);
        st.di[i] = std::sin(dx);
        st.w[i] = d.w[i];
        st.wy[i] = d.wy[i];
    }
    const std::size_t M = std::size_t(2 * K), Ky = std::size_t(K);
    // Eigen's fixed-size arrays give explicit SIMD packets on whatever instruction set the build targets.
    using lane_t = Eigen::Array<double, lanes, 1>;
    using cmap = Eigen::Map<const lane_t>;
    using map = Eigen::Map<lane_t>;
    std::array<lane_t, 2 * periodogram_max_nterms + 1> acw, asw, acy, asy;
    trig_sums s;
    for (std::size_t j = j0; j < j1; ++j) {
        for (std::size_t m = 1; m <= M; ++m) acw[m].setZero(), asw[m].setZero(), acy[m].setZero(), asy[m].setZero();
        for (std::size_t ib = 0; ib < np; ib += lanes) {
            const lane_t cr = cmap(st.zr.data() + ib), ci = cmap(st.zi.data() + ib);
            const lane_t wl = cmap(st.w.data() + ib), wyl = cmap(st.wy.data() + ib);
            lane_t hr = cr, hi = ci;
            for (std::size_t m = 1; m <= M; ++m) {
                acw[m] += wl * hr;
                asw[m] += wl * hi;
                if (m <= Ky) {
                    acy[m] += wyl * hr;
                    asy[m] += wyl * hi;
                }
                if (m < M) {
                    const lane_t r = hr * cr - hi * ci;
                    hi = hr * ci + hi * cr;
                    hr = r;
                }
            }
            const lane_t dr = cmap(st.dr.data() + ib), di = cmap(st.di.data() + ib);
            map(st.zr.data() + ib) = cr * dr - ci * di;
            map(st.zi.data() + ib) = cr * di + ci * dr;
        }
        init_sums(s, d);
        for (std::size_t m = 1; m <= M; ++m) {
            s.cw[m] = acw[m].sum();
            s.sw[m] = asw[m].sum();
            if (m <= Ky) s.cy[m] = acy[m].sum(), s.sy[m] = asy[m].sum();
        }
        power[j] = power_from_sums(s, K, fit_mean, d.chi2_ref);
    }
}

inline frequency_grid make_grid(const std::string& who, double baseline, std::size_t n,
                                const periodogram_options& opt) {
    auto positive = [&](double v, const char* name) {
        if (!(v > 0) || !std::isfinite(v))
            throw value_error(who + ": " + name + " must be positive and finite, got " + format_value(v));
    };
    positive(opt.samples_per_peak, "samples_per_peak");
    positive(opt.nyquist_factor, "nyquist_factor");
    frequency_grid g;
    g.df = 1.0 / baseline / opt.samples_per_peak;
    const double fmin = opt.minimum_frequency ? *opt.minimum_frequency : 0.5 * g.df;
    const double avg_nyquist = 0.5 * double(n) / baseline;  // astropy's order of operations, bit for bit
    const double fmax = opt.maximum_frequency ? *opt.maximum_frequency : opt.nyquist_factor * avg_nyquist;
    if (opt.minimum_frequency) positive(fmin, "minimum_frequency");
    if (opt.maximum_frequency) positive(fmax, "maximum_frequency");
    if (!(fmax >= fmin))
        throw value_error(who + ": maximum_frequency " + format_value(fmax) + " is below minimum_frequency " +
                          format_value(fmin));
    // astropy: 1 + np.round((fmax - fmin) / df), which rounds halves to even (nearbyint in the default mode).
    const double count = std::nearbyint((fmax - fmin) / g.df) + 1;
    if (!(count <= double(opt.max_frequencies)))
        throw value_error(who + ": the grid would have " + format_value(count) +
                          " frequencies, more than max_frequencies " + std::to_string(opt.max_frequencies) +
                          " (lower samples_per_peak or maximum_frequency)");
    g.f0 = fmin;
    g.n = std::size_t(count);
    return g;
}

}  // namespace detail

/// \brief astropy's `LombScargle.autofrequency`: df = 1/(baseline samples_per_peak), from
/// `minimum_frequency` (default df/2) to `maximum_frequency` (default nyquist_factor N/(2 baseline)),
/// 1 + round((max - min)/df) frequencies.
/// \throws value_error for a bad option (named), a curve of fewer than 2 distinct times or bad values.
inline frequency_grid autofrequency(const light_curve& lc, const periodogram_options& opt = {}) {
    const auto d = detail::prepare_ls(lc, opt);
    return detail::make_grid(detail::periodogram_who(lc), d.baseline, lc.size(), opt);
}

/// \brief The power at every frequency of `grid` (see periodogram for its meaning); memory O(N + F), the
/// frequencies in blocks of 512 spread over opt.parallel.
/// \throws value_error for non-finite or mismatched columns, non-positive errors, too few epochs for
/// nterms (N > 2 nterms + fit_mean), a constant magnitude, zero time span or a bad grid.
inline std::vector<double> lomb_scargle_power(const light_curve& lc, const frequency_grid& grid,
                                              const periodogram_options& opt = {}) {
    const std::string who = detail::periodogram_who(lc);
    const auto d = detail::prepare_ls(lc, opt);
    if (grid.n == 0 || !(grid.df > 0) || !std::isfinite(grid.df) || !(grid.f0 >= 0) || !std::isfinite(grid.max()))
        throw value_error(who + ": frequency grid must have n > 0, df > 0 and f0 >= 0 (got n " +
                          std::to_string(grid.n) + ", df " + detail::format_value(grid.df) + ", f0 " +
                          detail::format_value(grid.f0) + ")");
    std::vector<double> power(grid.n);
    const std::size_t B = detail::periodogram_block, blocks = (grid.n + B - 1) / B;
    if (opt.method == periodogram_method::direct) {
        parallel_for(blocks, opt.parallel, [&](std::size_t b) {
            for (std::size_t j = b * B; j < std::min(grid.n, (b + 1) * B); ++j)
                power[j] = detail::direct_power(d, grid[j], opt.nterms, opt.fit_mean);
        });
    } else {
        parallel_for_each_worker(
            blocks, opt.parallel, [] { return detail::rotation_state{}; },
            [&](detail::rotation_state& st, std::size_t b) {
            detail::fast_block(d, grid, b * B, std::min(grid.n, (b + 1) * B), opt.nterms, opt.fit_mean, st,
                               power.data());
            });
    }
    return power;
}

/// \brief The periodogram of `lc` on autofrequency(lc, opt).
inline periodogram lomb_scargle(const light_curve& lc, const periodogram_options& opt = {}) {
    periodogram p;
    p.frequency = autofrequency(lc, opt);
    p.power = lomb_scargle_power(lc, p.frequency, opt);
    return p;
}

/// \brief Baluev (2008) false-alarm probability of a 1-term 'standard' power `z` being the highest peak up to
/// `fmax` for the epochs of `lc`: astropy's `_statistics.fap_baluev` (eq. 6; Table 1's tau with the
/// weighted time variance of the epochs), 1 - (1 - fap_single) exp(-tau).
inline double false_alarm_probability_baluev(double z, double fmax, const light_curve& lc,
                                             const periodogram_options& opt = {}) {
    const std::string who = detail::periodogram_who(lc);
    if (!(z >= 0 && z <= 1)) throw value_error(who + ": power must be in [0, 1], got " + detail::format_value(z));
    if (!(fmax > 0) || !std::isfinite(fmax))
        throw value_error(who + ": fmax must be positive and finite, got " + detail::format_value(fmax));
    periodogram_options o = opt;
    o.nterms = 1;
    const auto d = detail::prepare_ls(lc, o);
    const double N = double(d.t.size()), NH = N - 1, NK = N - 3;
    double mt = 0, mt2 = 0;  // weighted mean and variance of t (weights sum to 1)
    for (std::size_t i = 0; i < d.t.size(); ++i) mt += d.w[i] * d.t[i];
    for (std::size_t i = 0; i < d.t.size(); ++i) mt2 += d.w[i] * (d.t[i] - mt) * (d.t[i] - mt);
    const double W = fmax * std::sqrt(4 * 3.14159265358979323846 * mt2);
    const double gamma = std::sqrt(2 / NH) * std::exp(std::lgamma(NH / 2) - std::lgamma((NH - 1) / 2));
    const double fap_single = std::pow(1 - z, 0.5 * NK);
    const double tau = gamma * W * std::pow(1 - z, 0.5 * (NK - 1)) * std::sqrt(0.5 * NH * z);
    return std::clamp(-std::expm1(-tau) + fap_single * std::exp(-tau), 0.0, 1.0);
}

/// \brief Searches `lc` for its period: the periodogram on autofrequency(lc, opt), its highest peak (refined,
/// see periodogram_options::refine_peak), the Baluev false-alarm probability, and the epoch of maximum light
/// from fit_fourier(opt.epoch_fit) on the curve folded at that period.
/// Cost: N F (2 nterms + 1) complex multiply-adds; see docs/periodogram.md for measured times.
/// \throws value_error as lomb_scargle_power(), or when the Fourier fit is impossible at the best period.
template <class Dummy = void>  // a template: compiled only where it is used
period_search_result find_period(const light_curve& lc, const periodogram_options& opt = {}) {
    const auto pg = lomb_scargle(lc, opt);
    const auto d = detail::prepare_ls(lc, opt);
    const std::size_t jbest = std::size_t(std::max_element(pg.power.begin(), pg.power.end()) - pg.power.begin());
    period_search_result r;
    r.grid = pg.frequency;
    r.frequency = pg.frequency[jbest];
    r.power = pg.power[jbest];
    if (opt.refine_peak) {
        // Golden section on [f - df, f + df] (within the main lobe, whose half-width is samples_per_peak df).
        const double g = 0.5 * (std::sqrt(5.0) - 1);
        double a = std::max(r.frequency - pg.frequency.df, 0.5 * pg.frequency.df), b = r.frequency + pg.frequency.df;
        auto P = [&](double f) { return detail::direct_power(d, f, opt.nterms, opt.fit_mean); };
        double x1 = b - g * (b - a), x2 = a + g * (b - a), p1 = P(x1), p2 = P(x2);
        while (b - a > 1e-10 * r.frequency) {
            if (p1 > p2) {
                b = x2, x2 = x1, p2 = p1, x1 = b - g * (b - a), p1 = P(x1);
            } else {
                a = x1, x1 = x2, p1 = p2, x2 = a + g * (b - a), p2 = P(x2);
            }
        }
        const double f = 0.5 * (a + b), pf = P(f);
        if (pf > r.power) r.frequency = f, r.power = pf;
    }
    r.period = 1.0 / r.frequency;
    r.fap_power_nterms1 = opt.nterms == 1 ? r.power : detail::direct_power(d, r.frequency, 1, opt.fit_mean);
    r.false_alarm_probability = false_alarm_probability_baluev(r.fap_power_nterms1, pg.frequency.max(), lc, opt);

    // Epoch of maximum light: the minimum of the fitted series, first sampled on 1000 phases, then refined by
    // golden section within one sample.
    const folded_curve fc = phase_fold(lc, r.period, d.t_ref);
    fourier_options fo = opt.epoch_fit;
    if (!opt.use_errors) fo.use_errors = false;
    r.fit = fit_fourier(fc, fo);
    constexpr int samples = 1000;
    int kbest = 0;
    double mbest = r.fit(0.0);
    for (int k = 1; k < samples; ++k)
        if (const double m = r.fit(double(k) / samples); m < mbest) mbest = m, kbest = k;
    {
        const double g = 0.5 * (std::sqrt(5.0) - 1);
        double a = (kbest - 1.0) / samples, b = (kbest + 1.0) / samples;
        double x1 = b - g * (b - a), x2 = a + g * (b - a), m1 = r.fit(x1), m2 = r.fit(x2);
        while (b - a > 1e-12) {
            if (m1 < m2) {
                b = x2, x2 = x1, m2 = m1, x1 = b - g * (b - a), m1 = r.fit(x1);
            } else {
                a = x1, x1 = x2, m1 = m2, x2 = a + g * (b - a), m2 = r.fit(x2);
            }
        }
        double phi = 0.5 * (a + b);
        phi -= std::floor(phi);
        r.epoch_max = d.t_ref + phi * r.period;
    }
    r.fit.source_id = lc.source_id;
    r.fit.name = lc.name;
    return r;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE period_search_result find_period<void>(const light_curve& lc, const periodogram_options& opt);
#endif

}  // namespace ferrum
