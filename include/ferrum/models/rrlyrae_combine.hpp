// A network's [Fe/H] combined with the classical pipeline's (Fourier fit -> phi31, A2 -> relation) by
// inverse variance. Where a curve is densely sampled and clean, the classical fit's phi31 is precise and its
// propagated sigma small; the combination then leans on it, elsewhere on the network. The classical estimate
// is on its relation's photometric scale, not necessarily the training label's: a linear map onto the
// label, and a sigma calibration (scale and floor per type and epoch range) of the mapped estimate, are
// fitted on stars whose labels the classical relation never saw (any training star: the relation has no
// training), so that both inputs of the combination are on one scale and their sigmas mean what they say.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/models/rrlyrae_calibration.hpp"
#include "ferrum/models/rrlyrae_classical.hpp"

namespace ferrum::models {

/// \brief A Gaussian estimate: mean and sigma (dex).
struct rrl_estimate {
    double feh = std::numeric_limits<double>::quiet_NaN();
    double sigma = std::numeric_limits<double>::quiet_NaN();
    bool usable() const noexcept { return std::isfinite(feh) && std::isfinite(sigma) && sigma > 0; }
};

/// \brief The inverse-variance combination of two independent Gaussian estimates of one quantity:
/// mean = (a/sa^2 + b/sb^2) / (1/sa^2 + 1/sb^2), sigma = (1/sa^2 + 1/sb^2)^(-1/2). An unusable estimate
/// (non-finite mean or sigma, sigma <= 0) is left out: the other is returned; both unusable: NaN.
inline rrl_estimate inverse_variance_combine(const rrl_estimate& a, const rrl_estimate& b) noexcept {
    if (!a.usable()) return b.usable() ? b : rrl_estimate{};
    if (!b.usable()) return a;
    const double wa = 1.0 / (a.sigma * a.sigma), wb = 1.0 / (b.sigma * b.sigma);
    return {(wa * a.feh + wb * b.feh) / (wa + wb), 1.0 / std::sqrt(wa + wb)};
}

/// \brief The classical estimate put on a label's scale with a sigma that covers it: per type, classical =
/// a + b * label fitted by least squares and inverted, mapped = offset + slope * classical with slope = 1/b,
/// offset = -a/b (not the regression of the label on the classical estimate, which would shrink it toward
/// the mean with an error that depends on the label), and the mapped estimate's sigma = the calibration
/// (rrl_sigma_calibration: scale and floor per type and epoch range) of slope * the classical sigma.
class rrl_classical_map {
public:
    struct line {
        rr_type type = rr_type::rrab;
        double offset = 0.0, slope = 1.0;
        std::size_t n = 0;
    };

    bool empty() const noexcept { return lines_.empty(); }
    const std::vector<line>& lines() const noexcept { return lines_; }
    const rrl_sigma_calibration& calibration() const noexcept { return calibration_; }

    /// \brief Fits the map on stars with a label: `classical` (classical_feh of `stars`) and `label` one per
    /// star; stars that are flagged, without a classical estimate or with a non-finite label are skipped.
    /// \throws value_error on sizes that differ, or a type present with fewer than 20 usable stars or
    /// whose classical estimate does not rise with the label.
    /// (A template only so that the calibration's fit is compiled where this is called.)
    template <class Dummy = void>
    static rrl_classical_map fit(const std::vector<rrl_star_input>& stars, const std::vector<rrl_prediction>& classical,
                                 const std::vector<double>& label) {
        if (classical.size() != stars.size() || label.size() != stars.size())
            throw value_error("rrl_classical_map::fit: one classical estimate and one label per star are needed");
        rrl_classical_map m;
        std::vector<rrl_calibration_point> pts;
        for (rr_type t : {rr_type::rrab, rr_type::rrc}) {
            std::vector<std::size_t> use;
            for (std::size_t i = 0; i < stars.size(); ++i)
                if (stars[i].type == t && classical[i].ok() && std::isfinite(classical[i].feh) &&
                    std::isfinite(classical[i].sigma) && classical[i].sigma >= 0 && std::isfinite(label[i]))
                    use.push_back(i);
            if (use.empty()) continue;
            if (use.size() < 20)
                throw value_error("rrl_classical_map::fit: " + std::string(to_string(t)) + " has " +
                                  std::to_string(use.size()) + " usable stars (at least 20 are needed)");
            // classical = a + b * label (least squares; its errors are independent of the label), inverted:
            // the mapped estimate (classical - a) / b is unbiased for the label, with error / b
            double mx = 0, my = 0;
            for (auto i : use) mx += classical[i].feh, my += label[i];
            mx /= double(use.size());
            my /= double(use.size());
            double syy = 0, sxy = 0;
            for (auto i : use) {
                syy += (label[i] - my) * (label[i] - my);
                sxy += (classical[i].feh - mx) * (label[i] - my);
            }
            if (!(syy > 0) || !(sxy > 0))
                throw value_error("rrl_classical_map::fit: the " + std::string(to_string(t)) +
                                  " classical estimate does not rise with the label");
            const double b = sxy / syy, a = mx - b * my;
            line l{t, -a / b, 1.0 / b, use.size()};
            m.lines_.push_back(l);
            for (auto i : use) {
                rrl_calibration_point p;
                p.type = t;
                p.n_epochs = stars[i].n_epochs;
                p.residual = l.offset + l.slope * classical[i].feh - label[i];
                p.sigma_raw = std::abs(l.slope) * classical[i].sigma;
                pts.push_back(p);
            }
        }
        if (m.lines_.empty())
            throw value_error("rrl_classical_map::fit: no star with a classical estimate and a label");
        m.calibration_ = basic_rrl_sigma_calibration<Dummy>::fit(pts, 0, std::max<std::size_t>(100, pts.size() / 8));
        return m;
    }

    /// The classical estimate of a star of `type` with `n_epochs` on the label's scale; NaN when the type
    /// has no line or the estimate is unusable.
    rrl_estimate apply(rr_type type, std::size_t n_epochs, const rrl_prediction& classical) const noexcept {
        if (!classical.ok() || !std::isfinite(classical.feh) || !std::isfinite(classical.sigma)) return {};
        for (const auto& l : lines_)
            if (l.type == type)
                return {l.offset + l.slope * classical.feh,
                        calibration_.apply(type, n_epochs, std::abs(l.slope) * classical.sigma)};
        return {};
    }

    template <class Dummy = void>
    nlohmann::json to_json() const {
        using json = std::conditional_t<std::is_void_v<Dummy>, nlohmann::json, nlohmann::json>;
        const basic_rrl_sigma_calibration<Dummy>& calibration = calibration_;
        json ls = json::array();
        for (const auto& l : lines_)
            ls.push_back({{"type", to_string(l.type)}, {"offset", l.offset}, {"slope", l.slope}, {"n", l.n}});
        return json{{"lines", ls}, {"calibration", calibration.to_json()}};
    }

private:
    std::vector<line> lines_;
    rrl_sigma_calibration calibration_;
};

/// \brief Each star's model prediction combined by inverse variance with its classical estimate on the
/// model's label scale (`map`); a star without a usable classical estimate, or whose model prediction has
/// no sigma, keeps the model's prediction; a flagged model prediction stays flagged. The model's sigma must be calibrated (it is weighed as is).
/// \throws value_error on sizes that differ.
inline std::vector<rrl_prediction> rrl_combine_with_classical(const std::vector<rrl_star_input>& stars,
                                                              const std::vector<rrl_prediction>& model,
                                                              const std::vector<rrl_prediction>& classical,
                                                              const rrl_classical_map& map) {
    if (model.size() != stars.size() || classical.size() != stars.size())
        throw value_error("rrl_combine_with_classical: one model and one classical estimate per star are needed");
    std::vector<rrl_prediction> out = model;
    for (std::size_t i = 0; i < stars.size(); ++i) {
        if (!model[i].ok() || !(model[i].sigma > 0) || !std::isfinite(model[i].sigma)) continue;
        const auto c = inverse_variance_combine({model[i].feh, model[i].sigma},
                                                map.apply(stars[i].type, stars[i].n_epochs, classical[i]));
        if (c.usable()) out[i].feh = c.feh, out[i].sigma = c.sigma;
    }
    return out;
}

}  // namespace ferrum::models
