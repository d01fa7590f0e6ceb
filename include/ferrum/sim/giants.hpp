// A simulator of red giants with a known answer for the giant-star [Fe/H] models (UA-CSNet on XP spectra,
// the Bayesian MLP on colours): an imbalanced [Fe/H] distribution with a metal-poor tail, Teff and colours
// that depend smoothly on [Fe/H], logg and Teff, Gaia-like sampled XP spectra (GaiaXPy's 343-point grid)
// and G/BP/RP/2MASS/WISE photometry, extinction with the Wang & Chen (2019) law, and heteroscedastic
// noise of known size on every quantity (spectra, magnitudes, parallaxes, labels). Not a stellar-
// atmosphere model: the relations are smooth toys chosen so that [Fe/H] is recoverable but not trivially.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/photometry/colour_features.hpp"
#include "ferrum/spectra/xp_spectra.hpp"

namespace ferrum::sim {

/// Settings of simulate_giants.
struct giant_sim_options {
    double tail_fraction = 0.15;  ///< share of the metal-poor tail: [Fe/H] = tail_start - Exp(tail_scale)
    double disc_mean = -0.25, disc_sigma = 0.30;  ///< the main population, N(mean, sigma) in [-1.5, 0.5]
    double tail_start = -0.8, tail_scale = 0.6;
    double feh_min = -3.0, feh_max = 0.5;
    bool uniform_feh = false;           ///< draw [Fe/H] ~ U(feh_min, feh_max) instead (e.g. out-of-range tests)
    double g_min = 10.0, g_max = 17.5;  ///< G magnitudes, density rising linearly towards faint stars
    double snr_at_g12 = 200.0;          ///< S/N per 2-nm XP sample at 550 nm for G = 12 (scales as 10^(-0.2 (G-12)))
    double mean_av = 0.5;               ///< A_V ~ Exp(mean_av), capped at 3
    bool spectra = true;                ///< simulate XP spectra (the costly part)
};

/// One simulated giant. Magnitudes are apparent, observed (noise and extinction included).
struct giant_star {
    std::int64_t source_id = 0;
    double feh_true = 0, feh = 0, feh_error = 0;  ///< label = truth + N(0, feh_error)
    double teff = 0, logg = 0, bp_rp0 = 0, av = 0, a_ks = 0;
    std::array<double, photometry::n_bands> mag{}, mag_error{}, abs_mag_true{};
    double parallax_true = 0, parallax = 0, parallax_error = 0;  ///< mas
    std::vector<double> xp_flux, xp_flux_error;                  ///< dereddened, on the sample's wavelength grid
};

struct giant_sample {
    std::vector<double> wavelength;  ///< nm (GaiaXPy default sampling)
    std::vector<giant_star> stars;
};

namespace detail {

/// Intrinsic colours and M_Ks of a giant, smooth in x = (5000 - Teff) / 1000 K, [Fe/H] and logg.
/// The [Fe/H] terms (strongest in BP - RP and W1 - W2) are what the colour model learns from.
inline std::array<double, photometry::n_bands> giant_absolute_magnitudes(double teff, double logg, double feh) {
    using namespace photometry;
    const double x = (5000.0 - teff) / 1000.0;
    const double log_l = 4.0 * std::log10(teff / 5772.0) - (logg - 4.438);  // 1 solar mass
    const double m_bol = 4.74 - 2.5 * log_l;
    const double m_ks = m_bol - (1.85 + 1.1 * x);
    const double j_ks = 0.62 + 0.55 * x + 0.15 * x * x + 0.03 * feh;
    const double h_ks = 0.08 + 0.06 * x + 0.01 * feh;
    const double ks_w1 = 0.04 + 0.04 * x - 0.01 * feh;
    const double w1_w2 = -0.04 - 0.04 * x + 0.04 * feh;
    const double bp_rp = 1.05 + 0.80 * x + 0.25 * x * x + 0.10 * feh + 0.04 * feh * x;
    const double g_rp = 0.56 + 0.28 * x + 0.04 * feh;
    const double rp_j = 0.86 + 0.38 * x + 0.03 * feh;
    std::array<double, n_bands> m{};
    m[Ks] = m_ks;
    m[H] = m_ks + h_ks;
    m[J] = m_ks + j_ks;
    m[W1] = m_ks - ks_w1;
    m[W2] = m[W1] - w1_w2;
    m[RP] = m[J] + rp_j;
    m[G] = m[RP] + g_rp;
    m[BP] = m[RP] + bp_rp;
    return m;
}

/// Noise-free XP spectrum relative to its flux at 550 nm: a Planck continuum times broad absorption
/// features (Ca II H&K, G band, Mg b, Na D, TiO, Ca triplet at XP resolution) whose depths grow with
/// [Fe/H] as a logistic curve (sensitivity fading below -2) and with coolness.
inline std::vector<double> giant_xp_shape(const std::vector<double>& wl, double teff, double feh) {
    struct feature {
        double centre, width, depth, t_power;
    };
    static constexpr feature features[] = {{393, 12, 0.45, 1.0}, {430, 10, 0.25, 2.0}, {517, 10, 0.20, 2.0},
                                           {589, 9, 0.12, 3.0},  {712, 18, 0.15, 6.0}, {858, 14, 0.12, 1.0}};
    const double metal = 1.0 / (1.0 + std::exp(-1.6 * (feh + 0.8)));
    auto planck = [&](double l) { return std::pow(l, -5.0) / std::expm1(1.4388e7 / (l * teff)); };
    const double ref = planck(550.0);
    std::vector<double> f(wl.size());
    for (std::size_t i = 0; i < wl.size(); ++i) {
        double a = 1.0;
        for (const auto& q : features) {
            const double z = (wl[i] - q.centre) / q.width;
            a *= 1.0 - q.depth * metal * std::pow(4800.0 / teff, q.t_power) * std::exp(-0.5 * z * z);
        }
        f[i] = a * planck(wl[i]) / ref;
    }
    return f;
}

inline double giant_xp_shape_at_550(double teff, double feh) {
    return giant_xp_shape(std::vector<double>{550.0}, teff, feh)[0];
}

}  // namespace detail

/// \brief Simulates `n` giants (seeded; the same seed gives the same sample). Known noise sizes:
/// label sigma = 0.12 + 0.08 (G - 10)/7.5 dex; XP sample sigma = sqrt(F F_550) / S/N + 0.002 F_550 with
/// S/N = snr_at_g12 10^(-0.2 (G - 12)); magnitude errors growing with magnitude (Gaia 3-10 mmag, 2MASS and
/// WISE 20-50 mmag); parallax sigma = 0.02 + 0.3 10^(0.2 (G - 17)) mas.
inline giant_sample simulate_giants(std::size_t n, const giant_sim_options& o = {}, std::uint64_t seed = 1) {
    using namespace photometry;
    if (n == 0) throw value_error("simulate_giants: n must be positive");
    if (!(o.g_max > o.g_min) || !(o.feh_max > o.feh_min) || !(o.tail_fraction >= 0 && o.tail_fraction <= 1))
        throw value_error("simulate_giants: empty G or [Fe/H] range, or tail_fraction outside [0, 1]");
    giant_sample s;
    s.wavelength = spectra::gaiaxpy_default_sampling();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> nd(0.0, 1.0);
    const auto ratios = extinction_ratios();
    s.stars.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        giant_star g;
        g.source_id = std::int64_t(1000000 + i);
        double feh;
        if (o.uniform_feh) {
            feh = o.feh_min + (o.feh_max - o.feh_min) * u(rng);
        } else {
            do {
                feh = u(rng) < o.tail_fraction ? o.tail_start + o.tail_scale * std::log(u(rng))
                                               : o.disc_mean + o.disc_sigma * nd(rng);
            } while (feh < o.feh_min || feh > o.feh_max);
        }
        g.feh_true = feh;
        g.logg = 1.0 + 2.3 * u(rng);
        g.teff = std::clamp(4650.0 + 280.0 * (g.logg - 2.2) - 170.0 * feh + 50.0 * nd(rng), 3800.0, 5400.0);
        g.abs_mag_true = detail::giant_absolute_magnitudes(g.teff, g.logg, feh);
        g.bp_rp0 = g.abs_mag_true[BP] - g.abs_mag_true[RP];
        g.av = std::min(3.0, -o.mean_av * std::log(u(rng)));
        g.a_ks = g.av * wang_chen_2019_a_over_av[Ks];
        const double gmag = o.g_min + (o.g_max - o.g_min) * std::sqrt(u(rng));
        const double dist_mod = gmag - g.abs_mag_true[G] - ratios[G] * g.a_ks;
        g.parallax_true = 1000.0 / std::pow(10.0, dist_mod / 5.0 + 1.0);
        for (std::size_t b = 0; b < n_bands; ++b) {
            const double m = g.abs_mag_true[b] + dist_mod + ratios[b] * g.a_ks;
            const double e = b <= RP ? (b == G ? 0.0005 : 0.003) + 0.01 * std::pow(10.0, 0.4 * (m - 17.0))
                                     : 0.02 + 0.03 * std::pow(10.0, 0.4 * (m - 13.0));
            g.mag_error[b] = std::min(e, 0.3);
            g.mag[b] = m + g.mag_error[b] * nd(rng);
        }
        g.parallax_error = 0.02 + 0.3 * std::pow(10.0, 0.2 * (gmag - 17.0));
        g.parallax = g.parallax_true + g.parallax_error * nd(rng);
        g.feh_error = 0.12 + 0.08 * (gmag - 10.0) / 7.5;
        g.feh = feh + g.feh_error * nd(rng);
        if (o.spectra) {
            const auto shape = detail::giant_xp_shape(s.wavelength, g.teff, feh);
            const double f550 = 1e-16 * std::pow(10.0, -0.4 * (gmag - 15.0));
            const double snr = o.snr_at_g12 * std::pow(10.0, -0.2 * (gmag - 12.0));
            g.xp_flux.resize(shape.size());
            g.xp_flux_error.resize(shape.size());
            for (std::size_t k = 0; k < shape.size(); ++k) {
                const double f = f550 * shape[k];
                const double e = std::sqrt(std::max(f, 0.0) * f550) / snr + 0.002 * f550;
                g.xp_flux_error[k] = e;
                g.xp_flux[k] = f + e * nd(rng);
            }
        }
        s.stars.push_back(std::move(g));
    }
    return s;
}

namespace detail {
inline void append_list(std::string& out, const std::vector<double>& v) {
    out += "\"[";
    char b[32];
    for (std::size_t k = 0; k < v.size(); ++k) {
        std::snprintf(b, sizeof b, k ? ", %.7g" : "%.7g", v[k]);
        out += b;
    }
    out += "]\"";
}
}  // namespace detail

/// \brief Writes the XP spectra as GaiaXPy writes sampled spectra to CSV (source_id, flux, flux_error).
inline void write_giant_xp_csv(const std::string& path, const giant_sample& s) {
    std::string out = "source_id,flux,flux_error\n";
    for (const auto& g : s.stars) {
        if (g.xp_flux.empty()) throw value_error("write_giant_xp_csv: the sample was simulated without spectra");
        out += std::to_string(g.source_id) + ",";
        detail::append_list(out, g.xp_flux);
        out += ",";
        detail::append_list(out, g.xp_flux_error);
        out += "\n";
    }
    write_file_atomically(path, out);
}

/// \brief Writes labels, truth and photometry: source_id, feh, feh_error, feh_true, teff, logg, bp_rp0,
/// ebv, the Gaia/2MASS/AllWISE magnitude columns (photometry_columns' names) and their errors, parallax,
/// parallax_error, parallax_true, ruwe, phot_bp_rp_excess_factor (a well-behaved source: C* = 0).
inline void write_giant_catalogue_csv(const std::string& path, const giant_sample& s) {
    using namespace photometry;
    const photometry_columns c;
    std::string out = "source_id,feh,feh_error,feh_true,teff,logg,bp_rp0,ebv";
    for (const auto& m : c.mag) out += "," + m;
    for (const auto& m : c.mag) out += "," + m + "_error";
    out += ",parallax,parallax_error,parallax_true,ruwe,phot_bp_rp_excess_factor\n";
    char b[64];
    auto add = [&](double v) {
        std::snprintf(b, sizeof b, ",%.9g", v);
        out += b;
    };
    for (const auto& g : s.stars) {
        out += std::to_string(g.source_id);
        for (double v : {g.feh, g.feh_error, g.feh_true, g.teff, g.logg, g.bp_rp0, g.av / 3.1}) add(v);
        for (double v : g.mag) add(v);
        for (double v : g.mag_error) add(v);
        const double bp_rp = g.mag[BP] - g.mag[RP];
        for (double v :
             {g.parallax, g.parallax_error, g.parallax_true, 1.0, -spectra::corrected_excess_factor(0.0, bp_rp)})
            add(v);
        out += "\n";
    }
    write_file_atomically(path, out);
}

}  // namespace ferrum::sim
