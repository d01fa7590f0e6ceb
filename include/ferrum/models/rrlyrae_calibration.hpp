// Calibrated uncertainties of the RR Lyrae [Fe/H] models: a network's raw sigma (its aleatoric output and
// the MC-dropout spread, in quadrature) is mapped to a sigma that covers the residuals it claims to, with a
// scale and a floor fitted by maximum likelihood on residuals the model was not trained on (its
// early-stopping hold-out, out-of-fold predictions, or another set), per type and range of epoch counts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"

namespace ferrum::models {

/// \brief One star the calibration is fitted on: its residual (prediction - label), the model's raw sigma
/// for it, its type and number of epochs.
struct rrl_calibration_point {
    rr_type type = rr_type::rrab;
    std::size_t n_epochs = 0;
    double residual = 0.0;   ///< prediction - label (dex)
    double sigma_raw = 0.0;  ///< the model's uncalibrated sigma (dex); 0 for a model without one
};

/// \brief sigma = sqrt((scale * sigma_raw)^2 + floor^2), with (scale, floor) per type and range of epoch
/// counts. The floor carries what the raw sigma does not see (a label convention, an intrinsic scatter,
/// a model without any sigma of its own); the scale corrects a raw sigma that is too small or too large.
class rrl_sigma_calibration {
public:
    struct bin {
        rr_type type = rr_type::rrab;
        double min_epochs = 0, max_epochs = std::numeric_limits<double>::infinity();  ///< [min, max)
        double scale = 1.0, floor = 0.0;
        std::size_t n = 0;    ///< stars it was fitted on (pooled bins: those of the pool)
        bool pooled = false;  ///< too few stars in the range: the type's fit over all ranges
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

    /// The calibrated sigma of a star; `sigma_raw` unchanged when the calibration is empty or has no bin of
    /// the type.
    double apply(rr_type type, std::size_t n_epochs, double sigma_raw) const noexcept {
        for (const auto& b : bins_)
            if (b.type == type && double(n_epochs) >= b.min_epochs && double(n_epochs) < b.max_epochs)
                return std::sqrt(b.scale * b.scale * sigma_raw * sigma_raw + b.floor * b.floor);
        return sigma_raw;
    }

    /// \brief Fits (scale, floor) per type and epoch range by maximum likelihood, r ~ N(0, (s sigma_raw)^2 +
    /// f^2). A range with fewer than `min_per_bin` stars gets the fit over all of the type's stars.
    /// \throws value_error when a type has fewer than 10 points or a point is not finite.
    static rrl_sigma_calibration fit(const std::vector<rrl_calibration_point>& points, std::size_t mc_samples,
                                     std::size_t min_per_bin = 40, const std::vector<double>& edges = default_edges()) {
        for (const auto& p : points)
            if (!std::isfinite(p.residual) || !(p.sigma_raw >= 0) || !std::isfinite(p.sigma_raw))
                throw value_error("rrl_sigma_calibration::fit: a residual or raw sigma is not finite");
        if (edges.size() < 2) throw value_error("rrl_sigma_calibration::fit: need at least two bin edges");
        rrl_sigma_calibration c;
        c.mc_samples_ = mc_samples;
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            std::vector<rrl_calibration_point> all;
            for (const auto& p : points)
                if (p.type == t) all.push_back(p);
            if (all.empty()) continue;
            if (all.size() < 10)
                throw value_error(std::string("rrl_sigma_calibration::fit: ") + std::to_string(all.size()) + " " +
                                  to_string(t) + " residuals; at least 10 are needed");
            const auto pooled = fit_one(all);
            for (std::size_t k = 0; k + 1 < edges.size(); ++k) {
                bin b;
                b.type = t;
                b.min_epochs = edges[k];
                b.max_epochs = edges[k + 1];
                std::vector<rrl_calibration_point> in;
                for (const auto& p : all)
                    if (double(p.n_epochs) >= b.min_epochs && double(p.n_epochs) < b.max_epochs) in.push_back(p);
                const bool pool = in.size() < min_per_bin;
                const auto sf = pool ? pooled : fit_one(in);
                b.scale = sf.first;
                b.floor = sf.second;
                b.n = pool ? all.size() : in.size();
                b.pooled = pool;
                c.bins_.push_back(b);
            }
        }
        if (c.bins_.empty()) throw value_error("rrl_sigma_calibration::fit: no RRab or RRc residuals");
        return c;
    }

    nlohmann::json to_json() const {
        nlohmann::json bins = nlohmann::json::array();
        for (const auto& b : bins_)
            bins.push_back(
                {{"type", to_string(b.type)},
                 {"min_epochs", b.min_epochs},
                 {"max_epochs", std::isfinite(b.max_epochs) ? nlohmann::json(b.max_epochs) : nlohmann::json(nullptr)},
                 {"scale", b.scale},
                 {"floor", b.floor},
                 {"n", b.n},
                 {"pooled", b.pooled}});
        return {{"model", "sigma = sqrt((scale * sigma_raw)^2 + floor^2), sigma_raw = hypot(aleatoric, mc_dropout)"},
                {"mc_samples", mc_samples_},
                {"bins", bins}};
    }

    /// \throws value_error naming the field on a malformed calibration.
    static rrl_sigma_calibration from_json(const nlohmann::json& j) {
        rrl_sigma_calibration c;
        if (j.is_null()) return c;
        for (auto it = j.begin(); it != j.end(); ++it)
            if (it.key() != "model" && it.key() != "mc_samples" && it.key() != "bins")
                throw value_error("calibration." + it.key() + ": not a field of a calibration");
        c.mc_samples_ = j.at("mc_samples").get<std::size_t>();
        for (const auto& x : j.at("bins")) {
            bin b;
            b.type = parse_rr_type(x.at("type").get<std::string>());
            if (b.type != rr_type::rrab && b.type != rr_type::rrc)
                throw value_error("calibration.bins.type: RRab or RRc");
            b.min_epochs = x.at("min_epochs").get<double>();
            b.max_epochs = x.at("max_epochs").is_null() ? std::numeric_limits<double>::infinity()
                                                        : x.at("max_epochs").get<double>();
            b.scale = x.at("scale").get<double>();
            b.floor = x.at("floor").get<double>();
            b.n = x.value("n", std::size_t{0});
            b.pooled = x.value("pooled", false);
            if (!(b.scale >= 0) || !(b.floor >= 0) || !std::isfinite(b.scale) || !std::isfinite(b.floor))
                throw value_error("calibration.bins: scale and floor must be finite and >= 0");
            if (!(b.min_epochs < b.max_epochs))
                throw value_error("calibration.bins: min_epochs must be below max_epochs");
            c.bins_.push_back(b);
        }
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

private:
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
    std::size_t mc_samples_ = 0;
};

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
