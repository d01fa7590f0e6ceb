// Gaia XP (BP/RP) sampled spectra as GaiaXPy writes them to CSV, and the input preparation of UA-CSNet
// (Yang et al., "Metallicities of 20 Million Giant Stars Based on Gaia XP spectra", Sect. 2): median
// resampling to 60 pixels, scaling by the flux at 550 nm, and a quality-cut selection helper (Sect. 2.3).
// Only the summary of the paper was at hand: the 400-1000 nm range of the 60 pixels and the cut
// thresholds below are our stated defaults, not numbers quoted from the paper; every one is an option.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferrum/core/array_field.hpp"
#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"

namespace ferrum::spectra {

/// One sampled XP spectrum: flux and its error on a wavelength grid (W m^-2 nm^-1, GaiaXPy's units).
struct xp_spectrum {
    std::int64_t source_id = 0;
    std::vector<double> flux;
    std::vector<double> flux_error;
};

/// GaiaXPy's default sampling of `calibrate`: numpy.linspace(336, 1020, 343) nm (2 nm steps).
inline std::vector<double> gaiaxpy_default_sampling() {
    std::vector<double> w(343);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = 336.0 + 2.0 * double(i);
    return w;
}

namespace detail {

/// Parses a list of finite numbers: "[1.0, 2e-17, ...]", NumPy's "[1.0 2e-17 ...]" or the archive's
/// "(1.0, 2e-17, ...)", through the one array-cell parser (core/array_field.hpp). A missing (NaN, null) or
/// malformed element, or text that is not a list, is an input_error naming file, line, field and element.
inline std::vector<double> parse_bracketed_list(std::string_view text, const std::string& file, std::size_t line,
                                                const char* field) {
    parsed_array<double> a = parse_array<double>(text);
    if (a.status == array_status::null || a.status == array_status::not_an_array)
        throw input_error(file, line, field,
                          "expected a bracketed list like [1.0, 2.0, ...], got '" +
                              std::string(ferrum::detail::trim(text).substr(0, 40)) + "'");
    if (!a.ok()) throw input_error(file, line, field, describe_array_problem(a, text));
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!a.has(i)) throw input_error(file, line, field, "element " + std::to_string(i) + " is not a finite number");
    return std::move(a.values);
}

}  // namespace detail

/// \brief Streams the sampled XP spectra of a GaiaXPy CSV (columns `source_id`, `flux`, `flux_error`, the
/// lists quoted as GaiaXPy writes them), one source at a time, so memory holds one spectrum whatever the size
/// of the file. Every spectrum must have `n_samples` values (343 for GaiaXPy's default sampling) and
/// non-negative errors; anything else is an input_error naming file, line, column.
class xp_spectra_reader {
public:
    explicit xp_spectra_reader(const std::string& path, std::size_t n_samples = 343)
        : in_(path),
          n_samples_(n_samples),
          c_id_(in_.column("source_id")),
          c_f_(in_.column("flux")),
          c_e_(in_.column("flux_error")) {}

    /// The next spectrum, or nullopt at the end of the file.
    std::optional<xp_spectrum> next() {
        const csv_record* r = in_.next();
        if (!r) return std::nullopt;
        ++rows_;
        require_field_count(in_, *r);
        const std::string& path = in_.path();
        xp_spectrum s;
        const auto id = parse_int64((*r)[c_id_]);
        if (!id.ok()) throw input_error(path, r->line(), "source_id", "not an integer source_id");
        s.source_id = id.value;
        s.flux = detail::parse_bracketed_list((*r)[c_f_], path, r->line(), "flux");
        s.flux_error = detail::parse_bracketed_list((*r)[c_e_], path, r->line(), "flux_error");
        if (s.flux.size() != n_samples_)
            throw input_error(
                path, r->line(), "flux",
                "has " + std::to_string(s.flux.size()) + " samples, expected " + std::to_string(n_samples_));
        if (s.flux_error.size() != n_samples_)
            throw input_error(
                path, r->line(), "flux_error",
                "has " + std::to_string(s.flux_error.size()) + " samples, expected " + std::to_string(n_samples_));
        for (std::size_t k = 0; k < n_samples_; ++k)
            if (!(s.flux_error[k] >= 0.0))
                throw input_error(path, r->line(), "flux_error", "element " + std::to_string(k) + " is negative");
        return s;
    }

    /// Data rows read so far.
    std::size_t rows() const noexcept { return rows_; }
    const std::string& path() const noexcept { return in_.path(); }

private:
    csv_reader in_;
    std::size_t n_samples_, c_id_, c_f_, c_e_, rows_ = 0;
};

/// \brief Every sampled XP spectrum of a GaiaXPy CSV (see xp_spectra_reader).
inline std::vector<xp_spectrum> read_xp_spectra(const std::string& path, std::size_t n_samples = 343) {
    xp_spectra_reader in(path, n_samples);
    std::vector<xp_spectrum> out;
    while (auto s = in.next()) out.push_back(std::move(*s));
    return out;
}

/// How a sampled spectrum becomes the network input.
struct xp_resample_options {
    double lambda_min = 400.0;        ///< nm; first pixel's lower edge
    double lambda_max = 1000.0;       ///< nm; last pixel's upper edge (included)
    std::size_t pixels = 60;          ///< equal-width pixels: 10 nm each by default
    double scale_wavelength = 550.0;  ///< nm; flux and errors are divided by the flux here
};

/// The 60-pixel spectrum, scaled, with the flux used for the scaling.
struct xp_pixels {
    std::vector<double> flux;
    std::vector<double> flux_error;
    double scale = 1.0;  ///< the (linearly interpolated) sampled flux at scale_wavelength
};

namespace detail {
inline double median_of(std::vector<double>& v) {
    const std::size_t h = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(h), v.end());
    const double hi = v[h];
    if (v.size() % 2) return hi;
    return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + std::ptrdiff_t(h)));
}
}  // namespace detail

/// \brief Median-resamples a sampled spectrum to `pixels` equal bins over [lambda_min, lambda_max] and
/// divides flux and error by the flux at `scale_wavelength` (linear interpolation of the samples).
/// A pixel's error is the median of the sample errors in its bin: XP samples are strongly correlated
/// (they come from ~55 basis coefficients), so the 1/sqrt(n) of independent samples would flatter them.
/// \throws value_error on mismatched lengths, an unsorted grid, an empty bin, or a non-positive flux at
/// the scaling wavelength (the spectrum cannot be normalised).
inline xp_pixels resample_xp(const std::vector<double>& wavelength, const std::vector<double>& flux,
                             const std::vector<double>& flux_error, const xp_resample_options& o = {}) {
    if (wavelength.size() != flux.size() || flux.size() != flux_error.size())
        throw value_error("resample_xp: wavelength, flux and flux_error must have the same length (" +
                          std::to_string(wavelength.size()) + ", " + std::to_string(flux.size()) + ", " +
                          std::to_string(flux_error.size()) + ")");
    if (o.pixels == 0 || !(o.lambda_max > o.lambda_min)) throw value_error("resample_xp: empty pixel range");
    for (std::size_t i = 1; i < wavelength.size(); ++i)
        if (!(wavelength[i] > wavelength[i - 1])) throw value_error("resample_xp: the wavelength grid must increase");
    for (std::size_t i = 0; i < flux.size(); ++i)
        if (!std::isfinite(flux[i]) || !std::isfinite(flux_error[i]))
            throw value_error("resample_xp: sample " + std::to_string(i) + " is not finite");
    const double s = o.scale_wavelength;
    if (wavelength.empty() || s < wavelength.front() || s > wavelength.back())
        throw value_error("resample_xp: the scaling wavelength lies outside the sampled range");
    const auto hi = std::lower_bound(wavelength.begin(), wavelength.end(), s);
    const std::size_t k = std::size_t(hi - wavelength.begin());
    double f550 = flux[k];
    if (wavelength[k] != s) {
        const double t = (s - wavelength[k - 1]) / (wavelength[k] - wavelength[k - 1]);
        f550 = flux[k - 1] + t * (flux[k] - flux[k - 1]);
    }
    if (!(f550 > 0.0))
        throw value_error("resample_xp: the flux at " + std::to_string(s) + " nm is " + std::to_string(f550) +
                          "; the spectrum cannot be scaled");
    xp_pixels out;
    out.scale = f550;
    out.flux.resize(o.pixels);
    out.flux_error.resize(o.pixels);
    const double width = (o.lambda_max - o.lambda_min) / double(o.pixels);
    std::vector<double> fb, eb;
    std::size_t i = std::size_t(std::lower_bound(wavelength.begin(), wavelength.end(), o.lambda_min) -
                                wavelength.begin());
    for (std::size_t p = 0; p < o.pixels; ++p) {
        const double upper = p + 1 == o.pixels ? o.lambda_max : o.lambda_min + double(p + 1) * width;
        fb.clear();
        eb.clear();
        for (; i < wavelength.size() && (wavelength[i] < upper || (p + 1 == o.pixels && wavelength[i] <= upper)); ++i) {
            fb.push_back(flux[i]);
            eb.push_back(flux_error[i]);
        }
        if (fb.empty())
            throw value_error("resample_xp: pixel " + std::to_string(p) + " holds no sample (grid too coarse)");
        out.flux[p] = detail::median_of(fb) / f550;
        out.flux_error[p] = detail::median_of(eb) / f550;
    }
    return out;
}

/// \brief resample_xp for one spectrum of read_xp_spectra.
inline xp_pixels resample_xp(const xp_spectrum& s, const std::vector<double>& wavelength = gaiaxpy_default_sampling(),
                             const xp_resample_options& o = {}) {
    return resample_xp(wavelength, s.flux, s.flux_error, o);
}

// --- quality cuts ---------------------------------------------------------------------------------

/// What the quality selection looks at, per star (Gaia DR3 column names in the comments).
struct xp_quality_input {
    double phot_g_mean_mag = NAN;
    double bp_rp = NAN;                     ///< observed BP-RP (for the excess-factor correction)
    double phot_bp_rp_excess_factor = NAN;  ///< C
    double ruwe = NAN;
    double ebv = NAN;       ///< E(B-V) of the extinction map used for dereddening
    double mean_snr = NAN;  ///< mean flux / flux_error of the sampled spectrum
};

/// Thresholds of the selection. Our defaults (the paper's Sect. 2.3 numbers were not at hand): XP
/// spectra are published for G < 17.65; RUWE < 1.4 is Gaia's single-star criterion; |C*| < 3 sigma_C*
/// is Riello et al. (2021, eqs. 6 and 18); E(B-V) < 0.5 keeps dereddening errors small.
struct xp_quality_cuts {
    double max_g = 17.5;
    double max_ruwe = 1.4;
    double max_excess_sigma = 3.0;
    double max_ebv = 0.5;
    double min_mean_snr = 20.0;
};

/// Riello et al. (2021) eq. 6 with their Table 2 coefficients: the corrected excess factor C*.
inline double corrected_excess_factor(double c, double bp_rp) noexcept {
    const double x = bp_rp;
    if (x < 0.5) return c - (1.154360 + 0.033772 * x + 0.032277 * x * x);
    if (x < 4.0) return c - (1.162004 + 0.011464 * x + 0.049255 * x * x - 0.005879 * x * x * x);
    return c - (1.057572 + 0.140537 * x);
}

/// Riello et al. (2021) eq. 18: the 1-sigma scatter of C* for well-behaved sources at magnitude G.
inline double excess_factor_sigma(double g) noexcept { return 0.0059898 + 8.817481e-12 * std::pow(g, 7.618399); }

/// \brief Why a star fails the cuts ("" if it passes): the first failed criterion, e.g. "ruwe 2.1 > 1.4".
/// A missing (NaN) value fails the criterion that needs it.
inline std::string xp_quality_reason(const xp_quality_input& s, const xp_quality_cuts& c = {}) {
    auto num = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.4g", v);
        return std::string(b);
    };
    if (!(s.phot_g_mean_mag <= c.max_g)) return "G " + num(s.phot_g_mean_mag) + " > " + num(c.max_g);
    if (!(s.ruwe < c.max_ruwe)) return "ruwe " + num(s.ruwe) + " >= " + num(c.max_ruwe);
    const double cstar = corrected_excess_factor(s.phot_bp_rp_excess_factor, s.bp_rp);
    const double lim = c.max_excess_sigma * excess_factor_sigma(s.phot_g_mean_mag);
    if (!(std::abs(cstar) < lim)) return "|C*| " + num(std::abs(cstar)) + " >= " + num(lim);
    if (!(s.ebv < c.max_ebv)) return "E(B-V) " + num(s.ebv) + " >= " + num(c.max_ebv);
    if (!(s.mean_snr >= c.min_mean_snr)) return "mean S/N " + num(s.mean_snr) + " < " + num(c.min_mean_snr);
    return "";
}

/// \brief Indices of the stars passing every cut.
inline std::vector<std::size_t> select_xp_quality(const std::vector<xp_quality_input>& stars,
                                                  const xp_quality_cuts& c = {}) {
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < stars.size(); ++i)
        if (xp_quality_reason(stars[i], c).empty()) keep.push_back(i);
    return keep;
}

/// Mean flux / flux_error of a sampled spectrum (for xp_quality_input::mean_snr).
inline double mean_snr(const xp_spectrum& s) {
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t k = 0; k < s.flux.size(); ++k)
        if (s.flux_error[k] > 0) {
            sum += s.flux[k] / s.flux_error[k];
            ++n;
        }
    return n ? sum / double(n) : 0.0;
}

}  // namespace ferrum::spectra
