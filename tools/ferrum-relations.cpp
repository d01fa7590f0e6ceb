// ferrum-relations: period-Fourier-[Fe/H] relations on CSV tables -- fit a Bayesian linear relation with
// intrinsic scatter (Laplace or MCMC), predict with propagated uncertainties, rank features, compare
// models by cross-validation.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <ferrum/core/atomic_file.hpp>
#include <ferrum/relations.hpp>
#include <ferrum/stats/metrics.hpp>
#include <ferrum/train/kfold.hpp>

#include "cli/inputs.hpp"
#include "cli/options.hpp"
#include "cli/run_tool.hpp"

namespace {

using namespace ferrum;

using usage_error = cli::usage_error;

const cli::program& program() {
    static const linear_relation_options fit_defaults;
    static const sequential_selection_options select_defaults;
    const auto where = [] {
        return cli::text("where", "use only the rows whose column COL holds VALUE").shown_as("COL=VALUE").repeated();
    };
    const auto convention = [](const std::string& help, std::optional<std::string> def = {}) {
        return cli::choice("convention", help, {"cosine", "sine"}, std::move(def));
    };
    static const cli::program p{
        "ferrum-relations",
        "ferrum-relations: period-Fourier-[Fe/H] relations on CSV tables",
        {{"fit",
          "Fits target = b0 + sum b_j feature_j by maximum likelihood with the Laplace covariance (default)\n"
          "or by the affine-invariant ensemble sampler (--mcmc; R-hat and ESS are reported). Each star's\n"
          "variance is target_error^2 + sum b_j^2 feature_error_j^2 + sigma_int^2. Give one feature-error\n"
          "column per feature, or '-' for an exact feature. --convention names the Fourier series of the\n"
          "phase columns (phi21, phi31); it is recorded in the model. Prints the parameter table on stdout.",
          {cli::path("table", "the input CSV").shown_as("T.csv").required(),
           cli::text("target", "the target column").required(),
           cli::text("features", "feature columns").shown_as("P,phi31,...").required(),
           cli::path("out", "model file (JSON)").output().required(),
           cli::text("target-error", "the target's error column"),
           cli::text("feature-errors", "one error column (or '-') per feature").shown_as("P_err,-,..."), where(),
           convention("the Fourier convention of the phase columns", to_string(fit_defaults.convention)),
           cli::flag("no-scatter", "no intrinsic scatter (sigma_int = 0)"),
           cli::flag("mcmc", "sample the posterior instead of the Laplace approximation"),
           cli::count("walkers", "MCMC walkers", cli::default_of(fit_defaults.sampler.walkers)).range(0, 100000),
           cli::count("burn-in", "MCMC steps discarded", cli::default_of(fit_defaults.sampler.burn_in)).range(0, 1e7),
           cli::count("steps", "MCMC steps kept", cli::default_of(fit_defaults.sampler.steps)).range(1, 1e7),
           cli::count("seed", "seed of the MCMC walkers", cli::default_of(fit_defaults.seed))}},
         {"predict",
          "Writes line,[id,]<target>,<target>_sigma (line = the row's line in T.csv); sigma includes the\n"
          "coefficient covariance, the feature errors given and sigma_int. Phases in the other convention\n"
          "than the model's are converted.",
          {cli::path("model", "model file").required(),
           cli::path("table", "the input CSV").shown_as("T.csv").required(),
           cli::path("out", "predictions CSV").output().shown_as("P.csv").required(),
           cli::text("feature-errors", "one error column (or '-') per feature of the model").shown_as("P_err,-,..."),
           cli::text("id", "a column copied to the output"), where(),
           convention("the phase convention of the table (default: the model's)"),
           cli::count("batch", "rows predicted at a time: memory holds one batch", "65536").range(1, 1e7)}},
         {"select",
          "Ranks the features by the univariate F-test (f_regression), then by forward and backward\n"
          "sequential selection with repeated stratified K-fold CV of least squares, and prints select-K-best.",
          {cli::path("table", "the input CSV").shown_as("T.csv").required(),
           cli::text("target", "the target column").required(),
           cli::text("features", "candidate feature columns").shown_as("a,b,c,...").required(),
           cli::count("k", "also print the K best by F-test"), where(),
           cli::count("folds", "CV folds", cli::default_of(select_defaults.n_splits)).range(2, 1000),
           cli::count("repeats", "CV repeats", cli::default_of(select_defaults.n_repeats)).range(1, 1000),
           cli::count("seed", "seed of the CV splits", cli::default_of(select_defaults.seed)),
           cli::choice("scoring", "CV score", {"r2", "rmse"}, "r2")}},
         {"cv",
          "Compares models on the same repeated stratified K-fold splits: a constant (the training mean),\n"
          "each --reference column (predictions made elsewhere, scored as they are), each --linear feature\n"
          "set fitted as 'fit' does (maximum likelihood with sigma_int, the target errors and, with\n"
          "--error-suffix, the feature errors) and, with --boosting, gradient-boosted trees (builds with\n"
          "ferrum::xgboost only). Prints RMSE (mean and sd over repeats), bias (prediction - target), MAE\n"
          "and R^2 of the out-of-fold predictions, each the mean over repeats, and N.",
          {cli::path("table", "the input CSV").shown_as("T.csv").required(),
           cli::text("target", "the target column").required(),
           cli::text("target-error", "the target's error column (weights the linear fits)"),
           cli::text("linear", "feature columns of one linear relation").shown_as("P,phi31,...").repeated(),
           cli::text("error-suffix", "the error column of feature F is F<SUFFIX> (default: exact features)"),
           cli::text("reference", "a column of predictions of the target to score").repeated(),
           cli::text("boosting", "feature columns of gradient boosting").shown_as("a,b,..."),
           cli::count("rounds", "boosting rounds", "300"), cli::count("depth", "boosting tree depth", "3"), where(),
           cli::count("folds", "CV folds", "5").range(2, 1000),
           cli::count("repeats", "CV repeats", "10").range(1, 1000),
           cli::count("seed", "seed of the CV splits", "7")}}},
        {cli::text("delimiter", "field delimiter: one character, or tab", ",").shown_as("C"),
         cli::flag("quiet", "no progress on stderr (also FERRUM_QUIET=1)")},
        "  Bad rows are errors naming the file, the line and the column.\n"};
    return p;
}

using args = cli::parsed;

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

std::vector<row_filter> filters(const args& a) {
    std::vector<row_filter> out;
    for (const auto& w : a.all("where")) {
        const auto eq = w.find('=');
        if (eq == std::string::npos || eq == 0) throw usage_error("--where needs COL=VALUE, got '" + w + "'");
        out.push_back({w.substr(0, eq), w.substr(eq + 1)});
    }
    return out;
}

csv_options csv_opts(const args& a) {
    csv_options o;
    const std::string& d = a.text("delimiter");
    if (d == "\\t" || d == "tab") o.delimiter = '\t';
    else if (d.size() == 1) o.delimiter = d[0];
    else throw usage_error("--delimiter needs one character (or 'tab')");
    return o;
}

// Reads features (+ errors, '-' = exact) and optionally the target columns.
struct loaded {
    feature_table X;
    std::vector<double> y, y_err;
    numeric_columns raw;
};

// The columns to read: the features, their errors (not '-'), the target and its error (when named).
std::vector<std::string> columns_to_read(const std::vector<std::string>& features,
                                         const std::vector<std::string>& feature_errors, const std::string& target,
                                         const std::string& target_error) {
    if (!feature_errors.empty() && feature_errors.size() != features.size())
        throw usage_error("--feature-errors needs one column (or '-') per feature: " + std::to_string(features.size()) +
                          " features, " + std::to_string(feature_errors.size()) + " error columns");
    std::vector<std::string> cols = features;
    for (const auto& e : feature_errors)
        if (e != "-") cols.push_back(e);
    if (!target.empty()) cols.push_back(target);
    if (!target_error.empty()) cols.push_back(target_error);
    return cols;
}

// The feature table of the rows `raw` holds; a negative feature error is an input error naming its line.
feature_table features_of(const numeric_columns& raw, const std::vector<std::string>& features,
                          const std::vector<std::string>& feature_errors) {
    feature_table X;
    for (std::size_t j = 0; j < features.size(); ++j) {
        const bool has_err = !feature_errors.empty() && feature_errors[j] != "-";
        if (has_err)
            for (std::size_t i = 0; i < raw.rows(); ++i)
                if (raw[feature_errors[j]][i] < 0)
                    throw input_error(raw.file, raw.lines[i], feature_errors[j], "an error must be >= 0");
        X.add(features[j], raw[features[j]], has_err ? raw[feature_errors[j]] : std::vector<double>{});
    }
    return X;
}

loaded load(const args& a, const std::vector<std::string>& features, const std::vector<std::string>& feature_errors,
            const std::string& target, const std::string& target_error) {
    const auto cols = columns_to_read(features, feature_errors, target, target_error);
    loaded L;
    L.raw = read_numeric_columns(a.path("table"), cols, filters(a), csv_opts(a));
    cli::require_usable_rows(L.raw.file, L.raw.rows_read, L.raw.rows(), "no row passes the --where filters");
    L.X = features_of(L.raw, features, feature_errors);
    if (!target.empty()) L.y = L.raw[target];
    if (!target_error.empty()) {
        L.y_err = L.raw[target_error];
        for (std::size_t i = 0; i < L.y_err.size(); ++i)
            if (L.y_err[i] < 0) throw input_error(L.raw.file, L.raw.lines[i], target_error, "an error must be >= 0");
    }
    L.raw.columns = {};  // X, y and y_err hold the values now: no second copy while the table is fitted
    return L;
}

int cmd_fit(const args& a) {
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const auto features = split(a.text("features"));
    if (features.empty()) throw usage_error("fit: --features is empty");
    const std::string out = a.path("out");
    const std::string target_error = a.has("target-error") ? a.text("target-error") : "";
    const std::string feature_errors = a.has("feature-errors") ? a.text("feature-errors") : "";
    const auto L = load(a, features, split(feature_errors), a.text("target"), target_error);
    linear_relation_options o;
    o.method = a.flag("mcmc") ? fit_method::mcmc : fit_method::laplace;
    o.intrinsic_scatter = !a.flag("no-scatter");
    o.convention = parse_phase_convention(a.choice("convention"));
    o.target = a.text("target");
    o.sampler.walkers = a.count("walkers");
    o.sampler.burn_in = a.count("burn-in");
    o.sampler.steps = a.count("steps");
    o.sampler.show_progress = !quiet;
    o.seed = a.count("seed");
    if (!quiet)
        std::fprintf(stderr, "fit: %zu rows of %s, %zu features, %s\n", L.X.rows(), L.raw.file.c_str(), features.size(),
                     to_string(o.method));
    const auto rel = fit_linear_relation(L.X, L.y, L.y_err, o);
    nlohmann::json meta{{"table", L.raw.file},
                        {"target_error", target_error},
                        {"feature_errors", feature_errors},
                        {"tool", "ferrum-relations fit"}};
    nlohmann::json where = nlohmann::json::array();
    for (const auto& f : filters(a)) where.push_back(f.column + "=" + f.value);
    meta["where"] = where;
    save_linear_relation(out, rel, meta);
    const auto m = rel.evaluate(L.X, L.y);
    std::printf("%s", rel.summary().c_str());
    std::printf("training fit: RMSE %.4f, MAE %.4f, R^2 %.4f, robust scatter %.4f\n", m.rmse, m.mae, m.r2,
                m.robust_scatter);
    if (!quiet) std::fprintf(stderr, "fit: wrote %s\n", out.c_str());
    return 0;
}

int cmd_predict(const args& a) {
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const auto rel = load_linear_relation(a.path("model"));
    const std::string out = a.path("out");
    const auto errors = split(a.has("feature-errors") ? a.text("feature-errors") : "");
    const auto conv = a.has("convention") ? parse_phase_convention(a.choice("convention")) : rel.convention;
    const std::string id = a.has("id") ? a.text("id") : "";
    // streamed in batches of --batch rows (each row's prediction is its own): memory holds one batch, whatever
    // the size of the table
    numeric_columns_reader in(a.path("table"), columns_to_read(rel.features, errors, "", ""), filters(a), csv_opts(a),
                              id.empty() ? std::vector<std::string>{} : std::vector<std::string>{id});
    std::size_t rows = 0, not_finite = 0;
    write_file_atomically(out, [&](std::ostream& os) {
        os << "line," << (id.empty() ? "" : id + ",") << rel.target << "," << rel.target << "_sigma\n";
        char buf[64];
        numeric_columns raw;
        while (in.next(a.count("batch"), raw)) {
            const auto pred = rel.predict(features_of(raw, rel.features, errors), conv);
            for (std::size_t i = 0; i < pred.value.size(); ++i) {
                os << raw.lines[i] << ",";
                if (!id.empty()) os << raw.text[0][i] << ",";
                if (std::isfinite(pred.value[i]) && std::isfinite(pred.sigma[i])) {
                    std::snprintf(buf, sizeof buf, "%.6f,%.6f\n", pred.value[i], pred.sigma[i]);
                    os << buf;
                } else {  // never a NaN in an output: an empty value and sigma, counted below
                    os << ",\n";
                    ++not_finite;
                }
            }
            rows += pred.value.size();
        }
        // throwing here leaves no output file
        cli::require_usable_rows(a.path("table"), in.rows_read(), rows, "no row passes the --where filters");
    });
    if (not_finite)
        std::fprintf(stderr, "predict: warning: %zu rows have no finite prediction (empty %s and %s_sigma)\n",
                     not_finite, rel.target.c_str(), rel.target.c_str());
    if (!quiet) std::fprintf(stderr, "predict: %zu rows -> %s\n", rows, out.c_str());
    return 0;
}

int cmd_select(const args& a) {
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const auto features = split(a.text("features"));
    const auto L = load(a, features, {}, a.text("target"), "");
    std::printf("%s\n", rank_by_f_test(L.X, L.y).to_string().c_str());
    sequential_selection_options o;
    o.n_splits = a.count("folds");
    o.n_repeats = a.count("repeats");
    o.seed = a.count("seed");
    o.scoring = a.choice("scoring") == "r2" ? selection_scoring::r2 : selection_scoring::neg_rmse;
    o.show_progress = !quiet;
    std::printf("%s\n", sequential_feature_selection(L.X, L.y, o).to_string().c_str());
    o.direction = selection_direction::backward;
    std::printf("%s\n", sequential_feature_selection(L.X, L.y, o).to_string().c_str());
    if (a.has("k")) {
        const auto best = select_k_best(L.X, L.y, a.count("k"));
        std::string s;
        for (const auto& b : best) s += (s.empty() ? "" : ",") + b;
        std::printf("select-K-best (F-test), k = %zu: %s\n", best.size(), s.c_str());
    }
    return 0;
}

// Out-of-fold metrics of one model, each the mean over the repeats of the CV.
struct cv_row {
    std::string model;
    double rmse = 0, rmse_sd = 0, bias = 0, mae = 0, r2 = 0, sigma_int = -1;  // sigma_int < 0: not a linear fit
};

cv_row score_out_of_fold(std::string model, const std::vector<double>& y, const std::vector<std::vector<double>>& oof) {
    cv_row r{std::move(model)};
    std::vector<double> rm;
    for (const auto& p : oof) {
        const auto m = evaluate_regression(y, p);
        rm.push_back(m.rmse);
        r.bias += m.bias / double(oof.size()), r.mae += m.mae / double(oof.size()), r.r2 += m.r2 / double(oof.size());
    }
    for (double v : rm) r.rmse += v / double(rm.size());
    double ss = 0;
    for (double v : rm) ss += (v - r.rmse) * (v - r.rmse);
    r.rmse_sd = rm.size() > 1 ? std::sqrt(ss / double(rm.size() - 1)) : 0.0;
    return r;
}

int cmd_cv(const args& a) {
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const std::string target = a.text("target");
    const std::string target_error = a.has("target-error") ? a.text("target-error") : "";
    const std::string suffix = a.has("error-suffix") ? a.text("error-suffix") : "";
    std::vector<std::vector<std::string>> linear;
    for (const auto& l : a.all("linear")) {
        linear.push_back(split(l));
        if (linear.back().empty()) throw usage_error("cv: --linear is empty");
    }
    const auto references = a.all("reference");
    const auto boosting = split(a.has("boosting") ? a.text("boosting") : "");
#ifndef FERRUM_HAS_XGBOOST
    if (!boosting.empty()) throw usage_error("cv: --boosting needs a ferrum-relations built with ferrum::xgboost");
#endif
    std::vector<std::string> cols{target};
    const auto want = [&](const std::string& c) {
        if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    };
    if (!target_error.empty()) want(target_error);
    for (const auto& l : linear)
        for (const auto& f : l) {
            want(f);
            if (!suffix.empty()) want(f + suffix);
        }
    for (const auto& r : references) want(r);
    for (const auto& f : boosting) want(f);
    const numeric_columns raw = read_numeric_columns(a.path("table"), cols, filters(a), csv_opts(a));
    const std::size_t n = raw.rows();
    cli::require_usable_rows(raw.file, raw.rows_read, n, "no row passes the --where filters");
    const std::vector<double>& y = raw[target];
    static const std::vector<double> no_errors;
    const std::vector<double>& y_err = target_error.empty() ? no_errors : raw[target_error];  // a view, not a copy
    for (std::size_t i = 0; i < y_err.size(); ++i)
        if (y_err[i] < 0) throw input_error(raw.file, raw.lines[i], target_error, "an error must be >= 0");
    const auto table_of = [&](const std::vector<std::string>& features, bool errors) {
        feature_table X;
        for (const auto& f : features) X.add(f, raw[f], errors ? raw[f + suffix] : std::vector<double>{});
        return X;
    };
    const std::size_t folds_k = a.count("folds"), repeats = a.count("repeats"), seed = a.count("seed");
    const auto folds = train::repeated_stratified_kfold(y, folds_k, repeats, std::uint64_t(seed));
    const auto pick = [&](const std::vector<double>& v, const std::vector<std::size_t>& idx) {
        std::vector<double> out;
        out.reserve(idx.size());
        for (std::size_t i : idx) out.push_back(v[i]);
        return out;
    };
    std::vector<cv_row> rows;
    const auto training_mean = [&](const train::fold& f) {
        double mean = 0;
        for (std::size_t i : f.train) mean += y[i] / double(f.train.size());
        return std::vector<double>(f.test.size(), mean);
    };
    rows.push_back(score_out_of_fold("constant (training mean)", y,
                                     train::out_of_fold_predictions(folds, n, training_mean, false)));
    for (const auto& r : references)
        rows.push_back(score_out_of_fold("reference " + r, y, std::vector<std::vector<double>>(repeats, raw[r])));
    for (const auto& l : linear) {
        const feature_table X = table_of(l, !suffix.empty());
        double sigma_int = 0;
        std::string name;
        for (const auto& f : l) name += (name.empty() ? "" : ",") + f;
        const auto fit_predict = [&](const train::fold& f) {
            linear_relation_options o;
            o.target = target;
            const auto rel = fit_linear_relation(X.subset_rows(f.train), pick(y, f.train),
                                                 y_err.empty() ? std::vector<double>{} : pick(y_err, f.train), o);
            sigma_int += rel.sigma_int / double(folds.size());
            return rel.predict(X.subset_rows(f.test)).value;
        };
        auto row = score_out_of_fold("linear " + name, y,
                                     train::out_of_fold_predictions(folds, n, fit_predict, !quiet));
        row.sigma_int = sigma_int;
        rows.push_back(row);
    }
#ifdef FERRUM_HAS_XGBOOST
    if (!boosting.empty()) {
        const feature_table G = table_of(boosting, false);
        gradient_boosting_options o;
        o.n_estimators = int(a.count("rounds"));
        o.max_depth = int(a.count("depth"));
        std::string name;
        for (const auto& f : boosting) name += (name.empty() ? "" : ",") + f;
        const auto fit_predict = [&](const train::fold& f) {
            return fit_gradient_boosting(G.subset_rows(f.train), pick(y, f.train), o).predict(G.subset_rows(f.test));
        };
        rows.push_back(score_out_of_fold("gradient boosting " + name, y,
                                         train::out_of_fold_predictions(folds, n, fit_predict, !quiet)));
    }
#endif
    std::printf("cv: %zu rows of %s, target %s, %zu-fold x %zu repeats (seed %zu), out-of-fold, mean over repeats\n", n,
                raw.file.c_str(), target.c_str(), folds_k, repeats, seed);
    std::size_t w = 5;
    for (const auto& r : rows) w = std::max(w, r.model.size());
    std::printf("%-*s  %7s  %7s  %7s  %7s  %7s  %9s  %5s\n", int(w), "model", "RMSE", "sd", "bias", "MAE", "R^2",
                "sigma_int", "N");
    for (const auto& r : rows) {
        char si[32] = "-";
        if (r.sigma_int >= 0) std::snprintf(si, sizeof si, "%.4f", r.sigma_int);
        std::printf("%-*s  %7.4f  %7.4f  %+7.4f  %7.4f  %7.4f  %9s  %5zu\n", int(w), r.model.c_str(), r.rmse, r.rmse_sd,
                    r.bias, r.mae, r.r2, si, n);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    cli::tool_conventions conventions;
    conventions.usage_without_command = false;  // no command is a usage error, exit 2
    conventions.usage_exit = 2;
    conventions.hint_on_own_line = true;
    return cli::run_tool(
        program(), argc, argv,
        [](const args& a) {
        if (a.command() == "fit") return cmd_fit(a);
        if (a.command() == "predict") return cmd_predict(a);
        if (a.command() == "cv") return cmd_cv(a);
        return cmd_select(a);
        },
        conventions);
}
