// Repeated stratified K-fold cross-validation of an RR Lyrae model (Monti et al. 2025, Sect. 4: 5 folds
// stratified in [Fe/H]): out-of-fold predictions and per-fold metrics.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "ferrum/core/communicator.hpp"
#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
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

namespace detail {

/// One fold's results, in the order of its test stars.
struct rrl_fold_result {
    std::vector<double> feh, sigma_raw, sigma_calibrated;
    int best_epoch = 0;
};

}  // namespace detail

/// \brief Repeated stratified K-fold CV (train::repeated_stratified_kfold) of a model of options `mo`
/// trained with `to` on the usable stars of the served types with finite labels.
///
/// Under MPI (`to.comm` with several ranks) every fold is trained by all ranks together, data-parallel
/// (the default), or, with `folds_across_ranks`, fold k by rank k mod N alone (no communication while
/// training; ranks beyond K x repeats idle), the results then gathered on every rank in one
/// MPI_Allgatherv. Both give every rank the one-process result, bit for bit: a fold's model depends only on
/// its seed and its stars, and the results are assembled in fold order whoever trained them.
template <class Dummy = void>  // a template: compiled only where it is used
rrl_cv_result cross_validate_rrlyrae(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                                     const std::vector<double>& sigma, const rrl_model_options& mo,
                                     const rrl_training_options& to, std::size_t folds = 5, std::size_t repeats = 1,
                                     bool folds_across_ranks = false) {
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

    // Which folds this process trains: all of them (one process, or data-parallel across the ranks), or
    // fold k when k mod N is this rank.
    const bool spread = folds_across_ranks && to.comm.distributed();
    const std::size_t n_ranks = spread ? std::size_t(to.comm.size()) : 1, me = spread ? std::size_t(to.comm.rank()) : 0;
    std::size_t n_mine = 0;
    for (std::size_t k = 0; k < splits.size(); ++k) n_mine += k % n_ranks == me;
    std::vector<detail::rrl_fold_result> res(splits.size());
    std::string error;
    try {
        progress bar("fold", n_mine, "folds", to.progress);
        std::size_t done = 0;
        for (std::size_t k = 0; k < splits.size(); ++k) {
            if (k % n_ranks != me) continue;
            const auto& f = splits[k];
            rrlyrae_model m(mo, to.seed + 7919 * (f.repeat * folds + f.index + 1));
            rrl_training_options t = to;
            t.seed = to.seed + 104729 * (f.repeat * folds + f.index + 1);
            if (spread) t.comm = communicator{};  // this rank alone
            const auto h = m.fit(used, r.y, f.train, t);
            std::vector<rrl_star_input> test;
            for (auto i : f.test) test.push_back(used[i]);
            const auto p = m.predict_raw(test, mc, 1, to.threads);
            auto& out = res[k];
            out.best_epoch = h.best_epoch;
            for (std::size_t j = 0; j < p.size(); ++j) {
                out.feh.push_back(p[j].feh);
                out.sigma_raw.push_back(p[j].sigma);
                out.sigma_calibrated.push_back(m.calibration().apply(test[j].type, test[j].n_epochs, p[j].sigma, 0.0, p[j].feh));
            }
            bar.update(++done, "repeat " + std::to_string(f.repeat) + " fold " + std::to_string(f.index));
        }
    } catch (const std::exception& e) {
        if (!spread) throw;
        error = e.what();
    }
    if (spread) {
        // Every rank learns whether all succeeded before any waits for another's results.
        const int failed = to.comm.count(!error.empty());
        if (failed > 0)
            throw value_error(error.empty() ? "cross_validate_rrlyrae: " + std::to_string(failed) + " of " +
                                                  std::to_string(n_ranks) + " ranks failed training their folds"
                                            : error);
        // Rank r sends its folds' (feh, raw sigma, calibrated sigma) triples and best epochs in fold order.
        std::vector<std::size_t> counts(n_ranks, 0), epoch_counts(n_ranks, 0);
        for (std::size_t k = 0; k < splits.size(); ++k) {
            counts[k % n_ranks] += 3 * splits[k].test.size();
            ++epoch_counts[k % n_ranks];
        }
        std::vector<double> mine;
        std::vector<std::int32_t> mine_epochs;
        for (std::size_t k = me; k < splits.size(); k += n_ranks) {
            for (std::size_t j = 0; j < res[k].feh.size(); ++j)
                mine.insert(mine.end(), {res[k].feh[j], res[k].sigma_raw[j], res[k].sigma_calibrated[j]});
            mine_epochs.push_back(std::int32_t(res[k].best_epoch));
        }
        const auto all = to.comm.all_gather(mine, counts);
        const auto all_epochs = to.comm.all_gather(mine_epochs, epoch_counts);
        std::vector<std::size_t> at(n_ranks, 0), epoch_at(n_ranks, 0);
        for (std::size_t q = 1; q < n_ranks; ++q) {
            at[q] = at[q - 1] + counts[q - 1];
            epoch_at[q] = epoch_at[q - 1] + epoch_counts[q - 1];
        }
        for (std::size_t k = 0; k < splits.size(); ++k) {
            const std::size_t q = k % n_ranks;
            auto& out = res[k];
            out = {};
            for (std::size_t j = 0; j < splits[k].test.size(); ++j, at[q] += 3) {
                out.feh.push_back(all[at[q]]);
                out.sigma_raw.push_back(all[at[q] + 1]);
                out.sigma_calibrated.push_back(all[at[q] + 2]);
            }
            out.best_epoch = all_epochs[epoch_at[q]++];
        }
    }

    // Assembled in fold order, as one process trains them.
    r.oof.assign(repeats, std::vector<double>(used.size(), std::numeric_limits<double>::quiet_NaN()));
    r.oof_sigma.assign(repeats, std::vector<double>(used.size(), std::numeric_limits<double>::quiet_NaN()));
    for (std::size_t k = 0; k < splits.size(); ++k) {
        const auto& f = splits[k];
        const auto& out = res[k];
        r.best_epochs.push_back(out.best_epoch);
        std::vector<double> yv, sv;
        for (std::size_t j = 0; j < f.test.size(); ++j) {
            const std::size_t i = f.test[j];
            r.points.push_back(
                {used[i].type, used[i].n_epochs, out.feh[j] - r.y[i], out.sigma_raw[j], 0.0, out.feh[j]});
            r.oof[f.repeat][i] = out.feh[j];
            r.oof_sigma[f.repeat][i] = out.sigma_calibrated[j];
            yv.push_back(r.y[i]);
            sv.push_back(r.sigma[i]);
        }
        r.folds.push_back(rrl_score(yv, out.feh, sigma.empty() ? std::vector<double>{} : sv));
    }
    return r;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE rrl_cv_result cross_validate_rrlyrae<void>(
    const std::vector<rrl_star_input>& stars, const std::vector<double>& y, const std::vector<double>& sigma,
    const rrl_model_options& mo, const rrl_training_options& to, std::size_t folds, std::size_t repeats,
    bool folds_across_ranks);
#endif

}  // namespace ferrum::models
