// Hyperband search (Li et al. 2018, JMLR 18, Algorithm 1) of the RR Lyrae networks' training
// hyper-parameters over the space of Monti et al. (2025, Sect. 4): every trial trains an rrlyrae_model for
// `resource` epochs on a stratified part of the stars and is scored by the 1/sigma^2-weighted RMSE of the rest.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/models/rrlyrae_metrics.hpp"
#include "ferrum/models/rrlyrae_model.hpp"
#include "ferrum/models/rrlyrae_options.hpp"
#include "ferrum/train/hyperband.hpp"
#include "ferrum/train/kfold.hpp"

namespace ferrum::models {

/// \brief A model shape and its training settings: what a search starts from and what it returns.
struct rrl_options {
    rrl_model_options model;
    rrl_training_options training;
};
FERRUM_OPTIONS(rrl_options, model, training)

/// \brief Settings of tune_rrlyrae().
struct rrl_tune_options {
    double max_epochs = 81;         ///< Hyperband's R: the most epochs one configuration is trained for
    double eta = 3;                 ///< Hyperband's halving rate
    std::uint64_t seed = 1;         ///< draws the configurations and the hold-out split
    std::size_t holdout_folds = 5;  ///< the held-out part is one fold of a stratified K-fold (5: 20 %)
    bool progress = progress_enabled_by_default();
};
FERRUM_OPTIONS(rrl_tune_options, max_epochs, eta, seed, holdout_folds, progress)

/// \brief The search (every trial, the best) and the base options with the best configuration applied.
struct rrl_tune_result {
    train::hyperband_result search;
    /// Ready to train with: the best configuration applied, max_epochs = the epochs of the best trial.
    rrl_options best;
    std::vector<std::size_t> train_index, holdout_index;  ///< the split every trial used (into the stars)
};

/// The search-space dimensions tune_rrlyrae() understands, and what each sets.
inline const std::vector<std::pair<std::string, std::string>>& rrlyrae_hyperparameter_names() {
    static const std::vector<std::pair<std::string, std::string>> names{
        {"dropout", "the dropout rate after every GRU layer"},
        {"learning_rate", "Adam's learning rate"},
        {"batch_size", "the mini-batch size (rounded to an integer)"},
        {"l1", "kernel_l1: L1 strength on the input and recurrent kernels"},
        {"l2", "kernel_l2: L2 strength on the input and recurrent kernels"}};
    return names;
}

/// \brief `base` with the configuration `c` applied (names: rrlyrae_hyperparameter_names()).
/// value_error naming the dimension for an unknown name or a value out of its range.
inline rrl_options apply_rrlyrae_hyperparameters(const train::hyper_config& c, rrl_options base) {
    for (const auto& dim : c) {
        const std::string& name = dim.first;  // not a structured binding: the lambda below captures it
        const double v = dim.second;
        auto bad = [&](const std::string& why) {
            return value_error("rrlyrae hyper-parameter '" + name + "' = " + std::to_string(v) + ": " + why);
        };
        if (!std::isfinite(v)) throw bad("not finite");
        if (name == "dropout") {
            if (!(v >= 0 && v < 1)) throw bad("must be in [0, 1)");
            // Keras Tuner's single "dropout" hyper-parameter: one rate shared by the layers
            for (auto& d : base.model.dropout) d = v;
        } else if (name == "learning_rate") {
            if (!(v > 0)) throw bad("must be > 0");
            base.training.learning_rate = v;
        } else if (name == "batch_size") {
            if (!(v >= 0.5)) throw bad("must be >= 1");
            base.training.batch_size = static_cast<std::size_t>(std::llround(v));
        } else if (name == "l1") {
            if (!(v >= 0)) throw bad("must be >= 0");
            base.training.kernel_l1 = v;
        } else if (name == "l2") {
            if (!(v >= 0)) throw bad("must be >= 0");
            base.training.kernel_l2 = v;
        } else {
            throw value_error("tune_rrlyrae: unknown search-space dimension '" + name +
                              "' (expected dropout, learning_rate, batch_size, l1 or l2)");
        }
    }
    return base;
}

/// \brief Hyperband over `space` for the model of `base.model` trained with `base.training`, on the stars
/// `index` (usable, of the served types, with finite labels y). The stars are split once (stratified in
/// [Fe/H], train::repeated_stratified_kfold, one fold held out); each trial trains on the training part
/// for `resource` epochs (early stopping as in base.training, on its own 10 % of that part) and returns the
/// held-out RMSE weighted by 1/sigma^2 (sigma empty: unweighted). All trials share the network seed, so they
/// differ only by their hyper-parameters. A trial whose training loss diverges scores +inf. Deterministic
/// for a seed and a thread count. With several ranks in base.training.comm (MPI) the trials of each round
/// are dealt across the ranks, each trained by one rank alone, and every rank returns the one-process result.
template <class Dummy = void>  // a template: compiled only where it is used
rrl_tune_result tune_rrlyrae(const std::vector<rrl_star_input>& stars, const std::vector<double>& y,
                             const std::vector<double>& sigma, const std::vector<std::size_t>& index,
                             const rrl_options& base,
                             const train::search_space& space = train::search_space::monti2025(),
                             const rrl_tune_options& opt = {}) {
    if (y.size() != stars.size()) throw value_error("tune_rrlyrae: one label per star is needed");
    if (!sigma.empty() && sigma.size() != stars.size())
        throw value_error("tune_rrlyrae: give one label error per star, or none");
    if (base.model.architecture == rrl_architecture::fourier_linear)
        throw value_error(
            "tune_rrlyrae: fourier_linear is a closed-form ridge fit with no epochs or training "
            "hyper-parameters to search; tune paper_gru or gru_fourier");
    if (opt.holdout_folds < 2) throw value_error("tune_rrlyrae: holdout_folds must be >= 2");
    if (space.empty()) throw value_error("tune_rrlyrae: the search space is empty");
    {
        // refuse an unknown dimension before any training: a draw names every dimension
        std::mt19937_64 probe(0);
        (void)apply_rrlyrae_hyperparameters(space.sample(probe), base);
    }
    const rrlyrae_model probe_model(base.model, base.training.seed);  // refuses inconsistent model options
    std::vector<double> yu;
    for (auto i : index) {
        if (i >= stars.size()) throw value_error("tune_rrlyrae: index " + std::to_string(i) + " out of range");
        if (!stars[i].ok())
            throw value_error("tune_rrlyrae: star " + stars[i].id + " is flagged (" + stars[i].flag + ")");
        if (!probe_model.serves(stars[i].type))
            throw value_error("tune_rrlyrae: star " + stars[i].id + " is " + to_string(stars[i].type) +
                              ", which the model does not serve");
        if (!std::isfinite(y[i])) throw value_error("tune_rrlyrae: label of star " + stars[i].id + " is not finite");
        if (!sigma.empty() && !(sigma[i] > 0))
            throw value_error("tune_rrlyrae: label error of star " + stars[i].id + " must be > 0");
        yu.push_back(y[i]);
    }
    if (index.size() < 20 * opt.holdout_folds)
        throw value_error("tune_rrlyrae: " + std::to_string(index.size()) + " stars; at least " +
                          std::to_string(20 * opt.holdout_folds) + " are needed for a " +
                          std::to_string(opt.holdout_folds) + "-fold hold-out");

    rrl_tune_result result;
    const auto split = train::repeated_stratified_kfold(yu, opt.holdout_folds, 1, opt.seed).front();
    for (auto k : split.train) result.train_index.push_back(index[k]);
    for (auto k : split.test) result.holdout_index.push_back(index[k]);
    std::vector<rrl_star_input> held;
    std::vector<double> y_held, s_held;
    for (auto i : result.holdout_index) {
        held.push_back(stars[i]);
        y_held.push_back(y[i]);
        if (!sigma.empty()) s_held.push_back(sigma[i]);
    }

    auto epochs_of = [](double resource) { return std::max(1, static_cast<int>(std::lround(resource))); };
    auto evaluate = [&](const train::hyper_config& c, double resource) {
        rrl_options o = apply_rrlyrae_hyperparameters(c, base);
        o.training.max_epochs = epochs_of(resource);
        o.training.progress = false;  // the search's own progress line stands for the trials
        // under MPI the trials are dealt across the ranks (train::hyperband_options::comm): each trains alone
        if (base.training.comm.distributed()) o.training.comm = communicator{};
        rrlyrae_model m(o.model, o.training.seed);
        try {
            m.fit(stars, y, result.train_index, o.training);
        } catch (const value_error& e) {
            // a configuration (e.g. learning rate 0.1) whose loss diverges failed; anything else is the caller's
            if (std::string(e.what()).find("loss became") == std::string::npos) throw;
            return std::numeric_limits<double>::infinity();
        }
        const auto p = m.predict(held, 0, 1, o.training.threads);
        std::vector<double> pv;
        for (const auto& q : p) {
            if (!q.ok() || !std::isfinite(q.feh)) return std::numeric_limits<double>::infinity();
            pv.push_back(q.feh);
        }
        return rrl_score(y_held, pv, s_held).wrmse;
    };
    train::hyperband_options ho;
    ho.max_resource = opt.max_epochs;
    ho.eta = opt.eta;
    ho.seed = opt.seed;
    ho.progress = opt.progress;
    ho.comm = base.training.comm;
    result.search = train::hyperband(space, evaluate, ho);
    result.best = apply_rrlyrae_hyperparameters(result.search.best.config, base);
    result.best.training.max_epochs = epochs_of(result.search.best.resource);
    return result;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE rrl_tune_result tune_rrlyrae<void>(const std::vector<rrl_star_input>& stars,
                                                            const std::vector<double>& y,
                                                            const std::vector<double>& sigma,
                                                            const std::vector<std::size_t>& index,
                                                            const rrl_options& base, const train::search_space& space,
                                                            const rrl_tune_options& opt);
#endif

}  // namespace ferrum::models
