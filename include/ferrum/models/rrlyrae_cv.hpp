// Repeated stratified K-fold cross-validation of an RR Lyrae model (Monti et al. 2025, Sect. 4: 5 folds
// stratified in [Fe/H]): out-of-fold predictions and per-fold metrics.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/models/rrlyrae_metrics.hpp"
#include "ferrum/models/rrlyrae_model.hpp"
#include "ferrum/train/kfold.hpp"

namespace ferrum::models {

/// \brief Out-of-fold results of repeated stratified K-fold CV.
struct rrl_cv_result {
    std::vector<std::size_t> index;        ///< the stars used (usable, served, labelled), into the input vector
    std::vector<double> y, sigma;          ///< their labels and label errors
    std::vector<std::vector<double>> oof;  ///< per repetition, out-of-fold prediction of each used star
    /// per repetition, its sigma (the fold model's calibrated sigma, with to.calibration_mc_samples passes)
    std::vector<std::vector<double>> oof_sigma;
    /// every out-of-fold residual with its raw sigma: what the final model's calibration is fitted on
    std::vector<rrl_calibration_point> points;
    std::vector<rrl_metrics> folds;  ///< test-fold metrics, repetition-major
    std::vector<int> best_epochs;    ///< per fold (0 for fourier_linear)
};

/// \brief Repeated stratified K-fold CV (train::repeated_stratified_kfold) of a model of options `mo`
/// trained with `to` on the usable stars of the served types with finite labels.
template <class Dummy = void>  // a template: compiled only where it is used
rrl_cv_result cross_validate_rrlyrae(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                                     const std::vector<double>& sigma, const rrl_model_options& mo,
                                     const rrl_training_options& to, std::size_t folds = 5, std::size_t repeats = 1) {
    rrl_cv_result r;
    for (std::size_t i = 0; i < stars.size(); ++i)
        if (stars[i].ok() && std::isfinite(y[i]) &&
            std::find(mo.types.begin(), mo.types.end(), stars[i].type) != mo.types.end()) {
            r.index.push_back(i);
            r.y.push_back(y[i]);
            r.sigma.push_back(sigma.empty() ? 1.0 : sigma[i]);
        }
    if (r.index.size() < folds * 10)
        throw value_error("cross_validate_rrlyrae: " + std::to_string(r.index.size()) + " usable labelled stars for " +
                          std::to_string(folds) + " folds (at least 10 per fold needed)");
    std::vector<rrl_star_input> used;
    used.reserve(r.index.size());
    for (auto i : r.index) used.push_back(stars[i]);
    const auto splits = train::repeated_stratified_kfold(r.y, folds, repeats, to.seed);
    const std::size_t mc = to.calibrate ? to.calibration_mc_samples : 0;
    r.oof_sigma.assign(repeats, std::vector<double>(used.size(), std::numeric_limits<double>::quiet_NaN()));
    r.oof = train::out_of_fold_predictions(
        splits, used.size(),
        [&](const train::fold& f) {
        rrlyrae_model m(mo, to.seed + 7919 * (f.repeat * folds + f.index + 1));
        rrl_training_options t = to;
        t.seed = to.seed + 104729 * (f.repeat * folds + f.index + 1);
        const auto h = m.fit(used, r.y, f.train, t);
        r.best_epochs.push_back(h.best_epoch);
        std::vector<rrl_star_input> test;
        for (auto i : f.test) test.push_back(used[i]);
        const auto p = m.predict_raw(test, mc, 1, to.threads);
        std::vector<double> pv, yv, sv;
        for (std::size_t k = 0; k < p.size(); ++k) {
            r.points.push_back({test[k].type, test[k].n_epochs, p[k].feh - r.y[f.test[k]], p[k].sigma});
            r.oof_sigma[f.repeat][f.test[k]] = m.calibration().apply(test[k].type, test[k].n_epochs, p[k].sigma);
            pv.push_back(p[k].feh);
            yv.push_back(r.y[f.test[k]]);
            sv.push_back(r.sigma[f.test[k]]);
        }
        r.folds.push_back(rrl_score(yv, pv, sigma.empty() ? std::vector<double>{} : sv));
        return pv;
        },
        to.progress);
    return r;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE rrl_cv_result cross_validate_rrlyrae<void>(
    const std::vector<rrl_star_input>& stars, const std::vector<double>& y, const std::vector<double>& sigma,
    const rrl_model_options& mo, const rrl_training_options& to, std::size_t folds, std::size_t repeats);
#endif

}  // namespace ferrum::models
