// GaiaXPy's `convert`: XP continuous mean spectra sampled on a grid of pseudo-wavelengths of the internal
// reference system, BP and RP apart, in e-/s (no absolute calibration; Carrasco et al. 2021, Sect. 2;
// De Angeli et al. 2023, Sect. 3): flux = A c, error^2 = diag(A C A^T) s^2 and covariance A C A^T s^2 with
// C = D R D, D = diag(e / s), where A holds the Hermite functions of the rescaled pseudo-wavelength times the
// bases' transformation matrix (GaiaXPy's OptimisedCalibratedBases XML, read from its configuration folder).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/spectra/xp_continuous.hpp"

namespace ferrum::spectra {

/// \brief n pseudo-wavelengths from 0 to 60 as numpy.linspace(0, 60, n) gives them; n = 600 is GaiaXPy's
/// default sampling of `convert`.
inline std::vector<double> gaiaxpy_default_pwl_sampling(std::size_t n = 600) {
    std::vector<double> u(n);
    const double step = n > 1 ? 60.0 / double(n - 1) : 0.0;
    for (std::size_t i = 0; i < n; ++i) u[i] = double(i) * step;
    if (n > 1) u.back() = 60.0;
    return u;
}

/// Which bases of GaiaXPy's configuration to use, and on what grid.
struct xp_conversion_options {
    /// Pseudo-wavelengths to sample on, non-decreasing within -10..70 (GaiaXPy's limits); empty: GaiaXPy's
    /// default, numpy.linspace(0, 60, 600).
    std::vector<double> sampling;
    /// The Hermite bases' definition in the configuration folder (GaiaXPy's config.ini, [converter]).
    std::string bases_file = "OptimisedCalibratedBases_BpId32_RpId37_withNormalisation.xml";
};

/// \brief The design matrices of GaiaXPy's `convert` on one grid of pseudo-wavelengths. Build it once
/// (load_xp_conversion) and convert any number of sources with it.
struct xp_conversion {
    using matrix = xp_calibration::matrix;
    std::vector<double> sampling;  ///< pseudo-wavelengths
    matrix bp_design, rp_design;   ///< samples x bases: flux = design * coefficients
};

namespace detail {

// GaiaXPy's limits on a pseudo-wavelength sampling (core/generic_functions.py, validate_pwl_sampling).
inline constexpr double pwl_sampling_min = -10.0, pwl_sampling_max = 70.0;

// [begin, end) of the element <tag>...</tag> that starts at or after `from` and ends before `until`.
inline std::pair<std::size_t, std::size_t> xml_element(const std::string& text, const std::string& file,
                                                       const std::string& tag, std::size_t from = 0,
                                                       std::size_t until = std::string::npos) {
    std::size_t open = text.find("<" + tag + ">", from);
    if (open == std::string::npos) open = text.find("<" + tag + " ", from);
    if (open == std::string::npos || open >= until)
        throw input_error(file, line_at(text, from), tag, "element <" + tag + "> is missing");
    const std::size_t head_end = text.find('>', open);
    if (head_end != std::string::npos && text[head_end - 1] == '/') return {open, head_end + 1};  // <tag .../>
    const std::size_t close = text.find("</" + tag + ">", open);
    if (head_end == std::string::npos || close == std::string::npos || close > until)
        throw input_error(file, line_at(text, open), tag, "element <" + tag + "> is never closed");
    return {open, close + tag.size() + 3};
}

// The number inside <tag>v</tag>, or in attribute `attribute` of <tag .../>, within [from, until).
inline double xml_number(const std::string& text, const std::string& file, const std::string& tag, std::size_t from,
                         std::size_t until, const char* attribute = nullptr) {
    const auto [open, end] = xml_element(text, file, tag, from, until);
    const std::size_t head_end = text.find('>', open);
    std::string_view cell;
    if (attribute) {
        const std::string key = std::string(" ") + attribute + "=\"";
        const std::size_t a = text.find(key, open);
        if (a == std::string::npos || a > head_end)
            throw input_error(file, line_at(text, open), tag, std::string("attribute ") + attribute + " is missing");
        const std::size_t b = a + key.size();
        cell = std::string_view(text).substr(b, text.find('"', b) - b);
    } else {
        cell = std::string_view(text).substr(head_end + 1, text.rfind('<', end - 1) - head_end - 1);
    }
    const auto v = parse_double(cell);
    if (!v.ok())
        throw input_error(file, line_at(text, open), attribute ? tag + "." + attribute : tag,
                          message_of(v.status, ferrum::detail::trim(cell)));
    return v.value;
}

// One band's design matrix (samples x bases) from its <bpConfig>/<rpConfig> of GaiaXPy's Hermite bases:
// transformationMatrix (transformedSetDimension x dimension, row by row; the identity when absent, as
// GaiaXPy takes it) times psi_0..psi_{dimension-1} of the sampling mapped from `range` onto
// `normalizedRange`.
template <class Dummy = void>  // a template: compiled only where it is used
xp_calibration::matrix hermite_design(const std::string& text, const std::string& file, const char* band,
                                      const std::vector<double>& sampling) {
    const std::string section = std::string(band) + "Config";
    const auto element = xml_element(text, file, section);
    const auto from = element.first, until = element.second;  // not a structured binding: lambdas capture them
    auto count = [&](const char* tag) {
        const double v = xml_number(text, file, tag, from, until);
        if (!(v >= 1 && v <= 10000 && v == std::floor(v)))
            throw input_error(file, line_at(text, xml_element(text, file, tag, from, until).first), tag,
                              "expected a positive count");
        return std::size_t(v);
    };
    const std::size_t dim = count("dimension");
    const double pmin = xml_number(text, file, "range", from, until, "from"),
                 pmax = xml_number(text, file, "range", from, until, "to"),
                 nmin = xml_number(text, file, "normalizedRange", from, until, "from"),
                 nmax = xml_number(text, file, "normalizedRange", from, until, "to");
    if (!(pmax > pmin))
        throw input_error(file, line_at(text, from), "range", "attribute to must exceed attribute from");
    const xp_calibration::matrix psi = hermite_basis(sampling, dim, pmin, pmax, nmin, nmax);  // dim x samples
    const std::size_t t = text.find("<transformationMatrix", from);
    if (t == std::string::npos || t > until) return psi.transpose();
    const std::size_t nt = count("transformedSetDimension");
    const auto tm = xml_values(text.substr(0, until), file, section, "transformationMatrix");
    if (tm.size() != nt * dim)
        throw input_error(file, line_at(text, t), "transformationMatrix",
                          "holds " + std::to_string(tm.size()) + " values, expected transformedSetDimension x " +
                              "dimension = " + std::to_string(nt * dim));
    using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const row_major> transform(tm.data(), Eigen::Index(nt), Eigen::Index(dim));
    return (transform * psi).transpose();
}

}  // namespace detail

/// \brief Loads the design matrices of GaiaXPy's `convert` from GaiaXPy's configuration folder `config_dir`
/// (site-packages/gaiaxpy/config of a GaiaXPy installation) on the sampling of `o` (GaiaXPy's default when
/// empty). A missing folder or file is an io_error naming it; a malformed bases file an input_error naming
/// file, line and element; a sampling that is empty, decreasing, not finite or outside -10..70 a value_error.
template <class Dummy = void>  // a template: compiled only where it is used
xp_conversion load_xp_conversion(const std::string& config_dir, const xp_conversion_options& o = {}) {
    const std::filesystem::path dir(config_dir);
    if (!std::filesystem::is_directory(dir))
        throw io_error("GaiaXPy configuration: '" + config_dir + "' is not a directory (name gaiaxpy/config)");
    xp_conversion c;
    c.sampling = o.sampling.empty() ? gaiaxpy_default_pwl_sampling() : o.sampling;
    const auto& u = c.sampling;
    for (std::size_t i = 0; i < u.size(); ++i)
        if (!std::isfinite(u[i]) || u[i] < detail::pwl_sampling_min || u[i] > detail::pwl_sampling_max ||
            (i > 0 && u[i] < u[i - 1]))
            throw value_error(
                "xp_conversion: the sampling must be non-decreasing pseudo-wavelengths within -10..70 (GaiaXPy's "
                "limits); sampling[" +
                std::to_string(i) + "] = " + std::to_string(u[i]));
    const std::filesystem::path p = dir / o.bases_file;
    const std::string text = detail::read_config_file(p), file = p.string();
    c.bp_design = detail::hermite_design(text, file, "bp", u);
    c.rp_design = detail::hermite_design(text, file, "rp", u);
    return c;
}

/// What `convert` computes besides flux and error.
struct xp_convert_options {
    /// Use only the first n_relevant_bases coefficients of each band (GaiaXPy's truncation=True); a row
    /// without that column's value is not truncated.
    bool truncation = false;
    /// Also the samples' covariance matrix (GaiaXPy's with_correlation=True).
    bool with_correlation = false;
};

/// One band of a converted spectrum; empty when the source has no coefficients for it.
struct xp_sampled_band {
    std::vector<double> flux;        ///< e-/s, one per pseudo-wavelength of the conversion's sampling
    std::vector<double> flux_error;  ///< e-/s
    /// samples x samples, (e-/s)^2, its diagonal flux_error^2 (with_correlation only; else 0 x 0). GaiaXPy
    /// writes its correlation matrix and standard_deviation instead, and its own `covariance` is this
    /// divided by standard_deviation^2.
    xp_calibration::matrix covariance;
    double standard_deviation = NAN;  ///< of the band's least-squares solution, as read

    bool present() const noexcept { return !flux.empty(); }
};

/// \brief A source's BP and RP spectra on the pseudo-wavelength grid (GaiaXPy's XpSampledSpectrum pair).
struct xp_converted_spectrum {
    std::int64_t source_id = 0;
    xp_sampled_band bp, rp;
};

/// \brief GaiaXPy's `convert`: each source's BP and RP spectra sampled on the conversion's grid of
/// pseudo-wavelengths, with errors (and covariances if asked). A missing band is left empty, as GaiaXPy
/// leaves it. Fluxes are one GEMM per band for all sources; errors one small GEMM per source and band.
/// \throws value_error when a source's number of coefficients differs from the configuration's basis.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<xp_converted_spectrum> convert(const xp_conversion& c,
                                           const std::vector<xp_continuous_spectrum>& sources,
                                           const xp_convert_options& o = {}) {
    std::vector<xp_converted_spectrum> out(sources.size());
    for (std::size_t k = 0; k < sources.size(); ++k) {
        detail::check_band_size(c.bp_design, sources[k].bp, sources[k].source_id, "BP", "convert");
        detail::check_band_size(c.rp_design, sources[k].rp, sources[k].source_id, "RP", "convert");
        out[k].source_id = sources[k].source_id;
    }
    auto one_band = [&](const xp_conversion::matrix& design, xp_band_coefficients xp_continuous_spectrum::*band,
                        xp_sampled_band xp_converted_spectrum::*target) {
        std::vector<const xp_band_coefficients*> in;
        std::vector<std::size_t> of;
        for (std::size_t k = 0; k < sources.size(); ++k)
            if ((sources[k].*band).present()) of.push_back(k), in.push_back(&(sources[k].*band));
        Eigen::MatrixXd flux, error;
        std::vector<xp_calibration::matrix> cov;
        detail::sample_band(design, in, o.truncation, flux, error, o.with_correlation ? &cov : nullptr);
        for (std::size_t j = 0; j < of.size(); ++j) {
            xp_sampled_band& b = out[of[j]].*target;
            const auto col = Eigen::Index(j);
            b.flux.assign(flux.col(col).data(), flux.col(col).data() + flux.rows());
            b.flux_error.assign(error.col(col).data(), error.col(col).data() + error.rows());
            if (o.with_correlation) b.covariance = std::move(cov[j]);
            b.standard_deviation = in[j]->standard_deviation;
        }
    };
    one_band(c.bp_design, &xp_continuous_spectrum::bp, &xp_converted_spectrum::bp);
    one_band(c.rp_design, &xp_continuous_spectrum::rp, &xp_converted_spectrum::rp);
    return out;
}

/// \brief convert() of one source.
template <class Dummy = void>  // a template: compiled only where it is used
xp_converted_spectrum convert(const xp_conversion& c, const xp_continuous_spectrum& source,
                              const xp_convert_options& o = {}) {
    return convert(c, std::vector<xp_continuous_spectrum>{source}, o).front();
}

/// \brief Reads an xp_continuous_mean_spectrum file and converts it in batches of `batch` sources, so
/// memory stays bounded for archive-sized files (keep batches small with with_correlation: each band of
/// each source then holds a samples x samples matrix, 2.9 MB on the default grid).
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<xp_converted_spectrum> convert_xp_file(const std::string& path, const xp_conversion& c,
                                                   const xp_convert_options& o = {}, std::size_t batch = 512,
                                                   bad_row_policy policy = bad_row_policy::error,
                                                   read_report* report = nullptr) {
    return detail::in_batches(path, batch, policy, report,
                              [&](const std::vector<xp_continuous_spectrum>& chunk) { return convert(c, chunk, o); });
}

}  // namespace ferrum::spectra
