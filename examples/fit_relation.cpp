// Calibrating a period-Fourier-[Fe/H] relation on high-resolution spectroscopic metallicities
// (Crestani et al. 2021 compilation with I-band Fourier parameters): combine each star's measurements,
// rank the features, fit the relation with its intrinsic scatter (Laplace and MCMC), save the model, and
// compare it with gradient boosting (when ferrum::xgboost is linked) under repeated K-fold CV.
//
//   fit_relation [CHR_X_phot_single.dat] [--mcmc-steps N]
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ferrum/relations.hpp>
#include <ferrum/stats/metrics.hpp>
#include <ferrum/train/kfold.hpp>

using namespace ferrum;

namespace {

struct star {
    std::string name, type;
    std::vector<double> feh, e_feh;
    std::map<std::string, double> phot;  // period, A1.., phi31, their errors
};

// The table is whitespace-separated with its column names on a leading '#' line; "" marks a missing value.
std::vector<star> read_stars(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path);
    std::string line;
    std::getline(in, line);
    std::istringstream hs(line.substr(line.find('#') + 1));
    std::vector<std::string> head;
    for (std::string h; hs >> h;) head.push_back(h);
    const std::vector<std::string> phot = {"period", "totamp", "A1",    "A2",      "A3",    "A1_e",
                                           "A2_e",   "A3_e",   "phi21", "phi21_e", "phi31", "phi31_e"};
    std::map<std::string, star> by_id;
    std::vector<std::string> order;
    for (std::size_t lineno = 2; std::getline(in, line); ++lineno) {
        std::istringstream ls(line);
        std::map<std::string, std::string> f;
        std::size_t k = 0;
        for (std::string v; ls >> v; ++k)
            if (k < head.size()) f[head[k]] = v;
        if (k == 0) continue;
        if (k != head.size())
            throw input_error(path, lineno, "",
                              std::to_string(k) + " fields, the header has " + std::to_string(head.size()));
        auto number = [&](const std::string& col) {
            const auto p = parse_double(f.at(col));
            if (!p.ok()) throw input_error(path, lineno, col, "expected a number, found '" + f.at(col) + "'");
            return p.value;
        };
        const std::string id = f.at("gaia_id");
        if (!by_id.count(id)) order.push_back(id), by_id[id].name = f.at("name");
        star& s = by_id[id];
        s.type = f.at("type");
        s.feh.push_back(number("feh"));
        s.e_feh.push_back(number("e_feh"));
        if (f.at("period") != "\"\"" && f.at("keep") == "1.0")
            for (const auto& c : phot) s.phot[c] = number(c);
    }
    std::vector<star> out;
    for (const auto& id : order) out.push_back(by_id[id]);
    return out;
}

// One [Fe/H] per star: the inverse-variance weighted mean of its measurements; its error is
// 1/sqrt(sum w), inflated by the Birge ratio sqrt(chi2/(m-1)) when the measurements disagree by more
// than their errors allow.
std::pair<double, double> combine(const star& s) {
    double sw = 0, swx = 0;
    for (std::size_t i = 0; i < s.feh.size(); ++i)
        sw += 1 / (s.e_feh[i] * s.e_feh[i]), swx += s.feh[i] / (s.e_feh[i] * s.e_feh[i]);
    const double mean = swx / sw;
    double chi2 = 0;
    for (std::size_t i = 0; i < s.feh.size(); ++i) chi2 += std::pow((s.feh[i] - mean) / s.e_feh[i], 2);
    const double birge = s.feh.size() > 1 ? std::sqrt(std::max(1.0, chi2 / double(s.feh.size() - 1))) : 1.0;
    return {mean, birge / std::sqrt(sw)};
}

struct sample {
    feature_table all;  // every candidate feature, with errors where the table has them
    std::vector<double> feh, e_feh;
};

sample build(const std::vector<star>& stars, bool rrab) {
    sample s;
    std::map<std::string, std::vector<double>> c;
    for (const auto& st : stars) {
        if (st.phot.empty() || (st.type.rfind("RRab", 0) == 0) != rrab) continue;
        const auto [m, e] = combine(st);
        s.feh.push_back(m);
        s.e_feh.push_back(e);
        for (const auto& [k, v] : st.phot) c[k].push_back(v);
        c["R21"].push_back(st.phot.at("A2") / st.phot.at("A1"));
        c["R31"].push_back(st.phot.at("A3") / st.phot.at("A1"));
    }
    s.all.add("P", c["period"]).add("phi31", c["phi31"], c["phi31_e"]).add("phi21", c["phi21"], c["phi21_e"]);
    s.all.add("A1", c["A1"], c["A1_e"]).add("A2", c["A2"], c["A2_e"]).add("A3", c["A3"], c["A3_e"]);
    s.all.add("R21", c["R21"]).add("R31", c["R31"]).add("amplitude", c["totamp"]);
    return s;
}

void cross_validate(const char* label, const sample& s, const std::vector<std::string>& features) {
    const feature_table X = s.all.subset_columns(features);
    const auto folds = train::repeated_stratified_kfold(s.feh, 5, 10, std::uint64_t(7));
    auto report = [&](const char* model, const std::vector<std::vector<double>>& oof) {
        double r = 0, m = 0, q = 0;
        for (const auto& p : oof) {
            const auto e = evaluate_regression(s.feh, p);
            r += e.rmse / double(oof.size()), m += e.mae / double(oof.size()), q += e.r2 / double(oof.size());
        }
        std::printf("  %-28s RMSE %.3f  MAE %.3f  R^2 %.3f\n", model, r, m, q);
    };
    std::printf("%s: 5-fold CV x 10 repeats (out-of-fold, mean over repeats), %zu stars\n", label, s.feh.size());
    auto split = [&](const train::fold& f, std::vector<double>& ytr) {
        ytr.clear();
        for (std::size_t i : f.train) ytr.push_back(s.feh[i]);
    };
    report("constant (training mean)", train::out_of_fold_predictions(
                                           folds, s.feh.size(),
                                           [&](const train::fold& f) {
        double mean = 0;
        for (std::size_t i : f.train) mean += s.feh[i] / double(f.train.size());
        return std::vector<double>(f.test.size(), mean);
                                           },
                                           false));
    report("linear relation (ML)", train::out_of_fold_predictions(
                                       folds, s.feh.size(),
                                       [&](const train::fold& f) {
        std::vector<double> ytr, etr;
        split(f, ytr);
        for (std::size_t i : f.train) etr.push_back(s.e_feh[i]);
        return fit_linear_relation(X.subset_rows(f.train), ytr, etr).predict(X.subset_rows(f.test)).value;
                                       },
                                       false));
#ifdef FERRUM_HAS_XGBOOST
    const feature_table G = s.all.subset_columns({"P", "phi31", "phi21", "A1", "A2", "A3"});
    report("gradient boosting (6 feat.)", train::out_of_fold_predictions(
                                              folds, s.feh.size(),
                                              [&](const train::fold& f) {
        std::vector<double> ytr;
        split(f, ytr);
        gradient_boosting_options o;
        o.n_estimators = 200, o.max_depth = 2, o.learning_rate = 0.05;
        return fit_gradient_boosting(G.subset_rows(f.train), ytr, o).predict(G.subset_rows(f.test));
                                              },
                                              false));
#else
    std::printf("  (gradient boosting: build with ferrum::xgboost to compare)\n");
#endif
}

}  // namespace

int main(int argc, char** argv) {
    std::string path = "../shared/data/crestani2021_hires_feh/CHR_X_phot_single.dat";
    std::size_t steps = 4000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--mcmc-steps" && i + 1 < argc) steps = std::stoul(argv[++i]);
        else path = a;
    }
    try {
        const auto stars = read_stars(path);
        std::size_t n = 0;
        for (const auto& s : stars) n += s.feh.size();
        std::printf("%s: %zu measurements of %zu stars\n\n", path.c_str(), n, stars.size());

        for (bool rrab : {true, false}) {
            const sample s = build(stars, rrab);
            const char* label = rrab ? "RRab (incl. Blazhko)" : "RRc (incl. Blazhko)";
            std::printf("=== %s: %zu stars with I-band Fourier parameters ===\n\n", label, s.feh.size());
            std::printf("%s\n", rank_by_f_test(s.all, s.feh).to_string().c_str());
            sequential_selection_options so;
            so.n_splits = 5, so.n_repeats = 4, so.seed = 1, so.show_progress = false;
            std::printf("%s\n", sequential_feature_selection(s.all, s.feh, so).to_string().c_str());

            const std::vector<std::string> features{"P", "phi31"};
            linear_relation_options o;
            o.convention = phase_convention::sine;  // the table's phases are sine-series values (phi31 ~ 5.5)
            const auto lap = fit_linear_relation(s.all.subset_columns(features), s.feh, s.e_feh, o);
            std::printf("%s\n", lap.summary().c_str());
            o.method = fit_method::mcmc;
            o.sampler.steps = steps;
            o.sampler.burn_in = steps / 2;
            o.sampler.show_progress = false;
            const auto mc = fit_linear_relation(s.all.subset_columns(features), s.feh, s.e_feh, o);
            std::printf("%s\n", mc.summary().c_str());
            const std::string out = rrab ? "fit_relation_rrab.json" : "fit_relation_rrc.json";
            save_linear_relation(out, mc, {{"table", path}, {"sample", label}});
            std::printf("model written to %s\n\n", out.c_str());
            cross_validate(label, s, features);
            std::printf("\n");
        }
    } catch (const ferrum::error& e) {
        std::fprintf(stderr, "fit_relation: %s\n", e.what());
        return 1;
    }
    return 0;
}
