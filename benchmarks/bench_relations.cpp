// bench_relations: relation fitting on the 12,877 RRab of Muraveva et al. (2025) -- the maximum-likelihood
// errors-in-variables fit (Newton, exact Hessian) against SciPy BFGS on the same likelihood with an analytic
// gradient, f_regression and forward sequential selection (5 unshuffled folds, least squares) against
// scikit-learn, and the ensemble sampler's throughput (no peer: emcee is not installed). The peer is
// benchmarks/relations_peer.py, run here; the last stdout line is one JSON object.
#include <ferrum/relations.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_read_timing.hpp"

using namespace ferrum;

using ferrum_bench::best_of;

namespace {
std::string run_peer(const std::string& csv, int repeats) {
    const std::string cmd = "/usr/bin/python3 " + std::string(FERRUM_BENCH_DIR) + "/relations_peer.py '" + csv + "' " +
                            std::to_string(repeats);
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), &pclose);
    if (!p) return "";
    std::string out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p.get())) out += buf;
    return out;
}
}  // namespace

int main() {
    const std::string csv = std::string(FERRUM_SHARED_DATA_DIR) + "/muraveva2025_lmc_gaiadr3/rrl_params.csv";
    if (!std::filesystem::exists(csv)) {
        std::printf("bench_relations: %s not found, nothing to measure\n{}\n", csv.c_str());
        return 0;
    }
    const int repeats = 5;
    const auto t = read_numeric_columns(
        csv, {"Period", "Phi31", "Phi31_error", "A2", "A2_error", "A1", "A3", "Phi21", "[Fe/H]", "[Fe/H]_error"},
        {{"Type", "RRab"}});
    feature_table X;
    X.add("Period", t["Period"]).add("Phi31", t["Phi31"], t["Phi31_error"]).add("A2", t["A2"], t["A2_error"]);
    const auto& y = t["[Fe/H]"];
    const auto& ey = t["[Fe/H]_error"];

    linear_relation rel;
    const double t_ml = best_of(repeats, [&] { rel = fit_linear_relation(X, y, ey); }).wall;
    feature_table W = X;
    W.add("A1", t["A1"]).add("A3", t["A3"]).add("Phi21", t["Phi21"]);
    auto f_test = [&] {
        volatile double f = f_regression(W, y).F[0];  // used, so the call is not optimised away
        (void)f;
    };
    const double t_f = best_of(repeats, f_test).wall;
    sequential_selection_options so;
    so.show_progress = false;
    for (std::size_t k = 0, start = 0; k < 5; ++k) {  // sklearn's KFold(5, shuffle=False)
        const std::size_t len = y.size() / 5 + (k < y.size() % 5 ? 1 : 0);
        train::fold f;
        for (std::size_t i = 0; i < y.size(); ++i) (i >= start && i < start + len ? f.test : f.train).push_back(i);
        so.folds.push_back(f);
        start += len;
    }
    const double t_sfs = best_of(std::max(1, repeats / 2), [&] { sequential_feature_selection(W, y, so); }).wall;
    linear_relation_options mo;
    mo.method = fit_method::mcmc;
    mo.sampler.burn_in = 500;
    mo.sampler.steps = 1000;
    mo.sampler.show_progress = false;
    linear_relation mc;
    const double t_mc = best_of(1, [&] { mc = fit_linear_relation(X, y, ey, mo); }).wall;
    const double evals = double(mc.mcmc->walkers) * double(mo.sampler.burn_in + mo.sampler.steps);

    const std::string peer_line = run_peer(csv, repeats);
    nlohmann::json peer;
    try {
        peer = nlohmann::json::parse(peer_line);
    } catch (...) {
        peer = nlohmann::json::object();
    }
    const double p_ml = peer.value("ml_seconds", 0.0), p_f = peer.value("f_regression_seconds", 0.0),
                 p_sfs = peer.value("sfs_seconds", 0.0);
    double max_diff = 0;
    if (peer.contains("ml_theta"))
        for (std::size_t k = 0; k < 4; ++k)
            max_diff = std::max(max_diff, std::abs(peer["ml_theta"][k].get<double>() - rel.coefficients[k]));

    std::printf(
        "bench_relations: %zu RRab, features Period, Phi31 (+err), A2 (+err), target [Fe/H] (+err); best of %d\n",
        y.size(), repeats);
    std::printf("%-44s %12s %12s %8s\n", "task", "ferrum (s)", "peer (s)", "ratio");
    auto row = [](const char* name, double a, double b) {
        std::printf("%-44s %12.5f %12.5f %8.1f\n", name, a, b, b > 0 ? b / a : 0.0);
    };
    row("ML fit (Newton) vs SciPy BFGS", t_ml, p_ml);
    row("f_regression, 6 features vs sklearn", t_f, p_f);
    row("forward selection 5-fold vs sklearn SFS", t_sfs, p_sfs);
    std::printf("%-44s %12.5f %12s %8s\n", "MCMC 32 walkers x 1500 steps (no peer)", t_mc, "-", "-");
    std::printf("MCMC: %.3g log-posterior evaluations/s (%.3g star-terms/s); max R-hat %.3f\n", evals / t_mc,
                evals * double(y.size()) / t_mc, mc.mcmc->max_rhat());
    std::printf("ML coefficients: ferrum vs SciPy max |difference| %.2e; sigma_int %.4g; Newton iterations %d\n",
                max_diff, rel.sigma_int, rel.iterations);
    std::printf("(sklearn SFS stops at 5 of 6 features, 20 subsets; ferrum ranks all 6, 21 subsets)\n");
    nlohmann::json j{{"benchmark", "relations"},
                     {"n", y.size()},
                     {"ml_fit_seconds", t_ml},
                     {"ml_fit_scipy_seconds", p_ml},
                     {"f_regression_seconds", t_f},
                     {"f_regression_sklearn_seconds", p_f},
                     {"sfs_seconds", t_sfs},
                     {"sfs_sklearn_seconds", p_sfs},
                     {"mcmc_seconds", t_mc},
                     {"mcmc_evals_per_second", evals / t_mc},
                     {"ml_max_coefficient_difference", max_diff}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}
