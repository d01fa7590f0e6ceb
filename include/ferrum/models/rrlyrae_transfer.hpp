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

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/models/rrlyrae_classical.hpp"
#include "ferrum/models/rrlyrae_combine.hpp"
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
    /// training.cross_family_calibration: each model's sigma is calibrated by an inner leave-one-family-out
    /// over its own training families (rrl_cross_family_calibration), not on its early-stopping hold-out.
    rrl_training_options training;
    bool unified = false;         ///< one RRab+RRc model instead of one per type
    std::size_t mc_samples = 20;  ///< MC-dropout passes of the held-out predictions
    std::uint64_t seed = 12345;   ///< of those passes
    /// Fit the label-error factor (rrl_sigma_calibration::fit_label_scale) on the training families'
    /// residuals against their truth (a simulation's): with cross_family_calibration, those of the inner
    /// models; else the early-stopping hold-out's. It overrides training.label_error_scale.
    bool fit_label_error = false;
    /// Also score the model's predictions combined by inverse variance with the classical estimate
    /// (rrl_combine_with_classical), the classical estimate mapped onto the training label and calibrated
    /// on the training families' stars (rrl_classical_map): never on the held-out family.
    bool combine_classical = false;
};

/// \brief A calibration fitted on residuals of families the model did not train on, and those residuals.
struct rrl_cross_family_result {
    rrl_sigma_calibration calibration;
    std::vector<rrl_calibration_point> points;        ///< residuals against the labels, pooled
    std::vector<rrl_calibration_point> truth_points;  ///< the same against the truth (when given)
};

/// \brief Inner leave-one-family-out calibration: for each family f among the stars `idx` (family[i] names
/// star i's), a model with options `mo` trained (options `t`, max_epochs = t.cross_family_max_epochs when
/// > 0, no calibration of its own) on the other families' stars of `idx` predicts f's with
/// t.calibration_mc_samples MC-dropout passes; the pooled residuals (prediction - y) of every family fit
/// rrl_sigma_calibration (scale and floor per type and epoch range), so that the calibration has seen what
/// a family unlike those trained on does to the residuals. The final model (trained on all of `idx`) keeps
/// it: it is then a little conservative, as the inner models had one family fewer. t.label_error_scale > 0
/// sets the label-error factor. fitted_on() records each family's stars and its coverage under the pooled
/// calibration (their spread is what to expect on a new family). With `truth` (one per star, e.g. a
/// simulation's feh_true), truth_points holds the residuals against it (for fit_label_scale).
/// \throws value_error with fewer than two families among `idx`, or too few stars to train or fit.
template <class Dummy = void>  // a template: compiled only where it is used
rrl_cross_family_result rrl_cross_family_calibration(const std::vector<rrl_star_input>& stars,
                                                     const std::vector<double>& y, const std::vector<std::size_t>& idx,
                                                     const std::vector<std::string>& family,
                                                     const rrl_model_options& mo, const rrl_training_options& t,
                                                     const std::vector<double>* truth = nullptr) {
    if (family.size() != stars.size() || y.size() != stars.size() || (truth && truth->size() != stars.size()))
        throw value_error("rrl_cross_family_calibration: one family and one label per star are needed");
    std::vector<std::string> names;
    for (auto i : idx)
        if (std::find(names.begin(), names.end(), family.at(i)) == names.end()) names.push_back(family[i]);
    if (names.size() < 2)
        throw value_error("rrl_cross_family_calibration: the training stars come from " + std::to_string(names.size()) +
                          " family; at least two are needed");
    rrl_training_options inner = t;
    inner.calibrate = false;
    inner.cross_family_calibration = false;
    inner.label_error_scale = 0;
    inner.progress = false;
    if (t.cross_family_max_epochs > 0) inner.max_epochs = t.cross_family_max_epochs;
    rrl_cross_family_result r;
    std::vector<std::size_t> point_family;
    for (std::size_t k = 0; k < names.size(); ++k) {
        std::vector<std::size_t> tr, te;
        for (auto i : idx) (family[i] == names[k] ? te : tr).push_back(i);
        if (tr.size() < 20 || te.empty())
            throw value_error("rrl_cross_family_calibration: holding out family '" + names[k] + "' leaves " +
                              std::to_string(tr.size()) + " training stars (at least 20 are needed)");
        rrlyrae_model m(mo, t.seed + 101 * (k + 1));
        m.fit(stars, y, tr, inner);
        const auto seed = t.seed + 7 + 1009 * k;
        auto pts = m.calibration_points(stars, y, te, t.calibration_mc_samples, seed, t.threads);
        if (truth) {
            // the same predictions (same passes), scored against the truth
            std::vector<std::size_t> te_truth;
            for (auto i : te)
                if (std::isfinite((*truth)[i])) te_truth.push_back(i);
            auto tp = m.calibration_points(stars, *truth, te_truth, t.calibration_mc_samples, seed, t.threads);
            r.truth_points.insert(r.truth_points.end(), tp.begin(), tp.end());
        }
        point_family.insert(point_family.end(), pts.size(), k);
        r.points.insert(r.points.end(), pts.begin(), pts.end());
    }
    r.calibration = rrl_sigma_calibration::fit(r.points, t.calibration_mc_samples,
                                               rrlyrae_model::calibration_min_per_bin(r.points.size()),
                                               rrl_sigma_calibration::default_edges(), t.calibration_method,
                                               t.calibration_feh_bins);
    if (t.label_error_scale > 0)
        for (auto type : mo.types) r.calibration.set_label_scale(type, t.label_error_scale);
    nlohmann::json fams = nlohmann::json::array();
    for (std::size_t k = 0; k < names.size(); ++k)
        for (rr_type type : {rr_type::rrab, rr_type::rrc}) {
            std::vector<double> res, sig;
            for (std::size_t p = 0; p < r.points.size(); ++p)
                if (point_family[p] == k && r.points[p].type == type) {
                    res.push_back(r.points[p].residual);
                    sig.push_back(r.calibration.apply(type, r.points[p].n_epochs, r.points[p].sigma_raw, 0.0,
                                                          r.points[p].prediction));
                }
            if (res.empty()) continue;
            fams.push_back({{"family", names[k]},
                            {"type", to_string(type)},
                            {"n", res.size()},
                            {"coverage_1sigma", rrl_coverage(res, sig, 1.0)},
                            {"coverage_2sigma", rrl_coverage(res, sig, 2.0)}});
        }
    r.calibration.set_fitted_on(
        {{"method", "inner leave-one-family-out"}, {"inner_max_epochs", inner.max_epochs}, {"families", fams}});
    return r;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE rrl_cross_family_result rrl_cross_family_calibration<void>(
    const std::vector<rrl_star_input>& stars, const std::vector<double>& y, const std::vector<std::size_t>& idx,
    const std::vector<std::string>& family, const rrl_model_options& mo, const rrl_training_options& t,
    const std::vector<double>* truth);
#endif

/// \brief The result for one held-out family.
struct rrl_transfer_fold {
    std::string held_out;
    std::vector<std::string> trained_on;
    std::size_t n_train = 0;
    std::vector<rrl_scored_star> model;      ///< the model's predictions scored against the truth
    std::vector<rrl_scored_star> classical;  ///< the classical pipeline on the same stars, against the truth
    std::vector<rrl_scored_star> combined;   ///< with combine_classical: model and classical combined
    nlohmann::json calibration = nlohmann::json::object();  ///< each model's sigma calibration, by type group

    template <class Dummy = void>  // a template: compiled only where it is used
    nlohmann::json to_json() const {
        nlohmann::json j{{"held_out", held_out},
                         {"trained_on", trained_on},
                         {"n_train", n_train},
                         {"calibration", calibration},
                         {"model_vs_truth", evaluate_rrlyrae(model)},
                         {"classical_vs_truth", evaluate_rrlyrae(classical)}};
        if (!combined.empty()) j["combined_vs_truth"] = evaluate_rrlyrae(combined);
        return j;
    }
};

/// \brief For each family in turn: trains a model (per type, or unified) on the labelled stars of every
/// other family, predicts the held-out family's served, scoreable stars with MC dropout and calibrated
/// sigma, and scores them and the classical pipeline against the truth. With `test_sets` (one per family,
/// same order), a held-out family is scored on its test set's stars instead of its own (e.g. more stars of
/// one kind: all with many epochs); a test set is never trained on.
/// \throws value_error with fewer than two families, a family without stars to train or score, or test
/// sets that are not one per family.
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<rrl_transfer_fold> leave_one_family_out(const std::vector<rrl_family>& families,
                                                    const rrl_transfer_options& opt,
                                                    const std::vector<rrl_family>* test_sets = nullptr) {
    if (families.size() < 2) throw value_error("leave_one_family_out: at least two families are needed");
    if (test_sets && test_sets->size() != families.size())
        throw value_error("leave_one_family_out: " + std::to_string(test_sets->size()) + " test sets for " +
                          std::to_string(families.size()) + " families (one per family is needed)");
    if (test_sets)
        for (const auto& f : *test_sets)
            if (f.truth.size() != f.stars.size() || (!f.mean_g.empty() && f.mean_g.size() != f.stars.size()) ||
                (!f.blazhko.empty() && f.blazhko.size() != f.stars.size()))
                throw value_error("leave_one_family_out: test set '" + f.name +
                                  "' needs one truth (and mean_g, blazhko when given) per star");
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
    const auto group_label = [](const std::vector<rr_type>& g) {
        std::string s;
        for (auto t : g) s += (s.empty() ? "" : "+") + std::string(to_string(t));
        return s;
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
            std::vector<double> y, train_truth;
            std::vector<std::string> train_family;
            for (std::size_t f = 0; f < families.size(); ++f) {
                if (f == h) continue;
                const auto& fam = families[f];
                for (std::size_t i = 0; i < fam.stars.size(); ++i)
                    if (fam.stars[i].ok() && in_group(g, fam.stars[i].type) && std::isfinite(fam.label[i])) {
                        train_stars.push_back(fam.stars[i]);
                        y.push_back(fam.label[i]);
                        train_truth.push_back(fam.truth[i]);
                        train_family.push_back(fam.name);
                    }
            }
            const auto& test_family = test_sets ? (*test_sets)[h] : families[h];
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
            if (opt.training.cross_family_calibration) {
                auto cf = rrl_cross_family_calibration(train_stars, y, idx, train_family, mo, opt.training,
                                                       opt.fit_label_error ? &train_truth : nullptr);
                if (opt.fit_label_error) cf.calibration.fit_label_scale(cf.truth_points);
                m.set_calibration(std::move(cf.calibration));
            } else if (opt.fit_label_error && !m.calibration().empty()) {
                // without inner models: the training stars' residuals against their truth (in-sample: the
                // model saw their labels, so it may reproduce their label errors more than a new star's)
                auto c = m.calibration();
                c.fit_label_scale(m.calibration_points(train_stars, train_truth, idx,
                                                       opt.training.calibration_mc_samples, opt.training.seed + 7,
                                                       opt.training.threads));
                m.set_calibration(std::move(c));
            }
            fold.calibration[group_label(g)] = m.calibration().to_json();
            fold.n_train += train_stars.size();
            const auto p = m.predict(test, opt.mc_samples, opt.seed, opt.training.threads);
            const auto c = classical_feh(test);
            std::vector<rrl_prediction> pc;
            if (opt.combine_classical) {
                // the classical estimate onto the training label, fitted on the training stars only
                const auto map = rrl_classical_map::fit(train_stars, classical_feh(train_stars), y);
                fold.calibration["classical_map_" + group_label(g)] = map.to_json();
                pc = rrl_combine_with_classical(test, p, c, map);
            }
            for (std::size_t k = 0; k < test.size(); ++k) {
                const std::size_t i = test_index[k];
                rrl_scored_star s{test[k].id, test[k].type, test_family.truth[i], 0.0, p[k].feh, test[k].n_epochs};
                if (!test_family.mean_g.empty()) s.mean_g = test_family.mean_g[i];
                if (!test_family.blazhko.empty()) s.blazhko = test_family.blazhko[i];
                s.sigma = p[k].sigma;
                if (p[k].ok()) fold.model.push_back(s);
                if (!pc.empty() && pc[k].ok()) {
                    rrl_scored_star sc = s;
                    sc.feh = pc[k].feh;
                    sc.sigma = pc[k].sigma;
                    fold.combined.push_back(sc);
                }
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
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<rrl_transfer_fold> leave_one_family_out<void>(
    const std::vector<rrl_family>& families, const rrl_transfer_options& opt, const std::vector<rrl_family>* test_sets);
#endif

}  // namespace ferrum::models
