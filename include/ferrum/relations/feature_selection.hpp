// Feature selection for metallicity relations, as in the ICSC slides (Muraveva et al. 2025): the univariate
// F-test of scikit-learn's f_regression (F = r^2 / (1 - r^2) (n - 2), p from the F(1, n - 2) survival
// function) with select-K-best, and sequential forward/backward selection scored by K-fold cross-validation
// (scikit-learn's SequentialFeatureSelector), each giving a ranking table a person can read.
#pragma once

#include <Eigen/Core>
#include <Eigen/QR>  // ColPivHouseholderQR

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferrum/core/config.hpp"  // FERRUM_TEMPLATE_INSTANCE
#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/relations/feature_table.hpp"
#include "ferrum/stats/detail/special_functions.hpp"
#include "ferrum/stats/metrics.hpp"
#include "ferrum/train/kfold.hpp"

namespace ferrum {

/// \brief Features in rank order with the score that ranked them.
struct feature_ranking {
    std::string method;              ///< e.g. "F-test", "forward selection (5-fold CV R^2)"
    std::string score_name;          ///< column title of `score`
    std::vector<std::string> names;  ///< best first (forward/F-test) or kept longest first (backward)
    std::vector<double> score;       ///< F, or the CV score of the set after the step
    std::vector<double> score_sd;    ///< CV only: standard deviation of the score over the folds
    std::vector<double> p_value;     ///< F-test only

    /// The first k names of the ranking (the k best features).
    std::vector<std::string> best(std::size_t k) const {
        if (k > names.size())
            throw value_error("feature_ranking::best: asked for " + std::to_string(k) + " of " +
                              std::to_string(names.size()) + " features");
        return {names.begin(), names.begin() + std::ptrdiff_t(k)};
    }

    /// A fixed-width table: rank, feature, score (+- sd) and p-value.
    std::string to_string() const {
        std::string s = method + "\n";
        char buf[256];
        std::snprintf(buf, sizeof buf, "%4s  %-16s  %14s", "rank", "feature", score_name.c_str());
        s += buf;
        if (!score_sd.empty()) s += "  " + std::string(10, ' ') + "sd";
        if (!p_value.empty()) s += "         p-value";
        s += "\n";
        for (std::size_t i = 0; i < names.size(); ++i) {
            std::snprintf(buf, sizeof buf, "%4zu  %-16s  %14.6g", i + 1, names[i].c_str(), score[i]);
            s += buf;
            if (!score_sd.empty()) std::snprintf(buf, sizeof buf, "  %12.4g", score_sd[i]), s += buf;
            if (!p_value.empty()) std::snprintf(buf, sizeof buf, "  %14.4g", p_value[i]), s += buf;
            s += "\n";
        }
        return s;
    }
};

/// \brief Univariate F statistics and p-values of each feature against y: sklearn.feature_selection.
/// f_regression(X, y) (center=True) in table column order. A constant feature has F = 0, p = 1.
struct f_test_result {
    std::vector<std::string> names;
    std::vector<double> F, p_value, correlation;
};

inline f_test_result f_regression(const feature_table& X, const std::vector<double>& y) {
    X.validate("f_regression");
    detail::check_target("f_regression", X.rows(), y, {});
    const std::size_t n = X.rows();
    if (n < 3) throw value_error("f_regression: needs at least 3 rows, got " + std::to_string(n));
    const double ym = std::accumulate(y.begin(), y.end(), 0.0) / double(n);
    double syy = 0.0;
    for (double v : y) syy += (v - ym) * (v - ym);
    if (syy == 0.0) throw value_error("f_regression: the target is constant");
    f_test_result out;
    out.names = X.names;
    const double dof = double(n - 2);
    for (std::size_t j = 0; j < X.cols(); ++j) {
        const auto& x = X.values[j];
        const double xm = std::accumulate(x.begin(), x.end(), 0.0) / double(n);
        double sxy = 0.0, sxx = 0.0;
        for (std::size_t i = 0; i < n; ++i) sxy += (x[i] - xm) * (y[i] - ym), sxx += (x[i] - xm) * (x[i] - xm);
        const double r = sxx > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
        const double r2 = std::min(r * r, 1.0);
        // A perfect correlation has F = inf and p = 0, which is what it means.
        const double F = r2 < 1.0 ? r2 / (1.0 - r2) * dof : std::numeric_limits<double>::infinity();
        out.correlation.push_back(r);
        out.F.push_back(F);
        out.p_value.push_back(detail::f_distribution_sf(F, 1.0, dof));
    }
    return out;
}

/// \brief All features ranked by their F statistic (largest first; ties keep column order).
inline feature_ranking rank_by_f_test(const feature_table& X, const std::vector<double>& y) {
    const f_test_result f = f_regression(X, y);
    std::vector<std::size_t> order(f.F.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return f.F[a] > f.F[b]; });
    feature_ranking r;
    r.method = "univariate F-test (f_regression), n = " + std::to_string(X.rows());
    r.score_name = "F";
    for (std::size_t j : order) {
        r.names.push_back(f.names[j]);
        r.score.push_back(f.F[j]);
        r.p_value.push_back(f.p_value[j]);
    }
    return r;
}

/// \brief The k features with the largest F statistic, in table column order (SelectKBest(f_regression, k)).
inline std::vector<std::string> select_k_best(const feature_table& X, const std::vector<double>& y, std::size_t k) {
    if (k == 0 || k > X.cols())
        throw value_error("select_k_best: k = " + std::to_string(k) + " must be in [1, " + std::to_string(X.cols()) +
                          "]");
    const auto chosen = rank_by_f_test(X, y).best(k);
    std::vector<std::string> out;
    for (const auto& n : X.names)
        if (std::find(chosen.begin(), chosen.end(), n) != chosen.end()) out.push_back(n);
    return out;
}

/// \brief Ordinary least squares with an intercept fitted on (train, y_train), evaluated on `test`
/// (sklearn's LinearRegression); the default estimator of sequential_feature_selection().
template <class Dummy = void>  // a template: compiled only where it is used
std::vector<double> least_squares_fit_predict(const feature_table& train, const std::vector<double>& y_train,
                                              const feature_table& test) {
    const Eigen::Index n = Eigen::Index(train.rows()), p = Eigen::Index(train.cols());
    Eigen::MatrixXd A(n, p + 1);
    Eigen::VectorXd b(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        A(i, 0) = 1.0;
        b[i] = y_train[std::size_t(i)];
        for (Eigen::Index j = 0; j < p; ++j) A(i, j + 1) = train(std::size_t(i), std::size_t(j));
    }
    // decomposed in place (Eigen's inplace QR): no second n x (p + 1) matrix
    const Eigen::ColPivHouseholderQR<Eigen::Ref<Eigen::MatrixXd>> qr(A);
    const Eigen::VectorXd beta = qr.solve(b);
    std::vector<double> out(test.rows());
    for (std::size_t i = 0; i < test.rows(); ++i) {
        double v = beta[0];
        for (std::size_t j = 0; j < test.cols(); ++j) v += beta[Eigen::Index(j + 1)] * test(i, j);
        out[i] = v;
    }
    return out;
}
#ifdef FERRUM_TEMPLATE_INSTANCE  // the precompiled library (core/config.hpp)
FERRUM_TEMPLATE_INSTANCE std::vector<double> least_squares_fit_predict<void>(const feature_table& train,
                                                                             const std::vector<double>& y_train,
                                                                             const feature_table& test);
#endif

/// \brief Direction of sequential_feature_selection().
enum class selection_direction {
    forward,
    backward
};

/// \brief Cross-validation score of sequential_feature_selection(); both are "larger is better".
enum class selection_scoring {
    r2,
    neg_rmse
};

/// \brief Options of sequential_feature_selection().
struct sequential_selection_options {
    selection_direction direction = selection_direction::forward;
    selection_scoring scoring = selection_scoring::r2;
    std::size_t n_splits = 5, n_repeats = 1;
    std::uint64_t seed = 0;          ///< of the repeated stratified K-fold (train/kfold.hpp)
    std::vector<train::fold> folds;  ///< explicit folds; when given, n_splits/n_repeats/seed are not used
    bool show_progress = progress_enabled_by_default();
};

/// \brief Mean and standard deviation over folds of the score of `fit_predict` on the columns `subset`.
template <class FitPredict>
std::pair<double, double> cross_validated_score(const feature_table& X, const std::vector<double>& y,
                                                const std::vector<std::string>& subset,
                                                const std::vector<train::fold>& folds, selection_scoring scoring,
                                                FitPredict& fit_predict) {
    const feature_table S = X.subset_columns(subset);
    std::vector<double> scores;
    for (const auto& f : folds) {
        std::vector<double> ytr, yte;
        ytr.reserve(f.train.size()), yte.reserve(f.test.size());
        for (std::size_t i : f.train) ytr.push_back(y[i]);
        for (std::size_t i : f.test) yte.push_back(y[i]);
        const std::vector<double> pred = fit_predict(S.subset_rows(f.train), ytr, S.subset_rows(f.test));
        scores.push_back(scoring == selection_scoring::r2 ? r2_score(yte, pred) : -rmse(yte, pred));
    }
    const double m = std::accumulate(scores.begin(), scores.end(), 0.0) / double(scores.size());
    double v = 0.0;
    for (double s : scores) v += (s - m) * (s - m);
    return {m, scores.size() > 1 ? std::sqrt(v / double(scores.size() - 1)) : 0.0};
}

/// \brief Sequential feature selection with cross-validated scoring, run to the end so that it ranks
/// every feature. Forward: start empty and add, at each step, the feature whose addition gives the best
/// mean CV score (sklearn's SequentialFeatureSelector; ties go to the earlier column); the ranking lists
/// features in the order added, each with the score of the set it completes. Backward: start with all and
/// remove, at each step, the feature whose removal leaves the best score; the ranking lists the last
/// survivor first, so in both directions best(k) is the k-feature set the procedure selects.
/// `fit_predict(train_table, y_train, test_table)` returns predictions for test_table's rows.
template <class FitPredict = decltype(&least_squares_fit_predict<>)>
feature_ranking sequential_feature_selection(const feature_table& X, const std::vector<double>& y,
                                             const sequential_selection_options& options = {},
                                             FitPredict fit_predict = &least_squares_fit_predict<>) {
    static_assert(std::is_invocable_r_v<std::vector<double>, FitPredict&, const feature_table&,
                                        const std::vector<double>&, const feature_table&>,
                  "sequential_feature_selection: fit_predict must be callable as "
                  "std::vector<double>(const feature_table& train, const std::vector<double>& y_train, "
                  "const feature_table& test)");
    X.validate("sequential_feature_selection");
    detail::check_target("sequential_feature_selection", X.rows(), y, {});
    if (X.cols() == 0) throw value_error("sequential_feature_selection: no features");
    const std::vector<train::fold> folds =
        options.folds.empty() ? train::repeated_stratified_kfold(y, options.n_splits, options.n_repeats, options.seed)
                              : options.folds;
    const bool forward = options.direction == selection_direction::forward;
    const std::size_t p = X.cols();
    std::vector<std::string> current = forward ? std::vector<std::string>{} : X.names;
    std::vector<std::string> order;
    std::vector<double> score, sd;
    const std::size_t steps = forward ? p : p - 1;
    progress bar(forward ? "forward selection" : "backward selection", steps, "steps", options.show_progress);
    for (std::size_t step = 0; step < steps; ++step) {
        double best = -std::numeric_limits<double>::infinity(), best_sd = 0.0;
        std::string pick;
        for (const auto& name : X.names) {  // candidates in column order, so ties go to the earlier column
            const bool in = std::find(current.begin(), current.end(), name) != current.end();
            if (in == forward) continue;
            std::vector<std::string> trial;
            for (const auto& n : X.names)  // keep column order, as sklearn's support mask does
                if (n == name ? forward : std::find(current.begin(), current.end(), n) != current.end())
                    trial.push_back(n);
            const auto [m, s] = cross_validated_score(X, y, trial, folds, options.scoring, fit_predict);
            if (m > best) best = m, best_sd = s, pick = name;
        }
        if (forward) current.push_back(pick);
        else current.erase(std::find(current.begin(), current.end(), pick));
        order.push_back(pick);
        score.push_back(best);
        sd.push_back(best_sd);
        bar.update(step + 1, (forward ? "added " : "removed ") + pick);
    }
    feature_ranking r;
    const std::string cv = std::to_string(options.folds.empty() ? options.n_splits : folds.size()) +
                           (options.folds.empty() ? "-fold" : " folds") +
                           (options.folds.empty() && options.n_repeats > 1 ? " x" + std::to_string(options.n_repeats)
                                                                           : "");
    const std::string sc = options.scoring == selection_scoring::r2 ? "R^2" : "-RMSE";
    r.score_name = "CV " + sc;
    if (forward) {
        r.method = "forward selection (" + cv + " CV " + sc + " of the set after adding the feature)";
        r.names = order;
        r.score = score;
        r.score_sd = sd;
    } else {
        // Reverse the removal order; the survivor's score is that of the one-feature set, and a removed
        // feature is listed with the score of the set just before it was removed (which still held it).
        r.method = "backward elimination (" + cv + " CV " + sc + " of the set holding the feature and those above it)";
        r.names.push_back(current.front());
        r.score.push_back(score.back());
        r.score_sd.push_back(sd.back());
        for (std::size_t s = order.size(); s-- > 0;) {
            r.names.push_back(order[s]);
            const auto [m, d] = s == 0 ? cross_validated_score(X, y, X.names, folds, options.scoring, fit_predict)
                                       : std::pair<double, double>{score[s - 1], sd[s - 1]};
            r.score.push_back(m);
            r.score_sd.push_back(d);
        }
    }
    return r;
}

}  // namespace ferrum
