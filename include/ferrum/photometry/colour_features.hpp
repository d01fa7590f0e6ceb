// Input features of the Bayesian MLP of Fallows & Sanders (2022): 16 colours and 8 absolute magnitudes from
// G, BP, RP, J, H, Ks, W1, W2, dereddened with the RJCE method (Majewski et al. 2011: A_Ks from H - W2 and
// an intrinsic colour) and the extinction law of Wang & Chen (2019, A_lambda / A_V of their Table 3).
// The issue cites the paper's appendix A1 for the colour list, which was not at hand: the 16 colours
// below are our choice (all adjacent pairs plus long baselines) and are listed by colour_feature_names().
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"

namespace ferrum::photometry {

/// The eight bands, in this order everywhere (arrays of magnitudes are indexed by these).
enum band : std::size_t {
    G = 0,
    BP,
    RP,
    J,
    H,
    Ks,
    W1,
    W2
};
inline constexpr std::size_t n_bands = 8;
inline constexpr std::array<const char*, n_bands> band_names{"G", "BP", "RP", "J", "H", "Ks", "W1", "W2"};

/// Wang & Chen (2019) Table 3, A_lambda / A_V, for G, BP, RP, J, H, Ks, W1, W2.
inline constexpr std::array<double, n_bands> wang_chen_2019_a_over_av{0.789, 1.002, 0.589, 0.243,
                                                                      0.131, 0.078, 0.039, 0.026};

/// The 16 colours (first band minus second band).
inline constexpr std::array<std::array<std::size_t, 2>, 16> colour_pairs{{{BP, RP},
                                                                          {G, RP},
                                                                          {BP, G},
                                                                          {G, J},
                                                                          {RP, J},
                                                                          {J, H},
                                                                          {H, Ks},
                                                                          {J, Ks},
                                                                          {Ks, W1},
                                                                          {W1, W2},
                                                                          {G, Ks},
                                                                          {BP, Ks},
                                                                          {RP, Ks},
                                                                          {H, W2},
                                                                          {G, W1},
                                                                          {G, W2}}};
inline constexpr std::size_t n_colours = colour_pairs.size();

/// Apparent magnitudes of one star; NaN marks a missing band.
struct photometry_row {
    std::int64_t source_id = 0;
    std::array<double, n_bands> mag{NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    double parallax = NAN;        ///< mas
    double parallax_error = NAN;  ///< mas
};

/// RJCE and feature settings.
struct colour_feature_options {
    double intrinsic_h_w2 = 0.08;  ///< (H - W2)_0 of RJCE (Majewski et al. 2011)
    std::array<double, n_bands> a_over_av = wang_chen_2019_a_over_av;
    bool clip_negative_extinction = false;  ///< RJCE gives A_Ks < 0 for noisy colours; clipping biases it
};

/// A_lambda / A_Ks for every band, and A_Ks per magnitude of E(H - W2).
inline std::array<double, n_bands> extinction_ratios(const colour_feature_options& o = {}) {
    std::array<double, n_bands> r{};
    for (std::size_t b = 0; b < n_bands; ++b) r[b] = o.a_over_av[b] / o.a_over_av[Ks];
    return r;
}

/// \brief RJCE: A_Ks = (H - W2 - (H - W2)_0) / (A_H/A_Ks - A_W2/A_Ks). With Wang & Chen (2019) the factor
/// is 0.743 (Majewski et al.'s IRAC [4.5] version has 0.918). NaN if H or W2 is missing.
inline double rjce_a_ks(double h, double w2, const colour_feature_options& o = {}) {
    const auto r = extinction_ratios(o);
    double a = (h - w2 - o.intrinsic_h_w2) / (r[H] - r[W2]);
    if (o.clip_negative_extinction && a < 0) a = 0;
    return a;
}

/// The features of one star and what was missing for them.
struct colour_features {
    std::vector<double> values;                    ///< 16 colours, then (if asked) 8 absolute magnitudes
    std::array<double, n_bands> dereddened_mag{};  ///< m - A_m
    double a_ks = NAN;
    std::string missing;  ///< "" when complete, else e.g. "missing bands: J, W2" or "parallax <= 0"
    bool ok() const noexcept { return missing.empty(); }
};

/// Names of the features: "BP-RP", ..., then "M_G", ..., "M_W2".
inline std::vector<std::string> colour_feature_names(bool absolute_magnitudes = true) {
    std::vector<std::string> n;
    for (const auto& p : colour_pairs) n.push_back(std::string(band_names[p[0]]) + "-" + band_names[p[1]]);
    if (absolute_magnitudes)
        for (const char* b : band_names) n.push_back(std::string("M_") + b);
    return n;
}

/// \brief Builds the features of one star. Colours are of dereddened magnitudes (they equal observed
/// colours minus colour excesses); absolute magnitudes use M = m - A + 5 log10(parallax / mas) - 10 and
/// need a positive `parallax_mas` (F&S use the combined Gaia + photometric parallax, see
/// photometric_parallax.hpp). A star with a missing band or a bad parallax gets `missing` set and NaN
/// features, never a half-built row.
inline colour_features make_colour_features(const std::array<double, n_bands>& mag, double parallax_mas,
                                            bool absolute_magnitudes = true, const colour_feature_options& o = {}) {
    colour_features f;
    std::string miss;
    for (std::size_t b = 0; b < n_bands; ++b)
        if (!std::isfinite(mag[b])) miss += (miss.empty() ? "" : ", ") + std::string(band_names[b]);
    const std::size_t n = n_colours + (absolute_magnitudes ? n_bands : 0);
    f.values.assign(n, NAN);
    if (!miss.empty()) {
        f.missing = "missing bands: " + miss;
        return f;
    }
    if (absolute_magnitudes && !(parallax_mas > 0 && std::isfinite(parallax_mas))) {
        f.missing = "parallax <= 0 or missing: no absolute magnitudes";
        return f;
    }
    const auto r = extinction_ratios(o);
    f.a_ks = rjce_a_ks(mag[H], mag[W2], o);
    for (std::size_t b = 0; b < n_bands; ++b) f.dereddened_mag[b] = mag[b] - r[b] * f.a_ks;
    for (std::size_t c = 0; c < n_colours; ++c)
        f.values[c] = f.dereddened_mag[colour_pairs[c][0]] - f.dereddened_mag[colour_pairs[c][1]];
    if (absolute_magnitudes)
        for (std::size_t b = 0; b < n_bands; ++b)
            f.values[n_colours + b] = f.dereddened_mag[b] + 5.0 * std::log10(parallax_mas) - 10.0;
    return f;
}

/// Column names of a photometry CSV (defaults: Gaia DR3 and its 2MASS / AllWISE cross-match names).
struct photometry_columns {
    std::string source_id = "source_id";
    std::array<std::string, n_bands> mag{
        "phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag", "j_m", "h_m", "ks_m", "w1mpro", "w2mpro"};
    std::string parallax = "parallax";
    std::string parallax_error = "parallax_error";
};

/// \brief Reads a photometry table row by row, so a catalogue of any size streams through bounded memory.
/// Every band column must exist; an empty field is a missing band (reported later by make_colour_features),
/// text that is not a finite number is an input_error naming the line and column, and so is a row with more or
/// fewer fields than the header. Parallax columns are optional.
class photometry_reader {
public:
    explicit photometry_reader(const std::string& path, const photometry_columns& c = {})
        : in_(path),
          names_(c),
          cid_(in_.column(c.source_id)),
          cp_(in_.find_column(c.parallax)),
          cpe_(in_.find_column(c.parallax_error)) {
        for (std::size_t b = 0; b < n_bands; ++b) cm_[b] = in_.column(c.mag[b]);
    }

    /// The next star, or nullopt at the end of the file.
    std::optional<photometry_row> next() {
        const csv_record* r = in_.next();
        if (!r) return std::nullopt;
        require_field_count(in_, *r);
        ++rows_;
        photometry_row p;
        const auto id = parse_int64((*r)[cid_]);
        if (!id.ok()) throw input_error(in_.path(), r->line(), names_.source_id, "not an integer source_id");
        p.source_id = id.value;
        for (std::size_t b = 0; b < n_bands; ++b) p.mag[b] = number(*r, cm_[b], names_.mag[b]);
        if (cp_) p.parallax = number(*r, *cp_, names_.parallax);
        if (cpe_) p.parallax_error = number(*r, *cpe_, names_.parallax_error);
        return p;
    }

    const std::string& path() const noexcept { return in_.path(); }
    /// Data rows read so far.
    std::size_t rows() const noexcept { return rows_; }

private:
    double number(const csv_record& r, std::size_t col, const std::string& name) const {
        const auto v = parse_double(r[col]);
        if (v.status == field_status::empty) return double(NAN);
        if (!v.ok())
            throw input_error(in_.path(), r.line(), name,
                              "'" + ferrum::detail::excerpt(r[col]) + "' is not a finite number");
        return v.value;
    }

    csv_reader in_;
    photometry_columns names_;
    std::size_t cid_;
    std::array<std::size_t, n_bands> cm_{};
    std::optional<std::size_t> cp_, cpe_;
    std::size_t rows_ = 0;
};

/// \brief Reads a whole photometry table (see photometry_reader).
inline std::vector<photometry_row> read_photometry_csv(const std::string& path, const photometry_columns& c = {}) {
    photometry_reader in(path, c);
    std::vector<photometry_row> out;
    while (auto p = in.next()) out.push_back(*p);
    return out;
}

}  // namespace ferrum::photometry
