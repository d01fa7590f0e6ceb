// ferrum-relations: period-Fourier-[Fe/H] relations on CSV tables -- fit a Bayesian linear relation with
// intrinsic scatter (Laplace or MCMC), predict with propagated uncertainties, rank features.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ferrum/core/atomic_file.hpp>
#include <ferrum/relations.hpp>

namespace {

using namespace ferrum;

const char* const usage = R"(ferrum-relations: period-Fourier-[Fe/H] relations on CSV tables

  ferrum-relations fit --table T.csv --target feh --features P,phi31[,...] --out model.json
                   [--target-error feh_err] [--feature-errors P_err,phi31_err] [--where COL=VALUE ...]
                   [--convention cosine|sine] [--no-scatter] [--mcmc] [--walkers 32] [--burn-in 1000]
                   [--steps 2000] [--seed S]
      Fits target = b0 + sum b_j feature_j by maximum likelihood with the Laplace covariance (default)
      or by the affine-invariant ensemble sampler (--mcmc; R-hat and ESS are reported). Each star's
      variance is target_error^2 + sum b_j^2 feature_error_j^2 + sigma_int^2. Give one feature-error
      column per feature, or '-' for an exact feature. --convention names the Fourier series of the
      phase columns (phi21, phi31); it is recorded in the model. Prints the parameter table on stdout.

  ferrum-relations predict --model M --table T.csv --out P.csv [--feature-errors ...] [--id COL]
                   [--where COL=VALUE ...] [--convention cosine|sine]
      Writes line,[id,]<target>,<target>_sigma (line = the row's line in T.csv); sigma includes the
      coefficient covariance, the feature errors given and sigma_int. Phases in the other convention
      than the model's are converted.

  ferrum-relations select --table T.csv --target feh --features a,b,c,... [--k K] [--where COL=VALUE ...]
                   [--folds 5] [--repeats 1] [--seed S] [--scoring r2|rmse]
      Ranks the features by the univariate F-test (f_regression), then by forward and backward
      sequential selection with repeated stratified K-fold CV of least squares, and prints select-K-best.

  Common: --delimiter C (default ','), --quiet (no progress on stderr; also FERRUM_QUIET=1), --help.
  Bad rows are errors naming the file, the line and the column.
)";

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct args {
    std::string command;
    std::map<std::string, std::vector<std::string>> opt;
    bool flag(const std::string& k) const { return opt.count(k) > 0; }
    std::string get(const std::string& k, const std::string& def = "") const {
        auto it = opt.find(k);
        return it == opt.end() || it->second.empty() ? def : it->second.back();
    }
    std::string need(const std::string& k) const {
        auto it = opt.find(k);
        if (it == opt.end() || it->second.empty()) throw usage_error(command + ": --" + k + " is required");
        return it->second.back();
    }
};

const std::map<std::string, std::vector<std::string>> known_options = {
    {"fit", {"table", "target", "target-error", "features", "feature-errors", "where", "convention", "no-scatter", "mcmc",
             "walkers", "burn-in", "steps", "seed", "out", "delimiter", "quiet"}},
    {"predict", {"model", "table", "out", "feature-errors", "id", "where", "convention", "delimiter", "quiet"}},
    {"select", {"table", "target", "features", "k", "where", "folds", "repeats", "seed", "scoring", "delimiter", "quiet"}},
};
const std::vector<std::string> flags = {"no-scatter", "mcmc", "quiet"};

args parse(int argc, char** argv) {
    args a;
    if (argc < 2) throw usage_error("no command given");
    a.command = argv[1];
    if (a.command == "--help" || a.command == "-h") return a;
    const auto known = known_options.find(a.command);
    if (known == known_options.end()) throw usage_error("unknown command '" + a.command + "' (fit, predict or select)");
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--help" || s == "-h") {
            a.opt["help"];
            continue;
        }
        if (s.rfind("--", 0) != 0) throw usage_error(a.command + ": unexpected argument '" + s + "'");
        s = s.substr(2);
        std::string value;
        bool has_value = false;
        if (const auto eq = s.find('='); eq != std::string::npos) value = s.substr(eq + 1), s = s.substr(0, eq), has_value = true;
        bool ok = false;
        for (const auto& k : known->second) ok = ok || k == s;
        if (!ok) throw usage_error(a.command + ": unknown option --" + s);
        const bool is_flag = std::find(flags.begin(), flags.end(), s) != flags.end();
        if (!is_flag && !has_value) {
            if (i + 1 >= argc) throw usage_error(a.command + ": --" + s + " needs a value");
            value = argv[++i];
        }
        a.opt[s].push_back(value);
    }
    return a;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

std::size_t to_size(const std::string& k, const std::string& v) {
    const auto p = parse_int64(v);
    if (!p.ok() || p.value < 0) throw usage_error("--" + k + " needs a non-negative integer, got '" + v + "'");
    return std::size_t(p.value);
}

std::vector<row_filter> filters(const args& a) {
    std::vector<row_filter> out;
    if (auto it = a.opt.find("where"); it != a.opt.end())
        for (const auto& w : it->second) {
            const auto eq = w.find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error("--where needs COL=VALUE, got '" + w + "'");
            out.push_back({w.substr(0, eq), w.substr(eq + 1)});
        }
    return out;
}

csv_options csv_opts(const args& a) {
    csv_options o;
    const std::string d = a.get("delimiter", ",");
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
    L.raw = read_numeric_columns(a.need("table"), cols, filters(a), csv_opts(a));
    if (L.raw.rows() == 0) throw value_error(a.need("table") + ": no rows (after --where filters)");
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
    const auto features = split(a.need("features"));
    if (features.empty()) throw usage_error("fit: --features is empty");
    const std::string out = a.need("out");
    const auto L = load(a, features, split(a.get("feature-errors")), a.need("target"), a.get("target-error"));
    linear_relation_options o;
    o.method = a.flag("mcmc") ? fit_method::mcmc : fit_method::laplace;
    o.intrinsic_scatter = !a.flag("no-scatter");
    o.convention = parse_phase_convention(a.get("convention", "cosine"));
    o.target = a.need("target");
    o.sampler.walkers = to_size("walkers", a.get("walkers", "32"));
    o.sampler.burn_in = to_size("burn-in", a.get("burn-in", "1000"));
    o.sampler.steps = to_size("steps", a.get("steps", "2000"));
    o.sampler.show_progress = !quiet;
    o.seed = to_size("seed", a.get("seed", "20250101"));
    if (!quiet) std::fprintf(stderr, "fit: %zu rows of %s, %zu features, %s\n", L.X.rows(), L.raw.file.c_str(),
                             features.size(), to_string(o.method));
    const auto rel = fit_linear_relation(L.X, L.y, L.y_err, o);
    nlohmann::json meta{{"table", L.raw.file}, {"target_error", a.get("target-error")},
                        {"feature_errors", a.get("feature-errors")}, {"tool", "ferrum-relations fit"}};
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
    const auto rel = load_linear_relation(a.need("model"));
    const std::string out = a.need("out");
    const auto L = load(a, rel.features, split(a.get("feature-errors")), "", "");
    const auto conv = a.flag("convention") ? parse_phase_convention(a.get("convention")) : rel.convention;
    const auto pred = rel.predict(L.X, conv);
    std::vector<std::string> ids;
    const std::string id = a.get("id");
    if (!id.empty()) {  // the id column as text, for the same rows (same filters)
        csv_reader csv(a.need("table"), csv_opts(a));
        const std::size_t c = csv.column(id);
        std::vector<std::pair<std::size_t, std::string>> fidx;
        for (const auto& f : filters(a)) fidx.push_back({csv.column(f.column), f.value});
        while (const csv_record* r = csv.next()) {
            bool keep = true;
            for (const auto& [k, v] : fidx) keep = keep && detail::trim((*r)[k]) == v;
            if (keep) ids.emplace_back(detail::trim((*r)[c]));
        }
    }
    write_file_atomically(out, [&](std::ostream& os) {
        os << "line," << (id.empty() ? "" : id + ",") << rel.target << "," << rel.target << "_sigma\n";
        char buf[64];
        for (std::size_t i = 0; i < pred.value.size(); ++i) {
            os << L.raw.lines[i] << ",";
            if (!id.empty()) os << ids.at(i) << ",";
            std::snprintf(buf, sizeof buf, "%.6f,%.6f\n", pred.value[i], pred.sigma[i]);
            os << buf;
        }
    });
    if (!quiet) std::fprintf(stderr, "predict: %zu rows -> %s\n", pred.value.size(), out.c_str());
    return 0;
}

int cmd_select(const args& a) {
    const bool quiet = a.flag("quiet") || !progress_enabled_by_default();
    const auto features = split(a.need("features"));
    const auto L = load(a, features, {}, a.need("target"), "");
    std::printf("%s\n", rank_by_f_test(L.X, L.y).to_string().c_str());
    sequential_selection_options o;
    o.n_splits = to_size("folds", a.get("folds", "5"));
    o.n_repeats = to_size("repeats", a.get("repeats", "1"));
    o.seed = to_size("seed", a.get("seed", "0"));
    const std::string sc = a.get("scoring", "r2");
    if (sc != "r2" && sc != "rmse") throw usage_error("select: --scoring must be r2 or rmse");
    o.scoring = sc == "r2" ? selection_scoring::r2 : selection_scoring::neg_rmse;
    o.show_progress = !quiet;
    std::printf("%s\n", sequential_feature_selection(L.X, L.y, o).to_string().c_str());
    o.direction = selection_direction::backward;
    std::printf("%s\n", sequential_feature_selection(L.X, L.y, o).to_string().c_str());
    if (a.flag("k")) {
        const auto best = select_k_best(L.X, L.y, to_size("k", a.get("k")));
        std::string s;
        for (const auto& b : best) s += (s.empty() ? "" : ",") + b;
        std::printf("select-K-best (F-test), k = %zu: %s\n", best.size(), s.c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const args a = parse(argc, argv);
        if (a.command == "--help" || a.command == "-h" || a.flag("help")) {
            std::fputs(usage, stdout);
            return 0;
        }
        if (a.command == "fit") return cmd_fit(a);
        if (a.command == "predict") return cmd_predict(a);
        return cmd_select(a);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "ferrum-relations: %s\n(run 'ferrum-relations --help')\n", e.what());
        return 2;
    } catch (const ferrum::error& e) {
        std::fprintf(stderr, "ferrum-relations: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ferrum-relations: unexpected error: %s\n", e.what());
        return 1;
    }
}
