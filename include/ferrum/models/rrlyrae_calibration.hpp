// Calibrated uncertainties of the RR Lyrae [Fe/H] models: a network's raw sigma (its aleatoric output and
// the MC-dropout spread, in quadrature) is mapped to a sigma that covers the residuals it claims to, with a
// scale and a floor per type and range of epoch counts fitted on residuals the model was not trained on (its
// early-stopping hold-out, out-of-fold predictions, or another set): by Gaussian maximum likelihood, or to
// the shares of those residuals within 1 and 2 sigma (the coverage a user reads: 68.27 % and 95.45 %).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"

namespace ferrum::models {

/// \brief How rrl_sigma_calibration::fit chooses each bin's (scale, floor).
enum class rrl_calibration_method {
    /// Gaussian maximum likelihood, r ~ N(0, (s sigma_raw)^2 + f^2): pulled by the core of the residuals, so
    /// with tails heavier than a Gaussian's the 1 sigma interval over-covers and the 2 sigma one under-covers.
    likelihood,
    /// Fitted to the coverage a user reads: (s, f) minimising ((c1 - 0.6827) / 0.03)^2 + ((c2 - 0.9545) /
    /// 0.02)^2, c1 and c2 the fractions of the stars with |r| <= sigma and <= 2 sigma, the denominators the
    /// goal's tolerances (issue #19). Both levels are met exactly (|r| / sigma then has its 68.27 % and
    /// 95.45 % quantiles at 1 and 2) when the two parameters can do it, e.g. when the tails come from stars
    /// of small raw sigma (the floor widens those most); otherwise it is the compromise in units of the
    /// tolerances. Ties (one raw sigma for all stars: only sqrt(s^2 sigma^2 + f^2) matters) go to the point
    /// nearest the likelihood fit.
    coverage
};

inline const char* to_string(rrl_calibration_method m) noexcept {
    return m == rrl_calibration_method::coverage ? "coverage" : "likelihood";
}
inline rrl_calibration_method rrl_calibration_method_from_string(const std::string& s) {
    if (s == "likelihood") return rrl_calibration_method::likelihood;
    if (s == "coverage") return rrl_calibration_method::coverage;
    throw value_error("unknown calibration method '" + s + "' (expected likelihood or coverage)");
}
FERRUM_ENUM_JSON(rrl_calibration_method, rrl_calibration_method_from_string)

/// \brief One star the calibration is fitted on: its residual (prediction - label), the model's raw sigma
/// for it, its type and number of epochs.
struct rrl_calibration_point {
    rr_type type = rr_type::rrab;
    std::size_t n_epochs = 0;
    double residual = 0.0;   ///< prediction - label (dex)
    double sigma_raw = 0.0;  ///< the model's uncalibrated sigma (dex); 0 for a model without one
    /// The label-error term's per-star sigma (dex): the error of a curve-derived label from the star's own
    /// Fourier fit (the classical pipeline's propagated sigma); 0 when unknown or unused.
    double sigma_label = 0.0;
    /// The model's prediction ([Fe/H], dex): what the prediction-dependent factor (fit's feh_bins) is binned
    /// on; NaN when unknown (such a point takes no part in that fit).
    double prediction = std::numeric_limits<double>::quiet_NaN();
};

/// \brief sigma = sqrt((scale * sigma_raw)^2 + floor^2 + (label_scale * sigma_label)^2), with (scale, floor)
/// per type and range of epoch counts and label_scale per type. The floor carries what the raw sigma does
/// not see (a label convention, an intrinsic scatter, a model without any sigma of its own); the scale
/// corrects a raw sigma that is too small or too large. The label-error term (label_scale > 0; 0 by
/// default) is for a model trained on curve-derived labels (a relation on a catalogue's Fourier fit of the
/// same curve): such a model learns the label's fit error with the label, so its residuals against the
/// labels cannot show it, and sigma_label (the star's own fit error, propagated through the relation) is
/// added to reach the truth. It assumes that the label's error against the truth is that propagated fit
/// error times label_scale, and that the model reproduces it (label_scale 1: wholly).
///
/// Optionally (fit's `feh_bins` K > 0) a factor that depends on the prediction multiplies the first two terms:
/// sigma = sqrt(g(type, prediction)^2 ((scale * sigma_raw)^2 + floor^2) + (label_scale * sigma_label)^2),
/// g constant on K ranges of the prediction whose edges are the type's K-quantiles of the predictions the
/// calibration is fitted on (each range holding at least min_per_bin stars: fewer ranges, or none, when there
/// are too few stars or too few distinct predictions). A network's raw sigma need not follow the residuals'
/// growth towards the metallicity extremes (docs/rrlyrae.md, "Uncertainties that mean what they say"); g
/// carries it. A star whose prediction is not finite, or a type without ranges, has g = 1 (the fit without
/// ranges).
template <class Dummy = void>
class basic_rrl_sigma_calibration {
    // the JSON type spelt dependent on Dummy (the same type), so that the bodies below are compiled only
    // where they are used (docs/architecture.md, "compile cost")
    template <class E>
    using dependent = std::conditional_t<std::is_void_v<Dummy>, E, E>;

public:
    using json_type = dependent<nlohmann::json>;

    /// One range of the prediction of one type and its factor (feh_bins).
    struct feh_bin {
        rr_type type = rr_type::rrab;
        double min_prediction = -std::numeric_limits<double>::infinity();  ///< [min, max)
        double max_prediction = std::numeric_limits<double>::infinity();
        double factor = 1.0;
        std::size_t n = 0;  ///< stars it was fitted on
    };

    struct bin {
        rr_type type = rr_type::rrab;
        double min_epochs = 0, max_epochs = std::numeric_limits<double>::infinity();  ///< [min, max)
        double scale = 1.0, floor = 0.0;
        double label_scale = 0.0;  ///< the label-error term's factor (the type's; 0: no term)
        std::size_t n = 0;         ///< stars it was fitted on (pooled bins: those of the pool)
        bool pooled = false;       ///< too few stars in the range: the type's fit over all ranges
    };

    /// Epoch-count edges of the bins (Monti et al. 2025 Fig. 7 shows the error falling with N_epochs).
    static const std::vector<double>& default_edges() {
        static const std::vector<double> e{0, 35, 50, 70, 100, std::numeric_limits<double>::infinity()};
        return e;
    }

    bool empty() const noexcept { return bins_.empty(); }
    const std::vector<bin>& bins() const noexcept { return bins_; }
    /// MC-dropout passes the raw sigmas were computed with (predict with the same for the stated coverage).
    std::size_t mc_samples() const noexcept { return mc_samples_; }

    /// Whether a bin has a label-error term (predict then needs each star's sigma_label).
    bool has_label_term() const noexcept {
        return std::any_of(bins_.begin(), bins_.end(), [](const bin& b) { return b.label_scale > 0; });
    }

    /// The calibrated sigma of a star; `sigma_raw` unchanged when the calibration is empty or has no bin of
    /// the type. A non-finite `sigma_label` counts as 0 (no label-error term for that star). `prediction`
    /// (the model's [Fe/H] for the star) selects the prediction-dependent factor; without it (NaN) the
    /// factor is 1.
    double apply(rr_type type, std::size_t n_epochs, double sigma_raw, double sigma_label = 0.0,
                 double prediction = std::numeric_limits<double>::quiet_NaN()) const noexcept {
        const double sl = std::isfinite(sigma_label) ? sigma_label : 0.0;
        for (const auto& b : bins_)
            if (b.type == type && double(n_epochs) >= b.min_epochs && double(n_epochs) < b.max_epochs) {
                const double g = feh_factor(type, prediction);
                return std::sqrt(g * g * (b.scale * b.scale * sigma_raw * sigma_raw + b.floor * b.floor) +
                                 b.label_scale * b.label_scale * sl * sl);
            }
        return sigma_raw;
    }

    /// The prediction-dependent factor g of a star of `type` predicted at `prediction` (1 without ranges
    /// for the type or with a non-finite prediction).
    double feh_factor(rr_type type, double prediction) const noexcept {
        if (!std::isfinite(prediction)) return 1.0;
        for (const auto& b : feh_bins_)
            if (b.type == type && prediction >= b.min_prediction && prediction < b.max_prediction) return b.factor;
        return 1.0;
    }

    /// The ranges of the prediction and their factors (empty: none).
    const std::vector<feh_bin>& feh_bins() const noexcept { return feh_bins_; }

    /// Sets the label-error factor of every bin of `type` (0 removes the term).
    /// \throws value_error when it is negative or not finite.
    void set_label_scale(rr_type type, double label_scale) {
        if (!(label_scale >= 0) || !std::isfinite(label_scale))
            throw value_error("rrl_sigma_calibration::set_label_scale: needs a finite factor >= 0");
        for (auto& b : bins_)
            if (b.type == type) b.label_scale = label_scale;
    }

    /// \brief Fits the label-error factor of each type by maximum likelihood on residuals against the truth
    /// (not the labels: e.g. a simulation's feh_true), with each bin's scale and floor kept:
    /// r ~ N(0, (s sigma_raw)^2 + f^2 + (lambda sigma_label)^2), lambda in [0, 10]. A type without points,
    /// or whose points have no positive sigma_label, keeps its factor. Returns the fitted factors (RRab, RRc;
    /// NaN: not fitted).
    /// \throws value_error when a point is not finite.
    std::pair<double, double> fit_label_scale(const std::vector<rrl_calibration_point>& truth_points) {
        for (const auto& p : truth_points)
            if (!std::isfinite(p.residual) || !std::isfinite(p.sigma_raw) || !std::isfinite(p.sigma_label))
                throw value_error("rrl_sigma_calibration::fit_label_scale: a residual or sigma is not finite");
        double fitted[2] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            // each point's variance without the term, from its own bin
            std::vector<std::pair<double, double>> rv;  // (r^2, base variance), with sigma_label^2 beside
            std::vector<double> l2;
            for (const auto& p : truth_points) {
                if (p.type != t || !(p.sigma_label > 0)) continue;
                const bin* b = find(t, p.n_epochs);
                if (!b) continue;
                rv.push_back(
                    {p.residual * p.residual, b->scale * b->scale * p.sigma_raw * p.sigma_raw + b->floor * b->floor});
                l2.push_back(p.sigma_label * p.sigma_label);
            }
            if (rv.empty()) continue;
            auto nll_l = [&](double lam) {
                double v = 0;
                for (std::size_t i = 0; i < rv.size(); ++i) {
                    const double var = std::max(rv[i].second + lam * lam * l2[i], 1e-300);
                    v += 0.5 * (rv[i].first / var + std::log(var));
                }
                return v;
            };
            // a grid, then golden section around its best (the likelihood in lambda may be flat at 0)
            double best = 0, bv = nll_l(0);
            for (int i = 1; i <= 200; ++i)
                if (const double v = nll_l(0.05 * i); v < bv) bv = v, best = 0.05 * i;
            const double lam = std::max(0.0, golden(nll_l, std::max(0.0, best - 0.05), best + 0.05));
            set_label_scale(t, lam);
            fitted[t == rr_type::rrab ? 0 : 1] = lam;
        }
        return {fitted[0], fitted[1]};
    }

    /// \brief Fits (scale, floor) per type and epoch range with `method` (rrl_calibration_method: Gaussian
    /// maximum likelihood, r ~ N(0, (s sigma_raw)^2 + f^2), or the fit to the 1 and 2 sigma coverage). A
    /// range with fewer than `min_per_bin` stars gets the fit over all of the type's stars. Without any raw
    /// sigma (all 0) only the floor is fitted (scale 1). Every fitted scale and floor is finite and > 0.
    /// `feh_bins` K > 0 (at most max_feh_bins) adds the prediction-dependent factor (see the class): with the
    /// (scale, floor) of each point's bin fixed, z = r / sqrt((s sigma_raw)^2 + f^2), and per type the
    /// points with a finite prediction are split at the K-quantiles of their predictions (NumPy's default
    /// interpolation; repeated edges merged, then a range with fewer than min_per_bin points merged into its
    /// smaller neighbour until none is left or one range remains: then no ranges). Each range's factor is
    /// fitted by `method`: likelihood, g^2 = mean z^2 (the maximum of the Gaussian likelihood); coverage, the
    /// g minimising coverage_loss of z (exactly: the loss is constant between the breakpoints |z| and
    /// |z| / 2), among ties the likelihood g when it is a minimiser, else the geometric middle of the
    /// minimising interval nearest to it.
    /// \throws value_error when a type has fewer than 10 points, a point is not finite, or (coverage) a
    /// bin's residuals are nearly all 0 (the 95.45 % quantile of |r| is 0: no spread to calibrate), or
    /// feh_bins is 1 or above max_feh_bins.
    static basic_rrl_sigma_calibration fit(const std::vector<rrl_calibration_point>& points, std::size_t mc_samples,
                                     std::size_t min_per_bin = 40, const std::vector<double>& edges = default_edges(),
                                     rrl_calibration_method method = rrl_calibration_method::likelihood,
                                     std::size_t feh_bins = 0) {
        check_feh_bins(feh_bins, "rrl_sigma_calibration::fit: feh_bins");
        for (const auto& p : points)
            if (!std::isfinite(p.residual) || !(p.sigma_raw >= 0) || !std::isfinite(p.sigma_raw))
                throw value_error("rrl_sigma_calibration::fit: a residual or raw sigma is not finite");
        if (edges.size() < 2) throw value_error("rrl_sigma_calibration::fit: need at least two bin edges");
        basic_rrl_sigma_calibration c;
        c.mc_samples_ = mc_samples;
        c.method_ = method;
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            std::vector<rrl_calibration_point> all;
            for (const auto& p : points)
                if (p.type == t) all.push_back(p);
            if (all.empty()) continue;
            if (all.size() < 10)
                throw value_error(std::string("rrl_sigma_calibration::fit: ") + std::to_string(all.size()) + " " +
                                  to_string(t) + " residuals; at least 10 are needed");
            const auto pooled = fit_bin(all, method, t, "all epoch counts");
            for (std::size_t k = 0; k + 1 < edges.size(); ++k) {
                bin b;
                b.type = t;
                b.min_epochs = edges[k];
                b.max_epochs = edges[k + 1];
                std::vector<rrl_calibration_point> in;
                for (const auto& p : all)
                    if (double(p.n_epochs) >= b.min_epochs && double(p.n_epochs) < b.max_epochs) in.push_back(p);
                const bool pool = in.size() < min_per_bin;
                const auto sf = pool ? pooled
                                     : fit_bin(in, method, t,
                                               "epochs [" + num(b.min_epochs) + ", " + num(b.max_epochs) + ")");
                b.scale = sf.first;
                b.floor = sf.second;
                b.n = pool ? all.size() : in.size();
                b.pooled = pool;
                c.bins_.push_back(b);
            }
        }
        if (c.bins_.empty()) throw value_error("rrl_sigma_calibration::fit: no RRab or RRc residuals");
        if (feh_bins > 0) c.fit_feh_bins(points, feh_bins, std::max<std::size_t>(min_per_bin, 1), method);
        return c;
    }

    /// The most ranges of the prediction a calibration may have per type.
    static constexpr std::size_t max_feh_bins = 20;

    /// \brief Throws value_error naming `where` unless k is 0 (no prediction-dependent factor) or in
    /// [2, max_feh_bins].
    static void check_feh_bins(std::size_t k, const std::string& where) {
        if (k == 0 || (k >= 2 && k <= max_feh_bins)) return;
        throw value_error(where + ": " + std::to_string(k) +
                          " ranges of the prediction; 0 (none) or 2 to " + std::to_string(max_feh_bins));
    }

    json_type to_json() const {
        json_type bins = json_type::array();
        for (const auto& b : bins_)
            bins.push_back(
                {{"type", to_string(b.type)},
                 {"min_epochs", b.min_epochs},
                 {"max_epochs", std::isfinite(b.max_epochs) ? json_type(b.max_epochs) : json_type(nullptr)},
                 {"scale", b.scale},
                 {"floor", b.floor},
                 {"label_scale", b.label_scale},
                 {"n", b.n},
                 {"pooled", b.pooled}});
        json_type j{{"model",
                          "sigma = sqrt((scale * sigma_raw)^2 + floor^2 + (label_scale * sigma_label)^2), sigma_raw "
                          "= hypot(aleatoric, mc_dropout), sigma_label = the classical pipeline's sigma of the star"},
                         {"method", to_string(method_)},
                         {"mc_samples", mc_samples_},
                         {"bins", bins}};
        if (!feh_bins_.empty()) {
            // only then: a calibration without ranges writes what it wrote before they existed
            j["model"] = "sigma = sqrt(g^2 ((scale * sigma_raw)^2 + floor^2) + (label_scale * sigma_label)^2), g = "
                         "feh_bins' factor of the star's type and prediction (1 outside them), sigma_raw = "
                         "hypot(aleatoric, mc_dropout), sigma_label = the classical pipeline's sigma of the star";
            json_type fb = json_type::array();
            auto edge = [](double x) { return std::isfinite(x) ? json_type(x) : json_type(nullptr); };
            for (const auto& b : feh_bins_)
                fb.push_back({{"type", to_string(b.type)},
                              {"min_prediction", edge(b.min_prediction)},
                              {"max_prediction", edge(b.max_prediction)},
                              {"factor", b.factor},
                              {"n", b.n}});
            j["feh_bins"] = fb;
        }
        if (!fitted_on_.empty()) j["fitted_on"] = fitted_on_;
        return j;
    }

    /// \throws value_error naming the field on a malformed calibration.
    static basic_rrl_sigma_calibration from_json(const json_type& j) {
        basic_rrl_sigma_calibration c;
        if (j.is_null()) return c;
        for (auto it = j.begin(); it != j.end(); ++it)
            if (it.key() != "model" && it.key() != "method" && it.key() != "mc_samples" && it.key() != "bins" &&
                it.key() != "fitted_on" && it.key() != "feh_bins")
                throw value_error("calibration." + it.key() + ": not a field of a calibration");
        c.mc_samples_ = j.at("mc_samples").template get<std::size_t>();
        // files written before the method was recorded were fitted by likelihood
        if (j.contains("method")) {
            if (!j.at("method").is_string()) throw value_error("calibration.method: likelihood or coverage");
            try {
                c.method_ = rrl_calibration_method_from_string(j.at("method").template get<std::string>());
            } catch (const value_error& e) {
                throw value_error(std::string("calibration.method: ") + e.what());
            }
        }
        if (j.contains("fitted_on")) c.fitted_on_ = j.at("fitted_on");
        for (const auto& x : j.at("bins")) {
            bin b;
            b.type = parse_rr_type(x.at("type").template get<std::string>());
            if (b.type != rr_type::rrab && b.type != rr_type::rrc)
                throw value_error("calibration.bins.type: RRab or RRc");
            b.min_epochs = x.at("min_epochs").template get<double>();
            b.max_epochs = x.at("max_epochs").is_null() ? std::numeric_limits<double>::infinity()
                                                        : x.at("max_epochs").template get<double>();
            b.scale = x.at("scale").template get<double>();
            b.floor = x.at("floor").template get<double>();
            b.label_scale = x.value("label_scale", 0.0);
            if (!(b.label_scale >= 0) || !std::isfinite(b.label_scale))
                throw value_error("calibration.bins.label_scale: must be finite and >= 0");
            b.n = x.value("n", std::size_t{0});
            b.pooled = x.value("pooled", false);
            if (!(b.scale >= 0) || !(b.floor >= 0) || !std::isfinite(b.scale) || !std::isfinite(b.floor))
                throw value_error("calibration.bins: scale and floor must be finite and >= 0");
            if (!(b.min_epochs < b.max_epochs))
                throw value_error("calibration.bins: min_epochs must be below max_epochs");
            c.bins_.push_back(b);
        }
        if (j.contains("feh_bins")) c.feh_bins_ = feh_bins_from_json(j.at("feh_bins"));
        return c;
    }

    /// Negative log-likelihood of residuals r under N(0, (s sigma_raw)^2 + f^2), up to a constant.
    static double nll(const std::vector<rrl_calibration_point>& pts, double s, double f) {
        double v = 0;
        for (const auto& p : pts) {
            const double var = s * s * p.sigma_raw * p.sigma_raw + f * f;
            v += 0.5 * (p.residual * p.residual / var + std::log(var));
        }
        return v;
    }

    /// How the scales and floors were fitted (files without a method: likelihood).
    rrl_calibration_method method() const noexcept { return method_; }

    /// \brief The quantile of sorted values `z` at probability q (linear interpolation between order
    /// statistics, NumPy's default).
    static double sorted_quantile(const std::vector<double>& z, double q) {
        if (z.empty()) return std::numeric_limits<double>::quiet_NaN();
        const double h = q * double(z.size() - 1);
        const auto lo = std::size_t(std::floor(h));
        const std::size_t hi = std::min(lo + 1, z.size() - 1);
        return z[lo] + (h - double(lo)) * (z[hi] - z[lo]);
    }

    /// The coverage fit's targets: the shares of a Gaussian within 1 and 2 sigma, and the goal's tolerances.
    static constexpr double p1 = 0.6826894921370859, p2 = 0.9544997361036416, tol1 = 0.03, tol2 = 0.02;

    /// \brief The coverage fit's objective at (s, f): ((c1 - p1) / tol1)^2 + ((c2 - p2) / tol2)^2, c_k the
    /// fraction of `pts` with |r| <= k sqrt((s sigma_raw)^2 + f^2).
    static double coverage_loss(const std::vector<rrl_calibration_point>& pts, double s, double f) {
        std::size_t in1 = 0, in2 = 0;
        for (const auto& p : pts) {
            const double a = std::abs(p.residual), sigma = std::sqrt(s * s * p.sigma_raw * p.sigma_raw + f * f);
            in1 += a <= sigma;
            in2 += a <= 2 * sigma;
        }
        const double n = double(pts.size()), d1 = (double(in1) / n - p1) / tol1, d2 = (double(in2) / n - p2) / tol2;
        return d1 * d1 + d2 * d2;
    }

    /// What the calibration was fitted on (free-form JSON, kept in the model file: e.g. the families of a
    /// cross-family calibration with each one's coverage); null when not recorded.
    const json_type& fitted_on() const noexcept { return fitted_on_; }
    void set_fitted_on(json_type j) { fitted_on_ = std::move(j); }

private:
    static std::vector<feh_bin> feh_bins_from_json(const json_type& a) {
        if (!a.is_array()) throw value_error("calibration.feh_bins: must be an array");
        std::vector<feh_bin> out;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const auto& x = a[i];
            const std::string where = "calibration.feh_bins[" + std::to_string(i) + "]";
            if (!x.is_object()) throw value_error(where + ": must be an object");
            for (auto it = x.begin(); it != x.end(); ++it)
                if (it.key() != "type" && it.key() != "min_prediction" && it.key() != "max_prediction" &&
                    it.key() != "factor" && it.key() != "n")
                    throw value_error(where + "." + it.key() + ": not a field of a range of the prediction");
            feh_bin b;
            try {
                b.type = parse_rr_type(x.at("type").template get<std::string>());
                if (x.at("min_prediction").is_null()) b.min_prediction = -std::numeric_limits<double>::infinity();
                else b.min_prediction = x.at("min_prediction").template get<double>();
                if (x.at("max_prediction").is_null()) b.max_prediction = std::numeric_limits<double>::infinity();
                else b.max_prediction = x.at("max_prediction").template get<double>();
                b.factor = x.at("factor").template get<double>();
                b.n = x.value("n", std::size_t{0});
            } catch (const typename json_type::exception& e) {
                throw value_error(where + ": " + e.what());
            }
            if (b.type != rr_type::rrab && b.type != rr_type::rrc) throw value_error(where + ".type: RRab or RRc");
            if (!(b.factor > 0) || !std::isfinite(b.factor))
                throw value_error(where + ".factor: must be finite and > 0");
            if (!(b.min_prediction < b.max_prediction) || std::isnan(b.min_prediction))
                throw value_error(where + ": min_prediction must be below max_prediction");
            for (const auto& o : out)
                if (o.type == b.type && b.min_prediction < o.max_prediction && o.min_prediction < b.max_prediction)
                    throw value_error(where + ": overlaps another range of the same type");
            out.push_back(b);
        }
        return out;
    }

    /// The prediction-dependent factors (fit's feh_bins): see fit.
    void fit_feh_bins(const std::vector<rrl_calibration_point>& points, std::size_t k, std::size_t min_per_bin,
                      rrl_calibration_method method) {
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            std::vector<std::pair<double, double>> pz;  // (prediction, z)
            for (const auto& p : points) {
                if (p.type != t || !std::isfinite(p.prediction)) continue;
                const bin* b = find(t, p.n_epochs);
                if (!b) continue;
                const double base = std::sqrt(b->scale * b->scale * p.sigma_raw * p.sigma_raw + b->floor * b->floor);
                if (base > 0) pz.push_back({p.prediction, p.residual / base});
            }
            if (pz.size() < 2 * min_per_bin) continue;
            std::vector<double> pred;
            for (const auto& q : pz) pred.push_back(q.first);
            std::sort(pred.begin(), pred.end());
            // interior edges at the k-quantiles, repeated ones merged
            std::vector<double> cut;
            for (std::size_t i = 1; i < k; ++i) {
                const double e = sorted_quantile(pred, double(i) / double(k));
                if (cut.empty() || e > cut.back()) cut.push_back(e);
            }
            auto count_in = [&pred](double lo, double hi) {
                return std::size_t(std::lower_bound(pred.begin(), pred.end(), hi) -
                                   std::lower_bound(pred.begin(), pred.end(), lo));
            };
            std::vector<double> lo{-std::numeric_limits<double>::infinity()};
            for (double e : cut) lo.push_back(e);
            auto hi_of = [&lo](std::size_t i) {
                return i + 1 < lo.size() ? lo[i + 1] : std::numeric_limits<double>::infinity();
            };
            // merge the smallest range below min_per_bin into its smaller neighbour, until none is left
            while (lo.size() > 1) {
                std::size_t worst = lo.size(), wn = min_per_bin;
                for (std::size_t i = 0; i < lo.size(); ++i)
                    if (const std::size_t n = count_in(lo[i], hi_of(i)); n < wn) wn = n, worst = i;
                if (worst == lo.size()) break;
                std::size_t drop;  // the edge removed: between `worst` and a neighbour
                if (worst == 0) drop = 1;
                else if (worst + 1 == lo.size()) drop = worst;
                else
                    drop = count_in(lo[worst - 1], lo[worst]) <= count_in(lo[worst + 1], hi_of(worst + 1)) ? worst
                                                                                                         : worst + 1;
                lo.erase(lo.begin() + std::ptrdiff_t(drop));
            }
            if (lo.size() < 2) continue;
            for (std::size_t i = 0; i < lo.size(); ++i) {
                feh_bin fb;
                fb.type = t;
                fb.min_prediction = lo[i];
                fb.max_prediction = hi_of(i);
                std::vector<double> z;
                for (const auto& q : pz)
                    if (q.first >= fb.min_prediction && q.first < fb.max_prediction) z.push_back(q.second);
                fb.n = z.size();
                fb.factor = factor_of(z, method);
                if (!(fb.factor > 0) || !std::isfinite(fb.factor))
                    throw value_error(std::string("rrl_sigma_calibration::fit: the ") + to_string(t) +
                                      " residuals with predictions in [" + num(fb.min_prediction) + ", " +
                                      num(fb.max_prediction) + ") are (nearly) all 0: no spread to calibrate");
                feh_bins_.push_back(fb);
            }
        }
    }

    /// One range's factor from its normalised residuals z (see fit): NaN or 0 when all z are 0.
    static double factor_of(const std::vector<double>& z, rrl_calibration_method method) {
        double z2 = 0;
        for (double v : z) z2 += v * v;
        const double ml = std::sqrt(z2 / double(z.size()));
        if (method != rrl_calibration_method::coverage || !(ml > 0)) return ml;
        // the loss is constant on [c_j, c_j+1) between the sorted breakpoints |z| and |z| / 2
        std::vector<double> a, c;
        for (double v : z) a.push_back(std::abs(v));
        std::sort(a.begin(), a.end());
        for (double v : a)
            if (v > 0) c.push_back(v), c.push_back(v / 2);
        std::sort(c.begin(), c.end());
        c.erase(std::unique(c.begin(), c.end()), c.end());
        const double n = double(a.size());
        auto loss = [&](double g) {
            const auto in1 = std::upper_bound(a.begin(), a.end(), g) - a.begin();
            const auto in2 = std::upper_bound(a.begin(), a.end(), 2 * g) - a.begin();
            const double d1 = (double(in1) / n - p1) / tol1, d2 = (double(in2) / n - p2) / tol2;
            return d1 * d1 + d2 * d2;
        };
        double best = loss(ml), g = ml;  // ml is a candidate: the answer when it is a minimiser
        double best_dist = 0;
        for (std::size_t j = 0; j + 1 < c.size(); ++j) {
            const double v = loss(c[j]);
            if (v > best + 1e-12) continue;
            // distance (in ln) from ml to [c_j, c_j+1); the interval's geometric middle as its point
            const double d = ml < c[j] ? std::log(c[j] / ml) : ml >= c[j + 1] ? std::log(ml / c[j + 1]) : 0.0;
            if (v < best - 1e-12 || d < best_dist) {
                best = v;
                best_dist = d;
                g = d == 0 ? ml : std::sqrt(c[j] * c[j + 1]);
            }
        }
        return g;
    }

    const bin* find(rr_type type, std::size_t n_epochs) const noexcept {
        for (const auto& b : bins_)
            if (b.type == type && double(n_epochs) >= b.min_epochs && double(n_epochs) < b.max_epochs) return &b;
        return nullptr;
    }

    static std::string num(double x) {
        if (!std::isfinite(x)) return "inf";
        char b[32];
        std::snprintf(b, sizeof b, "%g", x);
        return b;
    }

    /// One bin's (scale, floor) by `method`; throws naming the type and bin when a result is not finite and
    /// positive (which the searches below do not produce from finite input; a guard, so that no NaN or 0
    /// reaches a model file).
    static std::pair<double, double> fit_bin(const std::vector<rrl_calibration_point>& pts,
                                             rrl_calibration_method method, rr_type t, const std::string& where) {
        std::pair<double, double> sf;
        if (method == rrl_calibration_method::coverage) {
            std::vector<double> r;
            r.reserve(pts.size());
            for (const auto& p : pts) r.push_back(std::abs(p.residual));
            std::sort(r.begin(), r.end());
            if (!(sorted_quantile(r, p2) > 0))
                throw value_error(std::string("rrl_sigma_calibration::fit: the ") + to_string(t) + " residuals of " +
                                  where + " are (nearly) all 0: the coverage calibration needs a spread");
            sf = fit_coverage(pts, fit_one(pts), r);
        } else {
            sf = fit_one(pts);
        }
        if (!(sf.first > 0) || !(sf.second > 0) || !std::isfinite(sf.first) || !std::isfinite(sf.second))
            throw value_error(std::string("rrl_sigma_calibration::fit: the ") + to_string(t) + " fit of " + where +
                              " is not finite and positive");
        return sf;
    }

    /// \brief The coverage fit of one bin: coverage_loss plus a 1e-6 pull per unit of squared ln-distance
    /// to the likelihood fit `ml` (it only decides ties: the loss is a step function, flat between stars),
    /// minimised on a grid in (ln s, ln f) — ln s within 6 of ml's, ln f from 8 below the p1 quantile of
    /// |r| to 1 above its largest — then on three finer grids around the best, each 5 times finer. Without
    /// raw sigmas (all 0) the scale is 1 and only ln f is searched. `abs_r`: the sorted |r|.
    static std::pair<double, double> fit_coverage(const std::vector<rrl_calibration_point>& pts,
                                                  std::pair<double, double> ml, const std::vector<double>& abs_r) {
        double raw2 = 0;
        for (const auto& p : pts) raw2 += p.sigma_raw * p.sigma_raw;
        const bool floor_only = !(raw2 > 0);
        const double ls0 = floor_only ? 0.0 : std::log(ml.first), lf0 = std::log(ml.second);
        const double lf_lo = std::log(std::max(sorted_quantile(abs_r, p1), abs_r.back() * 1e-6)) - 8.0;
        const double lf_hi = std::log(abs_r.back()) + 1.0;
        auto obj = [&](double ls, double lf) {
            const double ds = ls - ls0, df = lf - lf0;
            return coverage_loss(pts, std::exp(ls), std::exp(lf)) + 1e-6 * (ds * ds + df * df);
        };
        const int ns = floor_only ? 0 : 30, nf = 80;
        double step_s = 0.2, step_f = (lf_hi - lf_lo) / nf;
        double bs = ls0, bf = lf_lo, best = std::numeric_limits<double>::infinity();
        for (int i = -ns; i <= ns; ++i)
            for (int k = 0; k <= nf; ++k) {
                const double ls = ls0 + step_s * i, lf = lf_lo + step_f * k, v = obj(ls, lf);
                if (v < best) best = v, bs = ls, bf = lf;
            }
        for (int level = 0; level < 3; ++level) {
            step_s /= 5;
            step_f /= 5;
            const double cs = bs, cf = bf;
            for (int i = floor_only ? 0 : -10; i <= (floor_only ? 0 : 10); ++i)
                for (int k = -10; k <= 10; ++k) {
                    const double ls = cs + step_s * i, lf = cf + step_f * k, v = obj(ls, lf);
                    if (v < best) best = v, bs = ls, bf = lf;
                }
        }
        return {std::exp(bs), std::exp(bf)};
    }

    /// (scale, floor) maximising the likelihood: a coarse grid in (ln s, ln f), then coordinate-wise
    /// golden-section refinement. Without any raw sigma (all 0) only the floor is fitted (scale 1).
    static std::pair<double, double> fit_one(const std::vector<rrl_calibration_point>& pts) {
        double r2 = 0, raw2 = 0;
        for (const auto& p : pts) {
            r2 += p.residual * p.residual;
            raw2 += p.sigma_raw * p.sigma_raw;
        }
        const double rms = std::sqrt(std::max(r2 / double(pts.size()), 1e-12));
        const double raw_rms = std::sqrt(raw2 / double(pts.size()));
        if (!(raw_rms > 0)) return {1.0, rms};  // the ML floor of N(0, f^2) is the RMS
        // parametrise by ln s and ln f around their natural scales; f may also go to 0 (ln f -> -inf)
        const double ls0 = std::log(rms / raw_rms), lf0 = std::log(rms);
        auto obj = [&](double ls, double lf) { return nll(pts, std::exp(ls), std::exp(lf)); };
        double bs = ls0, bf = lf0, best = obj(bs, bf);
        for (int i = -20; i <= 8; ++i)
            for (int k = -24; k <= 4; ++k) {
                const double ls = ls0 + 0.25 * i, lf = lf0 + 0.25 * k;
                const double v = obj(ls, lf);
                if (v < best) best = v, bs = ls, bf = lf;
            }
        for (int round = 0; round < 4; ++round) {
            bs = golden([&](double x) { return obj(x, bf); }, bs - 0.5, bs + 0.5);
            bf = golden([&](double x) { return obj(bs, x); }, bf - 0.5, bf + 0.5);
        }
        return {std::exp(bs), std::exp(bf)};
    }

    template <class F>
    static double golden(F&& f, double a, double b) {
        const double g = 0.5 * (std::sqrt(5.0) - 1.0);
        double c = b - g * (b - a), d = a + g * (b - a), fc = f(c), fd = f(d);
        for (int it = 0; it < 60; ++it) {
            if (fc < fd) {
                b = d, d = c, fd = fc, c = b - g * (b - a), fc = f(c);
            } else {
                a = c, c = d, fc = fd, d = a + g * (b - a), fd = f(d);
            }
        }
        return 0.5 * (a + b);
    }

    std::vector<bin> bins_;
    std::vector<feh_bin> feh_bins_;
    std::size_t mc_samples_ = 0;
    rrl_calibration_method method_ = rrl_calibration_method::likelihood;
    json_type fitted_on_;
};

/// The calibration (basic_rrl_sigma_calibration: a template only so that its bodies are compiled where used).
using rrl_sigma_calibration = basic_rrl_sigma_calibration<>;

/// \brief Fraction of stars whose |residual| <= k sigma (k = 1: 0.683 for calibrated Gaussian errors; k = 2:
/// 0.954). Stars with a non-finite or non-positive sigma are skipped; NaN when none is left.
inline double rrl_coverage(const std::vector<double>& residual, const std::vector<double>& sigma, double k) {
    std::size_t n = 0, in = 0;
    for (std::size_t i = 0; i < residual.size() && i < sigma.size(); ++i) {
        if (!(sigma[i] > 0) || !std::isfinite(sigma[i]) || !std::isfinite(residual[i])) continue;
        ++n;
        in += std::abs(residual[i]) <= k * sigma[i];
    }
    return n ? double(in) / double(n) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace ferrum::models
