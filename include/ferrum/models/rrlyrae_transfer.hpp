// Leave-one-family-out: how an RR Lyrae model transfers to data whose making it did not see. Given sets of
// stars from several simulator families (or surveys), train on all families but one and score the held-out
// family against its truth, beside the classical pipeline on the same stars, with the coverage of the
// predicted sigma. The in-family cross-validation (rrlyrae_cv.hpp) measures how well a model learns one
// convention; this measures what a user needs: accuracy on data made otherwise.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/models/rrlyrae_classical.hpp"
#include "ferrum/models/rrlyrae_metrics.hpp"
#include "ferrum/models/rrlyrae_model.hpp"

namespace ferrum::models {

/// \brief The stars of one family: inputs, the label a model trains on, the truth it is scored against.
struct rrl_family {
    std::string name;
    std::vector<rrl_star_input> stars;
    std::vector<double> label;   ///< training label per star; NaN: not used for training
    std::vector<double> truth;   ///< what the held-out family is scored against; NaN: not scored
    std::vector<double> mean_g;  ///< optional (empty or one per star): subsets by mean G
    std::vector<int> blazhko;    ///< optional: 1/0 Blazhko, -1 unknown
};

/// \brief Settings of leave_one_family_out().
struct rrl_transfer_options {
    rrl_model_options model;  ///< types are set per group
    rrl_training_options training;
    bool unified = false;         ///< one RRab+RRc model instead of one per type
    std::size_t mc_samples = 20;  ///< MC-dropout passes of the held-out predictions
    std::uint64_t seed = 12345;   ///< of those passes
};

/// \brief The result for one held-out family.
struct rrl_transfer_fold {
    std::string held_out;
    std::vector<std::string> trained_on;
    std::size_t n_train = 0;
    std::vector<rrl_scored_star> model;      ///< the model's predictions scored against the truth
    std::vector<rrl_scored_star> classical;  ///< the classical pipeline on the same stars, against the truth

    nlohmann::json to_json() const {
        return {{"held_out", held_out},
                {"trained_on", trained_on},
                {"n_train", n_train},
                {"model_vs_truth", evaluate_rrlyrae(model)},
                {"classical_vs_truth", evaluate_rrlyrae(classical)}};
    }
};

/// \brief For each family in turn: trains a model (per type, or unified) on the labelled stars of every
/// other family, predicts the held-out family's served, scoreable stars with MC dropout and calibrated
/// sigma, and scores them and the classical pipeline against the truth.
/// \throws value_error with fewer than two families or a family without stars to train or score.
inline std::vector<rrl_transfer_fold> leave_one_family_out(const std::vector<rrl_family>& families,
                                                           const rrl_transfer_options& opt) {
    if (families.size() < 2) throw value_error("leave_one_family_out: at least two families are needed");
    for (const auto& f : families) {
        if (f.label.size() != f.stars.size() || f.truth.size() != f.stars.size())
            throw value_error("leave_one_family_out: family '" + f.name + "' needs one label and one truth per star");
        if ((!f.mean_g.empty() && f.mean_g.size() != f.stars.size()) ||
            (!f.blazhko.empty() && f.blazhko.size() != f.stars.size()))
            throw value_error("leave_one_family_out: family '" + f.name +
                              "': mean_g and blazhko need one value per star");
    }
    std::vector<std::vector<rr_type>> groups;
    if (opt.unified) groups.push_back({rr_type::rrab, rr_type::rrc});
    else groups = {{rr_type::rrab}, {rr_type::rrc}};
    const auto in_group = [](const std::vector<rr_type>& g, rr_type t) {
        return std::find(g.begin(), g.end(), t) != g.end();
    };

    std::vector<rrl_transfer_fold> out;
    progress bar("leave-one-family-out", families.size() * groups.size(), "fits", opt.training.progress);
    std::size_t step = 0;
    for (std::size_t h = 0; h < families.size(); ++h) {
        rrl_transfer_fold fold;
        fold.held_out = families[h].name;
        for (std::size_t f = 0; f < families.size(); ++f)
            if (f != h) fold.trained_on.push_back(families[f].name);
        for (const auto& g : groups) {
            // the training set: every other family's usable, labelled stars of the group
            std::vector<rrl_star_input> train_stars;
            std::vector<double> y;
            for (std::size_t f = 0; f < families.size(); ++f) {
                if (f == h) continue;
                const auto& fam = families[f];
                for (std::size_t i = 0; i < fam.stars.size(); ++i)
                    if (fam.stars[i].ok() && in_group(g, fam.stars[i].type) && std::isfinite(fam.label[i])) {
                        train_stars.push_back(fam.stars[i]);
                        y.push_back(fam.label[i]);
                    }
            }
            const auto& test_family = families[h];
            std::vector<rrl_star_input> test;
            std::vector<std::size_t> test_index;
            for (std::size_t i = 0; i < test_family.stars.size(); ++i)
                if (test_family.stars[i].ok() && in_group(g, test_family.stars[i].type) &&
                    std::isfinite(test_family.truth[i])) {
                    test.push_back(test_family.stars[i]);
                    test_index.push_back(i);
                }
            if (test.empty() && train_stars.empty()) {
                bar.update(++step);
                continue;
            }
            if (train_stars.size() < 20 || test.size() < 2)
                throw value_error("leave_one_family_out: holding out '" + test_family.name + "' leaves " +
                                  std::to_string(train_stars.size()) + " training and " + std::to_string(test.size()) +
                                  " test stars of a type (at least 20 and 2 are needed)");
            rrl_model_options mo = opt.model;
            mo.types = g;
            std::vector<std::size_t> idx(train_stars.size());
            for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
            rrlyrae_model m(mo, opt.training.seed);
            m.fit(train_stars, y, idx, opt.training);
            fold.n_train += train_stars.size();
            const auto p = m.predict(test, opt.mc_samples, opt.seed, opt.training.threads);
            const auto c = classical_feh(test);
            for (std::size_t k = 0; k < test.size(); ++k) {
                const std::size_t i = test_index[k];
                rrl_scored_star s{test[k].id, test[k].type, test_family.truth[i], 0.0, p[k].feh, test[k].n_epochs};
                if (!test_family.mean_g.empty()) s.mean_g = test_family.mean_g[i];
                if (!test_family.blazhko.empty()) s.blazhko = test_family.blazhko[i];
                s.sigma = p[k].sigma;
                if (p[k].ok()) fold.model.push_back(s);
                if (c[k].ok()) {
                    s.feh = c[k].feh;
                    s.sigma = std::numeric_limits<double>::quiet_NaN();
                    fold.classical.push_back(s);
                }
            }
            bar.update(++step, fold.held_out);
        }
        out.push_back(std::move(fold));
    }
    return out;
}

}  // namespace ferrum::models
