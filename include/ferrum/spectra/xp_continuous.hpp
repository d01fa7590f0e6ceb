// Gaia XP continuous mean spectra (the archive's xp_continuous_mean_spectrum: basis-function coefficients,
// their errors and correlations) turned into sampled absolute spectra with errors, as GaiaXPy's `calibrate`
// does (De Angeli et al. 2023; Montegriffo et al. 2023, Sect. 2 and eqs. 1-5 for the external calibration):
// flux = A c per band, error^2 = diag(A C A^T) s^2 with C = D R D, D = diag(e / s), merged with BP/RP weights.
// The basis functions come from GaiaXPy's own configuration folder, read from a path the user names.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/spectra/xp_spectra.hpp"
#include "ferrum/spline/univariate_spline.hpp"

namespace ferrum::skip_reasons {
/// An xp_continuous_mean_spectrum row without BP and RP coefficients.
inline constexpr skip_reason no_xp_band{"neither BP nor RP coefficients", true};
}  // namespace ferrum::skip_reasons

namespace ferrum::spectra {

// ---------------------------------------------------------------------------------------------------
// The continuous representation
// ---------------------------------------------------------------------------------------------------

/// One band (BP or RP) of a continuous mean spectrum, as the archive gives it.
struct xp_band_coefficients {
    std::vector<double> coefficients;  ///< n_parameters basis-function coefficients (empty: band missing)
    std::vector<double> errors;        ///< their formal errors
    /// Correlations off the diagonal, in the archive's order (the upper triangle by columns, which is
    /// numpy's tril_indices(n, -1) of the lower one): n (n - 1) / 2 values.
    std::vector<double> correlations;
    double standard_deviation = NAN;  ///< of the least-squares solution
    int n_relevant_bases = 0;         ///< the archive's recommended truncation (0: not given)

    bool present() const noexcept { return !coefficients.empty(); }
    std::size_t size() const noexcept { return coefficients.size(); }
};

/// One row of xp_continuous_mean_spectrum: BP and RP (either may be missing, not both).
struct xp_continuous_spectrum {
    std::int64_t source_id = 0;
    xp_band_coefficients bp, rp;
};

namespace detail {

using ferrum::detail::bad_row;
using ferrum::detail::message_of;
using ferrum::detail::reason_of;

// The one place where an array cell of the archive is parsed: "[v, ...]" (ECSV, GaiaXPy's own output) or
// "(v, ...)" (the archive's CSV). Empty text is a missing array.
inline std::vector<double> parse_array_cell(std::string_view text, const std::string& file, std::size_t line,
                                            const char* field) {
    if (ferrum::detail::trim(text).empty()) return {};     // an absent band
    return parse_bracketed_list(text, file, line, field);  // "[…]" (ECSV) and "(…)" (archive CSV) alike
}

// Index of every xp_continuous column a reader needs, for one band.
struct band_columns {
    std::size_t n_parameters, standard_deviation, coefficients, errors, correlations;
    std::optional<std::size_t> n_relevant_bases;
};

inline band_columns find_band_columns(const csv_reader& in, const std::string& band) {
    return {in.column(band + "_n_parameters"),
            in.column(band + "_standard_deviation"),
            in.column(band + "_coefficients"),
            in.column(band + "_coefficient_errors"),
            in.column(band + "_coefficient_correlations"),
            in.find_column(band + "_n_relevant_bases")};
}

// Parses one band of a row; returns false (after reporting) when the row is bad.
inline bool parse_band(const csv_reader& in, const csv_record& r, const band_columns& c, const std::string& band,
                       xp_band_coefficients& out, read_report& report, bad_row_policy policy) {
    const std::string& file = in.path();
    const std::size_t line = r.line();
    const std::string f_n = band + "_n_parameters", f_c = band + "_coefficients", f_e = band + "_coefficient_errors",
                      f_r = band + "_coefficient_correlations", f_s = band + "_standard_deviation";
    out = xp_band_coefficients{};
    // A malformed array cell is a bad row like any other: thrown under bad_row_policy::error, else counted.
    auto array = [&](std::size_t col, const std::string& field, std::vector<double>& to) {
        try {
            to = parse_array_cell(r[col], file, line, field.c_str());
            return true;
        } catch (const input_error& e) {
            if (policy == bad_row_policy::error) throw;
            report.skip(skip_reasons::not_a_number, e.what());
            return false;
        }
    };
    const std::string_view n_text = ferrum::detail::trim(r[c.n_parameters]);
    if (!array(c.coefficients, f_c, out.coefficients)) return false;
    if (n_text.empty()) {
        if (out.present())
            return bad_row(report, policy, line, f_n, skip_reasons::empty_field,
                           "is empty but " + f_c + " holds " + std::to_string(out.size()) + " values"),
                   false;
        return true;  // the band is missing
    }
    const auto n = parse_int64(n_text);
    if (!n.ok() || n.value < 1 || n.value > 10000)
        return bad_row(report, policy, line, f_n, skip_reasons::not_a_number,
                       "expected a positive number of parameters, found '" + std::string(n_text) + "'"),
               false;
    const auto want = std::size_t(n.value);
    if (!array(c.errors, f_e, out.errors) || !array(c.correlations, f_r, out.correlations)) return false;
    auto wrong_length = [&](const std::string& field, std::size_t got, std::size_t expected) {
        bad_row(report, policy, line, field, skip_reasons::field_count,
                "has " + std::to_string(got) + " values but " + f_n + " = " + std::to_string(want) + " needs " +
                    std::to_string(expected));
        return false;
    };
    if (out.coefficients.size() != want) return wrong_length(f_c, out.coefficients.size(), want);
    if (out.errors.size() != want) return wrong_length(f_e, out.errors.size(), want);
    const std::size_t off = want * (want - 1) / 2;
    if (out.correlations.size() == off + want) {
        // The full triangle with its diagonal (numpy's tril_indices(n, 0) order): keep the off-diagonal part.
        std::vector<double> strict;
        strict.reserve(off);
        for (std::size_t i = 0, k = 0; i < want; ++i)
            for (std::size_t j = 0; j <= i; ++j, ++k)
                if (j < i) strict.push_back(out.correlations[k]);
        out.correlations = std::move(strict);
    }
    if (out.correlations.size() != off) return wrong_length(f_r, out.correlations.size(), off);
    for (std::size_t k = 0; k < want; ++k)
        if (!(out.errors[k] >= 0.0))
            return bad_row(report, policy, line, f_e, skip_reasons::out_of_range,
                           "element " + std::to_string(k) + " is negative"),
                   false;
    const auto sd = parse_double(r[c.standard_deviation]);
    if (!sd.ok() || !(sd.value > 0.0))
        return bad_row(
                   report, policy, line, f_s, sd.ok() ? skip_reasons::out_of_range : reason_of(sd.status),
                   sd.ok() ? "must be positive" : message_of(sd.status, ferrum::detail::trim(r[c.standard_deviation]))),
               false;
    out.standard_deviation = sd.value;
    if (c.n_relevant_bases) {
        const auto t = parse_int64(r[*c.n_relevant_bases]);
        if (t.ok() && t.value > 0) out.n_relevant_bases = int(std::min<std::int64_t>(t.value, n.value));
    }
    return true;
}

}  // namespace detail

/// \brief Streams the rows of an xp_continuous_mean_spectrum file (the archive's CSV with "(...)" array
/// cells, or ECSV with "[...]"), one source at a time. Needs source_id and, for BP and RP,
/// `_n_parameters`, `_standard_deviation`, `_coefficients`, `_coefficient_errors`,
/// `_coefficient_correlations` (`_n_relevant_bases` for truncation); other columns are ignored. A band
/// whose cells are empty is missing. Every bad row is an input_error naming file, line and column, or a
/// counted skip under bad_row_policy::skip (report()).
class xp_continuous_reader {
public:
    explicit xp_continuous_reader(const std::string& path, bad_row_policy policy = bad_row_policy::error)
        : in_(path),
          policy_(policy),
          id_(in_.column("source_id")),
          bp_(detail::find_band_columns(in_, "bp")),
          rp_(detail::find_band_columns(in_, "rp")) {
        report_.file = path;
    }

    /// The next source, or nullopt at the end of the file.
    std::optional<xp_continuous_spectrum> next() {
        while (const csv_record* r = in_.next()) {
            ++report_.rows;
            if (!ferrum::detail::check_field_count(report_, policy_, in_, *r)) continue;
            xp_continuous_spectrum s;
            const auto id = parse_int64((*r)[id_]);
            if (!id.ok()) {
                ferrum::detail::reject_field(report_, policy_, in_, *r, id_, id, "an int64 source_id");
                continue;
            }
            s.source_id = id.value;
            if (!detail::parse_band(in_, *r, bp_, "bp", s.bp, report_, policy_)) continue;
            if (!detail::parse_band(in_, *r, rp_, "rp", s.rp, report_, policy_)) continue;
            if (!s.bp.present() && !s.rp.present()) {
                ferrum::detail::bad_row(
                    report_, policy_, r->line(), "bp_coefficients", skip_reasons::no_xp_band,
                    "source " + std::to_string(s.source_id) + " has neither BP nor RP coefficients");
                continue;
            }
            ++report_.used;
            ++report_.curves;
            return s;
        }
        return std::nullopt;
    }

    const read_report& report() const noexcept { return report_; }
    const std::string& path() const noexcept { return in_.path(); }

private:
    csv_reader in_;
    bad_row_policy policy_;
    read_report report_;
    std::size_t id_;
    detail::band_columns bp_, rp_;
};

/// \brief Every source of an xp_continuous_mean_spectrum file (see xp_continuous_reader).
inline std::vector<xp_continuous_spectrum> read_xp_continuous(const std::string& path,
                                                              bad_row_policy policy = bad_row_policy::error,
                                                              read_report* report = nullptr) {
    xp_continuous_reader in(path, policy);
    std::vector<xp_continuous_spectrum> out;
    while (auto s = in.next()) out.push_back(std::move(*s));
    if (report) *report = in.report();
    return out;
}

/// \brief True when the header of `path` is that of xp_continuous_mean_spectrum (it has bp_coefficients
/// or rp_coefficients), false for anything else (GaiaXPy's sampled CSV, say).
inline bool is_xp_continuous_file(const std::string& path) {
    const csv_reader in(path);
    return in.find_column("bp_coefficients").has_value() || in.find_column("rp_coefficients").has_value();
}

// ---------------------------------------------------------------------------------------------------
// GaiaXPy's configuration: design matrices and merge weights on a sampling grid
// ---------------------------------------------------------------------------------------------------

/// Which instrument models of GaiaXPy's configuration to use, and on what grid.
struct xp_calibration_options {
    /// Wavelengths (nm, increasing, within 330..1050) to sample on; empty: GaiaXPy's default grid
    /// (336..1020 nm, 2 nm), whose basis functions GaiaXPy tabulates in filters/XpFilter_<bp><rp>.xml.
    /// Any other grid is computed from the <band>C03_<model>_{bases,dispersion,response}.csv files.
    std::vector<double> sampling;
    std::string bp_model = "v375wi";  ///< GaiaXPy's default ("v211w" is the other it ships)
    std::string rp_model = "v142r";
};

/// \brief The design matrices and BP/RP merge weights of GaiaXPy's `calibrate` on one sampling grid.
/// Build it once (load_xp_calibration) and calibrate any number of sources with it.
struct xp_calibration {
    using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
    std::vector<double> sampling;              ///< nm
    matrix bp_design, rp_design;               ///< samples x bases: flux = design * coefficients
    std::vector<double> bp_weight, rp_weight;  ///< per sample; BP weight + RP weight = 1
};

namespace detail {

// GaiaXPy's satellite and physical constants (gaiaxpy/core/satellite.py, nature.py).
inline constexpr double bp_high_nm = 643.0;                             // upper end of BP's range
inline constexpr double rp_low_nm = 635.0;                              // lower end of RP's range
inline constexpr double telescope_pupil_area = 0.7278;                  // m^2
inline constexpr double hc_nm = 1.0e9 * 2.99792458e8 * 6.62607004e-34;  // h c in J nm

inline std::string read_config_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in)
        throw io_error("GaiaXPy configuration: cannot open '" + p.string() +
                       "' (name the folder gaiaxpy/config of a GaiaXPy installation)");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::size_t line_at(const std::string& text, std::size_t pos) {
    return 1 + std::size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(std::min(pos, text.size())), '\n'));
}

// The <value> list of element `tag` inside `parent` of GaiaXPy's XpFilter XML, with its dimension
// attribute (0 when it has none).
inline std::vector<double> xml_values(const std::string& text, const std::string& file, const std::string& parent,
                                      const std::string& tag, std::size_t* dimension = nullptr) {
    const std::size_t p = text.find("<" + parent + ">");
    if (p == std::string::npos) throw input_error(file, 0, parent, "element <" + parent + "> is missing");
    const std::size_t open = text.find("<" + tag, p);
    const std::size_t close = text.find("</" + tag + ">", p);
    if (open == std::string::npos || close == std::string::npos || close < open)
        throw input_error(file, line_at(text, p), tag, "element <" + tag + "> is missing or never closed");
    const std::size_t head_end = text.find('>', open);
    if (dimension) {
        *dimension = 0;
        const std::string head = text.substr(open, head_end - open);
        const std::size_t a = head.find("dimension=\"");
        if (a != std::string::npos) {
            const auto d = parse_int64(std::string_view(head).substr(a + 11, head.find('"', a + 11) - a - 11));
            if (!d.ok() || d.value < 1)
                throw input_error(file, line_at(text, open), tag, "attribute dimension is not a positive integer");
            *dimension = std::size_t(d.value);
        }
    }
    std::vector<double> out;
    for (std::size_t q = text.find("<value>", head_end); q != std::string::npos && q < close;
         q = text.find("<value>", q)) {
        q += 7;
        const std::size_t e = text.find("</value>", q);
        if (e == std::string::npos || e > close)
            throw input_error(file, line_at(text, q), tag, "a <value> element is never closed");
        const auto v = parse_double(std::string_view(text).substr(q, e - q));
        if (!v.ok())
            throw input_error(file, line_at(text, q), tag,
                              "value " + std::to_string(out.size()) + " ('" +
                                  text.substr(q, std::min<std::size_t>(e - q, 30)) + "') is not a finite number");
        out.push_back(v.value);
        q = e;
    }
    if (out.empty()) throw input_error(file, line_at(text, open), tag, "element <" + tag + "> holds no value");
    return out;
}

// The default grid: GaiaXPy's tabulated design matrices and merge weights (XpSampling and XpMerge).
inline xp_calibration load_tabulated_calibration(const std::filesystem::path& dir, const xp_calibration_options& o) {
    const std::filesystem::path p = dir / "filters" / ("XpFilter_" + o.bp_model + o.rp_model + ".xml");
    const std::string file = p.string();
    const std::string text = read_config_file(p);
    std::size_t dim[2] = {0, 0};
    const std::vector<double> sampled[2] = {xml_values(text, file, "XpSampling", "bpSampledBases", &dim[0]),
                                            xml_values(text, file, "XpSampling", "rpSampledBases", &dim[1])};
    xp_calibration c;
    c.sampling = xml_values(text, file, "XpMerge", "sampleMeanWavelengths");
    c.bp_weight = xml_values(text, file, "XpMerge", "bpWeights");
    c.rp_weight = xml_values(text, file, "XpMerge", "rpWeights");
    const std::size_t n = c.sampling.size();
    if (c.bp_weight.size() != n || c.rp_weight.size() != n)
        throw input_error(
            file, 0, "XpMerge",
            "bpWeights and rpWeights must have as many values as sampleMeanWavelengths (" + std::to_string(n) + ")");
    for (int band = 0; band < 2; ++band) {
        const std::vector<double>& v = sampled[band];
        const std::size_t d = dim[band];
        if (d == 0 || v.size() != d * n)
            throw input_error(file, 0, band == 0 ? "bpSampledBases" : "rpSampledBases",
                              "holds " + std::to_string(v.size()) + " values, expected dimension x " +
                                  std::to_string(n) + " samples");
        xp_calibration::matrix m(n, d);  // stored sample by sample, d bases each
        for (std::size_t s = 0; s < n; ++s)
            for (std::size_t b = 0; b < d; ++b) m(Eigen::Index(s), Eigen::Index(b)) = v[s * d + b];
        (band == 0 ? c.bp_design : c.rp_design) = std::move(m);
    }
    return c;
}

// Two rows of numbers (a GaiaXPy dispersion or response table: wavelengths, then values).
inline std::pair<std::vector<double>, std::vector<double>> read_two_rows(const std::filesystem::path& p) {
    const std::string text = read_config_file(p), file = p.string();
    std::vector<std::vector<double>> rows;
    std::istringstream in(text);
    std::size_t line = 0;
    for (std::string l; std::getline(in, l);) {
        ++line;
        if (ferrum::detail::trim(l).empty() || l == "\r") continue;
        if (!l.empty() && l.back() == '\r') l.pop_back();
        std::vector<double> row;
        std::size_t start = 0;
        for (;;) {
            const std::size_t comma = l.find(',', start);
            const std::string_view cell = std::string_view(l).substr(
                start, comma == std::string::npos ? l.npos : comma - start);
            const auto v = parse_double(cell);
            if (!v.ok())
                throw input_error(file, line, "column " + std::to_string(row.size() + 1),
                                  message_of(v.status, ferrum::detail::trim(cell)));
            row.push_back(v.value);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        rows.push_back(std::move(row));
    }
    if (rows.size() != 2 || rows[0].size() != rows[1].size() || rows[0].size() < 4)
        throw input_error(file, 0, "",
                          "expected two rows of equal length (wavelength, then values), found " +
                              std::to_string(rows.size()) + " rows");
    return {std::move(rows[0]), std::move(rows[1])};
}

// Hermite functions psi_0..psi_{m-1} at x (the orthonormal ones, by their three-term recurrence).
inline constexpr double pi_to_minus_quarter = 0.75112554446494248;  // pi^(-1/4)

inline void hermite_functions(double x, std::size_t m, double* out) noexcept {
    if (m == 0) return;
    out[0] = pi_to_minus_quarter * std::exp(-0.5 * x * x);
    if (m > 1) out[1] = std::sqrt(2.0) * x * out[0];
    for (std::size_t n = 2; n < m; ++n)
        out[n] = std::sqrt(2.0 / double(n)) * x * out[n - 1] - std::sqrt(double(n - 1) / double(n)) * out[n - 2];
}

// psi_0..psi_{m-1} (rows) at the pseudo-wavelengths u (columns), after GaiaXPy's linear map of
// [pwl_min, pwl_max] onto the Hermite range [norm_min, norm_max]: the one evaluation both `calibrate`'s
// inverse bases and `convert`'s bases start from. Columns where `weight` (if given) is not positive stay
// zero, as GaiaXPy leaves them.
inline xp_calibration::matrix hermite_basis(const std::vector<double>& u, std::size_t m, double pwl_min, double pwl_max,
                                            double norm_min, double norm_max,
                                            const std::vector<double>* weight = nullptr) {
    const double scale = (norm_max - norm_min) / (pwl_max - pwl_min), offset = norm_min - pwl_min * scale;
    xp_calibration::matrix h = xp_calibration::matrix::Zero(Eigen::Index(m), Eigen::Index(u.size()));
    for (std::size_t s = 0; s < u.size(); ++s)
        if (!weight || (*weight)[s] > 0) hermite_functions(u[s] * scale + offset, m, &h(0, Eigen::Index(s)));
    return h;
}

// One band's design matrix on any grid from the instrument model (GaiaXPy's ExternalInstrumentModel):
// the inverse bases (Hermite functions of the rescaled pseudo-wavelength, combined and transformed),
// times hc / (area R(lambda) lambda). Dispersion and response are interpolated by cubic splines
// (FITPACK, s = 0: what scipy's splrep/splev give GaiaXPy).
template <class Dummy = void>  // a template: compiled only where it is used
xp_calibration::matrix instrument_design(const std::filesystem::path& dir, const std::string& band,
                                         const std::string& model, const std::vector<double>& sampling,
                                         const std::vector<double>& weight) {
    const std::string stem = band + "C03_" + model + "_";
    const auto disp = read_two_rows(dir / (stem + "dispersion.csv"));
    const auto resp = read_two_rows(dir / (stem + "response.csv"));
    const std::string bases_file = (dir / (stem + "bases.csv")).string();
    if (!std::filesystem::exists(bases_file)) (void)read_config_file(bases_file);  // the io_error naming it
    csv_reader in(bases_file);
    const std::size_t c_nb = in.column("nBases"), c_pmin = in.column("pwlRangeMin"), c_pmax = in.column("pwlRangeMax"),
                      c_nmin = in.column("normRangeMin"), c_nmax = in.column("normRangeMax"),
                      c_ni = in.column("nInverseBasesCoefficients"), c_ic = in.column("inverseBasesCoefficients"),
                      c_nt = in.column("nTransformedBases"), c_tm = in.column("transformationMatrix");
    const csv_record* r = in.next();
    if (!r) throw input_error(bases_file, 0, "", "the file has no data row");
    require_field_count(in, *r);
    auto number = [&](std::size_t col) {
        const auto v = parse_double((*r)[col]);
        if (!v.ok()) throw input_error(bases_file, r->line(), in.header()[col], message_of(v.status, (*r)[col]));
        return v.value;
    };
    auto count = [&](std::size_t col) {
        const auto v = parse_int64((*r)[col]);
        if (!v.ok() || v.value < 1 || v.value > 10000)
            throw input_error(bases_file, r->line(), in.header()[col], "expected a positive count");
        return std::size_t(v.value);
    };
    const std::size_t nb = count(c_nb), ni = count(c_ni), nt = count(c_nt);
    const double pmin = number(c_pmin), pmax = number(c_pmax), nmin = number(c_nmin), nmax = number(c_nmax);
    const auto ic = parse_array_cell((*r)[c_ic], bases_file, r->line(), "inverseBasesCoefficients");
    const auto tm = parse_array_cell((*r)[c_tm], bases_file, r->line(), "transformationMatrix");
    if (ic.size() != nb * ni)
        throw input_error(
            bases_file, r->line(), "inverseBasesCoefficients",
            "holds " + std::to_string(ic.size()) + " values, expected nBases x nInverseBasesCoefficients");
    if (nt != nb || tm.size() != nb * nt)
        throw input_error(bases_file, r->line(), "transformationMatrix",
                          "holds " + std::to_string(tm.size()) + " values, expected nBases x nBases");
    if (!(pmax > pmin)) throw input_error(bases_file, r->line(), "pwlRangeMax", "must exceed pwlRangeMin");

    const auto pwl_of = univariate_spline(disp.first, disp.second, {}, 3, 0.0);
    const auto response = univariate_spline(resp.first, resp.second, {}, 3, 0.0);
    const std::size_t n = sampling.size();
    std::vector<double> pwl(n, 0.0);
    for (std::size_t s = 0; s < n; ++s)
        if (weight[s] > 0) pwl[s] = pwl_of(sampling[s]);
    const xp_calibration::matrix hermite = hermite_basis(pwl, ni, pmin, pmax, nmin, nmax, &weight);
    // (its scalar spelt dependent on Dummy: the products below are compiled only where this is used)
    using row_major = Eigen::Matrix<std::conditional_t<std::is_void_v<Dummy>, double, double>, Eigen::Dynamic,
                                    Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const row_major> inverse(ic.data(), Eigen::Index(nb), Eigen::Index(ni));
    const Eigen::Map<const row_major> transform(tm.data(), Eigen::Index(nb), Eigen::Index(nt));
    xp_calibration::matrix bases = transform * (inverse * hermite);  // nb x samples
    for (std::size_t s = 0; s < n; ++s) {
        const double rr = response(sampling[s]);
        bases.col(Eigen::Index(s)) *= rr > 0 ? hc_nm / (telescope_pupil_area * rr * sampling[s]) : 0.0;
    }
    return bases.transpose();
}

template <class Dummy = void>  // a template: compiled only where it is used
xp_calibration instrument_calibration(const std::filesystem::path& dir, const xp_calibration_options& o) {
    const auto& w = o.sampling;
    for (std::size_t i = 0; i < w.size(); ++i)
        if (!std::isfinite(w[i]) || w[i] < 330.0 || w[i] > 1050.0 || (i > 0 && !(w[i] > w[i - 1])))
            throw value_error(
                "xp_calibration: the sampling must increase within 330..1050 nm (GaiaXPy's limits); "
                "sampling[" +
                std::to_string(i) + "] = " + std::to_string(w[i]));
    xp_calibration c;
    c.sampling = w;
    for (const double x : w) {
        const double t = (x - rp_low_nm) / (bp_high_nm - rp_low_nm);
        const double rp = x < rp_low_nm ? 0.0 : x > bp_high_nm ? 1.0 : t;
        c.rp_weight.push_back(rp);
        c.bp_weight.push_back(x < rp_low_nm ? 1.0 : x > bp_high_nm ? 0.0 : 1.0 - t);
    }
    c.bp_design = instrument_design(dir, "bp", o.bp_model, w, c.bp_weight);
    c.rp_design = instrument_design(dir, "rp", o.rp_model, w, c.rp_weight);
    return c;
}

}  // namespace detail

/// \brief Loads the design matrices and merge weights of GaiaXPy's `calibrate` from GaiaXPy's
/// configuration folder `config_dir` (site-packages/gaiaxpy/config of a GaiaXPy installation). On the
/// default grid they are GaiaXPy's own tables; on a grid of the user's they are computed from its
/// instrument model as GaiaXPy computes them. A missing file is an io_error naming it; a malformed one an
/// input_error naming file, line and element.
template <class Dummy = void>  // a template: compiled only where it is used
xp_calibration load_xp_calibration(const std::string& config_dir, const xp_calibration_options& o = {}) {
    const std::filesystem::path dir(config_dir);
    if (!std::filesystem::is_directory(dir))
        throw io_error("GaiaXPy configuration: '" + config_dir + "' is not a directory (name gaiaxpy/config)");
    return o.sampling.empty() ? detail::load_tabulated_calibration(dir, o) : detail::instrument_calibration(dir, o);
}

// ---------------------------------------------------------------------------------------------------
// calibrate
// ---------------------------------------------------------------------------------------------------

struct xp_calibrate_options {
    /// Use only the first n_relevant_bases coefficients of each band (GaiaXPy's truncation=True); a row
    /// without that column's value is not truncated.
    bool truncation = false;
};

namespace detail {

// One band of a batch, for `calibrate` and `convert` alike: flux = design * C for all sources at once (one
// GEMM); each error^2 is sum_ij (a_i e_i) R_ij (a_j e_j) over the bases of each sample -- GaiaXPy's
// diag(A^T C A) s^2 with C = D R D and D = diag(e / s), in which s cancels -- and, when `covariance` is
// given, each source's whole (A D_e) R (A D_e)^T (samples x samples; its diagonal is error^2).
template <class Dummy = void>  // a template: compiled only where it is used
void sample_band(const xp_calibration::matrix& design, const std::vector<const xp_band_coefficients*>& band,
                 bool truncation, Eigen::MatrixXd& flux, Eigen::MatrixXd& error,
                 std::vector<xp_calibration::matrix>* covariance = nullptr) {
    // Eigen's types spelt dependent on Dummy: the products below are compiled only where this is used
    using matrix = std::conditional_t<std::is_void_v<Dummy>, Eigen::MatrixXd, Eigen::MatrixXd>;
    using vector = std::conditional_t<std::is_void_v<Dummy>, Eigen::VectorXd, Eigen::VectorXd>;
    const Eigen::Index n = design.cols(), ns = design.rows(), m = Eigen::Index(band.size());
    matrix coef = matrix::Zero(n, m);
    error.resize(ns, m);
    matrix corr(n, n), scaled(ns, n), product(ns, n);
    if (covariance) covariance->assign(band.size(), xp_calibration::matrix());
    for (Eigen::Index k = 0; k < m; ++k) {
        const xp_band_coefficients& b = *band[std::size_t(k)];
        const Eigen::Index keep = truncation && b.n_relevant_bases > 0 ? std::min<Eigen::Index>(b.n_relevant_bases, n)
                                                                       : n;
        for (Eigen::Index i = 0; i < keep; ++i) coef(i, k) = b.coefficients[std::size_t(i)];
        corr.setIdentity();
        std::size_t q = 0;
        for (Eigen::Index i = 1; i < n; ++i)
            for (Eigen::Index j = 0; j < i; ++j, ++q) corr(i, j) = corr(j, i) = b.correlations[q];
        vector e = vector::Zero(n);
        for (Eigen::Index i = 0; i < keep; ++i) e(i) = b.errors[std::size_t(i)];
        scaled.noalias() = design * e.asDiagonal();
        product.noalias() = scaled * corr;
        error.col(k) = product.cwiseProduct(scaled).rowwise().sum().cwiseSqrt();
        if (covariance) {  // symmetric: one triangle by GEMM (half the flops), then mirrored
            xp_calibration::matrix& c = (*covariance)[std::size_t(k)];
            c.resize(ns, ns);
            c.triangularView<Eigen::Lower>() = product * scaled.transpose();
            for (Eigen::Index j = 1; j < ns; ++j)
                for (Eigen::Index i = 0; i < j; ++i) c(i, j) = c(j, i);
        }
    }
    flux.noalias() = design * coef;
}

inline void check_band_size(const xp_calibration::matrix& design, const xp_band_coefficients& b, std::int64_t source_id,
                            const char* band, const char* caller = "calibrate") {
    if (b.present() && b.size() != std::size_t(design.cols()))
        throw value_error(std::string(caller) + ": source " + std::to_string(source_id) + " has " +
                          std::to_string(b.size()) + " " + band + " coefficients but the configuration's basis has " +
                          std::to_string(design.cols()) + " (another basis-function set or GaiaXPy version?)");
}

}  // namespace detail

/// \brief GaiaXPy's `calibrate`: each source's absolute spectrum (W m^-2 nm^-1) and its error on the
/// calibration's grid, BP and RP merged with the calibration's weights. Where a band is missing, the
/// other is used alone and the samples outside its range (RP only: lambda <= 635 nm; BP only:
/// lambda >= 643 nm) are NaN, as GaiaXPy writes them. All sources are done at once: one GEMM per band for
/// the fluxes, one small GEMM per source and band for the errors (its correlation matrix is its own).
/// \throws value_error when a source's number of coefficients differs from the configuration's basis.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<xp_spectrum> calibrate(const xp_calibration& c, const std::vector<xp_continuous_spectrum>& sources,
                                   const xp_calibrate_options& o = {}) {
    std::vector<const xp_band_coefficients*> bp, rp;
    std::vector<std::size_t> bp_of, rp_of;
    for (std::size_t k = 0; k < sources.size(); ++k) {
        detail::check_band_size(c.bp_design, sources[k].bp, sources[k].source_id, "BP");
        detail::check_band_size(c.rp_design, sources[k].rp, sources[k].source_id, "RP");
        if (sources[k].bp.present()) bp_of.push_back(k), bp.push_back(&sources[k].bp);
        if (sources[k].rp.present()) rp_of.push_back(k), rp.push_back(&sources[k].rp);
    }
    Eigen::MatrixXd bf, be, rf, re;
    detail::sample_band(c.bp_design, bp, o.truncation, bf, be);
    detail::sample_band(c.rp_design, rp, o.truncation, rf, re);
    std::vector<Eigen::Index> bp_col(sources.size(), -1), rp_col(sources.size(), -1);
    for (std::size_t k = 0; k < bp_of.size(); ++k) bp_col[bp_of[k]] = Eigen::Index(k);
    for (std::size_t k = 0; k < rp_of.size(); ++k) rp_col[rp_of[k]] = Eigen::Index(k);

    const std::size_t ns = c.sampling.size();
    std::vector<xp_spectrum> out(sources.size());
    for (std::size_t k = 0; k < sources.size(); ++k) {
        xp_spectrum& s = out[k];
        s.source_id = sources[k].source_id;
        s.flux.resize(ns);
        s.flux_error.resize(ns);
        const Eigen::Index b = bp_col[k], r = rp_col[k];
        for (std::size_t i = 0; i < ns; ++i) {
            const auto ii = Eigen::Index(i);
            if (b >= 0 && r >= 0) {
                const double wb = c.bp_weight[i], wr = c.rp_weight[i];
                s.flux[i] = bf(ii, b) * wb + rf(ii, r) * wr;
                s.flux_error[i] = std::sqrt(be(ii, b) * be(ii, b) * wb * wb + re(ii, r) * re(ii, r) * wr * wr);
            } else if (b >= 0) {
                const bool out_of_range = c.sampling[i] >= detail::bp_high_nm;
                s.flux[i] = out_of_range ? NAN : bf(ii, b);
                s.flux_error[i] = out_of_range ? NAN : be(ii, b);
            } else {
                const bool out_of_range = c.sampling[i] <= detail::rp_low_nm;
                s.flux[i] = out_of_range ? NAN : rf(ii, r);
                s.flux_error[i] = out_of_range ? NAN : re(ii, r);
            }
        }
    }
    return out;
}

/// \brief calibrate() of one source.
template <class Dummy = void>  // a template: compiled only where it is used
xp_spectrum calibrate(const xp_calibration& c, const xp_continuous_spectrum& source,
                      const xp_calibrate_options& o = {}) {
    return calibrate(c, std::vector<xp_continuous_spectrum>{source}, o).front();
}

namespace detail {

// Streams the sources of an xp_continuous file through `f` (a batch of sources -> one result each) in batches
// of `batch`: what calibrate_xp_file and convert_xp_file share.
template <class F>
auto in_batches(const std::string& path, std::size_t batch, bad_row_policy policy, read_report* report, F&& f) {
    xp_continuous_reader in(path, policy);
    decltype(f(std::vector<xp_continuous_spectrum>{})) out;
    std::vector<xp_continuous_spectrum> chunk;
    auto flush = [&] {
        auto done = f(chunk);
        for (auto& s : done) out.push_back(std::move(s));
        chunk.clear();
    };
    while (auto s = in.next()) {
        chunk.push_back(std::move(*s));
        if (chunk.size() >= std::max<std::size_t>(batch, 1)) flush();
    }
    if (!chunk.empty()) flush();
    if (report) *report = in.report();
    return out;
}

}  // namespace detail

/// \brief Reads an xp_continuous_mean_spectrum file and calibrates it in batches of `batch` sources, so
/// memory stays bounded for archive-sized files.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<xp_spectrum> calibrate_xp_file(const std::string& path, const xp_calibration& c,
                                           const xp_calibrate_options& o = {}, std::size_t batch = 512,
                                           bad_row_policy policy = bad_row_policy::error,
                                           read_report* report = nullptr) {
    return detail::in_batches(path, batch, policy, report,
                              [&](const std::vector<xp_continuous_spectrum>& chunk) { return calibrate(c, chunk, o); });
}

}  // namespace ferrum::spectra
