// ferrum-relations: period-Fourier-[Fe/H] relations on CSV tables -- fit a Bayesian linear relation with
// intrinsic scatter (Laplace or MCMC), predict with propagated uncertainties, rank features.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <ferrum/core/atomic_file.hpp>
#include <ferrum/relations.hpp>

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
           cli::text("feature-errors", "one error column (or '-') per feature").shown_as("P_err,-,..."),
           where(),
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
           cli::text("id", "a column copied to the output"),
           where(),
           convention("the phase convention of the table (default: the model's)")}},
         {"select",
          "Ranks the features by the univariate F-test (f_regression), then by forward and backward\n"
          "sequential selection with repeated stratified K-fold CV of least squares, and prints select-K-best.",
          {cli::path("table", "the input CSV").shown_as("T.csv").required(),
           cli::text("target", "the target column").required(),
           cli::text("features", "candidate feature columns").shown_as("a,b,c,...").required(),
           cli::count("k", "also print the K best by F-test"),
           where(),
           cli::count("folds", "CV folds", cli::default_of(select_defaults.n_splits)).range(2, 1000),
           cli::count("repeats", "CV repeats", cli::default_of(select_defaults.n_repeats)).range(1, 1000),
           cli::count("seed", "seed of the CV splits", cli::default_of(select_defaults.seed)),
           cli::choice("scoring", "CV score", {"r2", "rmse"}, "r2")}}},
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

loaded load(const args& a, const std::vector<std::string>& features, const std::vector<std::string>& feature_errors,
            const std::string& target, const std::string& target_error) {
    if (!feature_errors.empty() && feature_errors.size() != features.size())
        throw usage_error("--feature-errors needs one column (or '-') per feature: " + std::to_string(features.size()) +
                          " features, " + std::to_string(feature_errors.size()) + " error columns");
    std::vector<std::string> cols = features;
    for (const auto& e : feature_errors)
        if (e != "-") cols.push_back(e);
    if (!target.empty()) cols.push_back(target);
    if (!target_error.empty()) cols.push_back(target_error);
    loaded L;
    L.raw = read_numeric_columns(a.path("table"), cols, filters(a), csv_opts(a));
    if (L.raw.rows() == 0) throw value_error(a.path("table") + ": no rows (after --where filters)");
    for (std::size_t j = 0; j < features.size(); ++j) {
        const bool has_err = !feature_errors.empty() && feature_errors[j] != "-";
        if (has_err)
            for (std::size_t i = 0; i < L.raw.rows(); ++i)
                if (L.raw[feature_errors[j]][i] < 0)
                    throw input_error(L.raw.file, L.raw.lines[i], feature_errors[j], "an error must be >= 0");
        L.X.add(features[j], L.raw[features[j]], has_err ? L.raw[feature_errors[j]] : std::vector<double>{});
    }
    if (!target.empty()) L.y = L.raw[target];
    if (!target_error.empty()) {
        L.y_err = L.raw[target_error];
        for (std::size_t i = 0; i < L.y_err.size(); ++i)
            if (L.y_err[i] < 0) throw input_error(L.raw.file, L.raw.lines[i], target_error, "an error must be >= 0");
    }
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
    if (!quiet) std::fprintf(stderr, "fit: %zu rows of %s, %zu features, %s\n", L.X.rows(), L.raw.file.c_str(),
                             features.size(), to_string(o.method));
    const auto rel = fit_linear_relation(L.X, L.y, L.y_err, o);
    nlohmann::json meta{{"table", L.raw.file}, {"target_error", target_error},
                        {"feature_errors", feature_errors}, {"tool", "ferrum-relations fit"}};
    nlohmann::json where = nlohmann::json::array();
    for (const auto& f : filters(a)) where.push_back(f.column + "=" + f.value);
    meta["where"] = where;
    save_linear_relation(out, rel, meta);
    const auto m = rel.evaluate(L.X, L.y);
    std::printf("%s", rel.summary().c_str());
    std::printf("training fit: RMSE %.4f, MAE %.4f, R^2 %.4f, robust scatter %.4f\n", m.rmse, m.mae, m.r2, m.robust_scatter);
    if (!quiet) std::fprintf(stderr, "fit: wrote %s\n", out.c_str());
    return 0;
}

int cmd_predict(const args& a) {
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const auto rel = load_linear_relation(a.path("model"));
    const std::string out = a.path("out");
    const auto L = load(a, rel.features, split(a.has("feature-errors") ? a.text("feature-errors") : ""), "", "");
    const auto conv = a.has("convention") ? parse_phase_convention(a.choice("convention")) : rel.convention;
    const auto pred = rel.predict(L.X, conv);
    std::vector<std::string> ids;
    const std::string id = a.has("id") ? a.text("id") : "";
    if (!id.empty()) {  // the id column as text, for the same rows (same filters)
        csv_reader csv(a.path("table"), csv_opts(a));
        const std::size_t c = csv.column(id);
        std::vector<std::pair<std::size_t, std::string>> fidx;
        for (const auto& f : filters(a)) fidx.push_back({csv.column(f.column), f.value});
        while (const csv_record* r = csv.next()) {
            require_field_count(csv, *r);
            bool keep = true;
            for (const auto& [k, v] : fidx) keep = keep && detail::trim((*r)[k]) == v;
            if (keep) ids.emplace_back(detail::trim((*r)[c]));
        }
    }
    std::size_t not_finite = 0;
    write_file_atomically(out, [&](std::ostream& os) {
        os << "line," << (id.empty() ? "" : id + ",") << rel.target << "," << rel.target << "_sigma\n";
        char buf[64];
        for (std::size_t i = 0; i < pred.value.size(); ++i) {
            os << L.raw.lines[i] << ",";
            if (!id.empty()) os << ids.at(i) << ",";
            if (std::isfinite(pred.value[i]) && std::isfinite(pred.sigma[i])) {
                std::snprintf(buf, sizeof buf, "%.6f,%.6f\n", pred.value[i], pred.sigma[i]);
                os << buf;
            } else {  // never a NaN in an output: an empty value and sigma, counted below
                os << ",\n";
                ++not_finite;
            }
        }
    });
    if (not_finite)
        std::fprintf(stderr, "predict: warning: %zu rows have no finite prediction (empty %s and %s_sigma)\n",
                     not_finite, rel.target.c_str(), rel.target.c_str());
    if (!quiet) std::fprintf(stderr, "predict: %zu rows -> %s\n", pred.value.size(), out.c_str());
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

}  // namespace

int main(int argc, char** argv) {
    cli::tool_conventions conventions;
    conventions.usage_without_command = false;  // no command is a usage error, exit 2
    conventions.usage_exit = 2;
    conventions.hint_on_own_line = true;
    return cli::run_tool(program(), argc, argv, [](const args& a) {
        if (a.command() == "fit") return cmd_fit(a);
        if (a.command() == "predict") return cmd_predict(a);
        return cmd_select(a);
    }, conventions);
}
