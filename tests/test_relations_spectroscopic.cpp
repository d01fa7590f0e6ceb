// The spectroscopic-scale (LAMOST) [Fe/H] relation of relations/spectroscopic.hpp: its recorded constants
// against a refit on the shared table, the library's maximum-likelihood fit against an independent SciPy fit
// of the same likelihood (tests/data/relations/lamost_ml_scipy.json, written by
// tools/make_lamost_relation_reference.py), feh_lamost_g at hand-computed points, and the
// `ferrum-relations cv` command that tools/fit_lamost_relation.sh prints its table with (skips when the
// program is not built; found through $FERRUM_RELATIONS_EXE or ../tools/ferrum-relations).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "ferrum/relations/linear_relation.hpp"
#include "ferrum/relations/spectroscopic.hpp"
#include "ferrum/relations/table_io.hpp"
#include "reference.hpp"

using namespace ferrum;
using namespace ferrum::relations;

namespace {

struct lamost_table {
    feature_table X;
    std::vector<double> y, y_err;
};

// The RRab of the shared LAMOST table with the relation's features and their errors; empty path: no data.
std::string lamost_path() {
    const std::string dir = ferrum_test::shared_data_dir();
    return dir.empty() ? dir : dir + "/liu2020_lamost_gaiadr3_rrl/rrl_params_lamost.csv";
}

lamost_table read_lamost(const std::string& path) {
    const std::vector<std::string> f{"pf", "phi31_g", "A1", "A2"};
    const std::vector<std::string> e{"pf_error", "phi31_g_error", "A1_error", "A2_error"};
    std::vector<std::string> cols = f;
    cols.insert(cols.end(), e.begin(), e.end());
    cols.push_back("FeH");
    cols.push_back("FeH_err");
    const auto t = read_numeric_columns(path, cols);
    lamost_table out;
    for (std::size_t j = 0; j < f.size(); ++j) out.X.add(f[j], t[f[j]], t[e[j]]);
    out.y = t["FeH"];
    out.y_err = t["FeH_err"];
    return out;
}

linear_relation fit_lamost(const lamost_table& d) {
    linear_relation_options o;
    o.target = "FeH";
    return fit_linear_relation(d.X, d.y, d.y_err, o);
}

// Compares a library fit with a SciPy fit record {coefficients, sigma_int, sd, log_likelihood}.
void check_against_scipy(const linear_relation& rel, const nlohmann::json& fit) {
    const auto b = ferrum_test::vec(fit["coefficients"]);
    const auto sd = ferrum_test::vec(fit["sd"]);
    REQUIRE(rel.coefficients.size() == b.size());
    REQUIRE(sd.size() == b.size() + 1);
    for (std::size_t k = 0; k < b.size(); ++k) {
        INFO("coefficient " << k);
        // Both are maxima found to gradient ~1e-11: they agree far inside the posterior width.
        CHECK(std::abs(rel.coefficients[k] - b[k]) < 1e-8 * sd[k]);
        CHECK(rel.sd(k) == Approx(sd[k]).epsilon(1e-5));  // SciPy's Hessian is a finite difference
    }
    CHECK(std::abs(rel.sigma_int - fit["sigma_int"].get<double>()) < 1e-8 * sd.back());
    CHECK(rel.sigma_int_sd == Approx(sd.back()).epsilon(1e-5));
    CHECK(rel.log_likelihood == Approx(fit["log_likelihood"].get<double>()).epsilon(1e-12));
}

}  // namespace

TEST_CASE("feh_lamost_g at hand-computed points", "[relations][spectroscopic]") {
    // -0.09926279753880002 - 3.52434574943827*0.55 + 0.42159771793914613*2.0 - 3.1063177314447263*0.3
    //   + 3.828192432419578*0.15 = -0.099263 - 1.938390 + 0.843195 - 0.931895 + 0.574229 = -1.552124
    CHECK(feh_lamost_g(rr_type::rrab, 0.55, 2.0, 0.3, 0.15, 0.1) == Approx(-1.5521239784220375).margin(1e-12));
    // -0.099263 - 2.290825 + 1.011835 - 0.621264 + 0.306255 = -1.693262
    CHECK(feh_lamost_g(rr_type::rrab, 0.65, 2.4, 0.2, 0.08, 0.05) == Approx(-1.6932611633151038).margin(1e-12));
    // a3 is not used by the RRab relation.
    CHECK(feh_lamost_g(rr_type::rrab, 0.65, 2.4, 0.2, 0.08, 0.0) ==
          feh_lamost_g(rr_type::rrab, 0.65, 2.4, 0.2, 0.08, 0.3));
    // RRc: Muraveva et al. (2025), 0.80 - 8.54*0.3 + 0.23*3.5 - 9.34*0.02 = -1.1438.
    CHECK(feh_lamost_g(rr_type::rrc, 0.3, 3.5, 0.2, 0.02, 0.01) == Approx(-1.1438).margin(1e-12));
    CHECK(feh_lamost_g(rr_type::rrc, 0.3, 3.5, 0.2, 0.02, 0.01) == feh_muraveva2025(rr_type::rrc, 0.3, 3.5, 0.02));
    CHECK_THROWS_AS(feh_lamost_g(rr_type::rrd, 0.4, 2.0, 0.2, 0.1, 0.05), value_error);
    CHECK_THROWS_WITH(feh_lamost_g(rr_type::unknown, 0.4, 2.0, 0.2, 0.1, 0.05), Catch::Contains("RRab"));
    static_assert(feh_lamost_g_rrab(0.55, 2.0, 0.3, 0.15) < -1.55 && feh_lamost_g_rrab(0.55, 2.0, 0.3, 0.15) > -1.56,
                  "feh_lamost_g_rrab is usable in constant expressions");
    CHECK(lamost_g_rrab_sigma_int > 0.25);
    CHECK(lamost_g_rrab_sigma_int < 0.32);
}

TEST_CASE("the library's ML fit agrees with SciPy's on a seeded synthetic set", "[relations][spectroscopic]") {
    const auto ref = ferrum_test::load_reference("relations/lamost_ml_scipy.json");
    const auto& s = ref["synthetic"];
    feature_table X;
    const auto names = s["names"].get<std::vector<std::string>>();
    for (std::size_t j = 0; j < names.size(); ++j)
        X.add(names[j], ferrum_test::vec(s["columns"][j]), ferrum_test::vec(s["errors"][j]));
    const auto rel = fit_linear_relation(X, ferrum_test::vec(s["y"]), ferrum_test::vec(s["y_err"]));
    check_against_scipy(rel, s["fit"]);
    // and it finds the truth it was drawn from (b0, b_P, b_phi31, b_A1, sigma_int) within 3 sd.
    const auto truth = ferrum_test::vec(s["truth"]);
    for (std::size_t k = 0; k < rel.coefficients.size(); ++k)
        CHECK(std::abs(rel.coefficients[k] - truth[k]) < 3 * rel.sd(k));
    CHECK(std::abs(rel.sigma_int - truth.back()) < 3 * rel.sigma_int_sd);
}

TEST_CASE("the recorded LAMOST relation is the refit of the shared table, and SciPy's",
          "[relations][spectroscopic][data]") {
    const std::string path = lamost_path();
    if (path.empty()) {
        WARN("shared data (../shared/data) not found: the LAMOST refit is skipped");
        return;
    }
    const auto d = read_lamost(path);
    const auto ref = ferrum_test::load_reference("relations/lamost_ml_scipy.json")["lamost"];
    REQUIRE(d.y.size() == lamost_g_rrab_n_stars);
    REQUIRE(d.y.size() == ref["n"].get<std::size_t>());
    CHECK(std::accumulate(d.y.begin(), d.y.end(), 0.0) == Approx(ref["sum_target"].get<double>()).epsilon(1e-12));
    const auto rel = fit_lamost(d);
    REQUIRE(rel.coefficients.size() == lamost_g_rrab_coefficients.size());
    for (std::size_t k = 0; k < rel.coefficients.size(); ++k) {
        INFO("coefficient " << k << " (" << rel.parameter_names()[k] << ")");
        // Within the posterior sd, as asked; in fact the refit reproduces the recorded digits.
        CHECK(std::abs(lamost_g_rrab_coefficients[k] - rel.coefficients[k]) < rel.sd(k));
        CHECK(std::abs(lamost_g_rrab_coefficients[k] - rel.coefficients[k]) < 1e-8 * rel.sd(k));
        CHECK(lamost_g_rrab_coefficient_sd[k] == Approx(rel.sd(k)).epsilon(1e-6));
    }
    CHECK(std::abs(lamost_g_rrab_sigma_int - rel.sigma_int) < rel.sigma_int_sd);
    CHECK(std::abs(lamost_g_rrab_sigma_int - rel.sigma_int) < 1e-8 * rel.sigma_int_sd);
    CHECK(lamost_g_rrab_sigma_int_sd == Approx(rel.sigma_int_sd).epsilon(1e-6));
    // The independent SciPy maximum of the same likelihood on the same stars.
    check_against_scipy(rel, ref["fit"]);
    // feh_lamost_g is the fitted relation: same predictions as the fit, star by star.
    const auto pred = rel.predict(d.X).value;
    double worst = 0;
    for (std::size_t i = 0; i < pred.size(); ++i)
        worst = std::max(
            worst, std::abs(pred[i] - feh_lamost_g(rr_type::rrab, d.X(i, 0), d.X(i, 1), d.X(i, 2), d.X(i, 3), 0.0)));
    CHECK(worst < 1e-9);
    // It is closer to LAMOST than the Muraveva et al. (2025) labels (0.377 dex RMS) on these stars.
    std::vector<double> mur(d.y.size());
    for (std::size_t i = 0; i < mur.size(); ++i) mur[i] = feh_muraveva2025_rrab(d.X(i, 0), d.X(i, 1));
    CHECK(rmse(d.y, mur) == Approx(0.3766).margin(5e-4));
    CHECK(rmse(d.y, pred) < 0.33);
}

namespace {
// The numbers of the `cv` table row whose model column is `model`: RMSE, sd, bias, MAE, R^2 (empty if absent).
std::vector<double> cv_row_of(const std::string& out, const std::string& model) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(model + " ", 0) != 0) continue;
        std::istringstream f(line.substr(model.size()));
        std::vector<double> v(5);
        for (auto& x : v) f >> x;
        return v;
    }
    return {};
}
}  // namespace

TEST_CASE("ferrum-relations cv scores references, linear relations and a constant on the same folds",
          "[relations][spectroscopic][cli]") {
    const std::string exe = ferrum_test::tool_exe("FERRUM_RELATIONS_EXE", "ferrum-relations");
    if (exe.empty()) {
        WARN("ferrum-relations not built: skipped");
        return;
    }
    const auto dir = ferrum_test::fresh_dir("ferrum_test_relations_cv");
    const std::string table = (dir / "t.csv").string();
    {
        // y = 1 + 2 x + e exactly (e a fixed +-0.1 pattern); ref = y (a perfect reference); off = y + 0.5.
        std::ofstream t(table);
        t << "x,x_error,y,y_err,ref,off\n";
        for (int i = 0; i < 60; ++i) {
            const double x = 0.05 * i, e = (i % 3 == 0 ? 0.1 : -0.05), y = 1 + 2 * x + e;
            t << x << ",0.001," << y << ",0.05," << y << "," << y + 0.5 << "\n";
        }
    }
    auto r = ferrum_test::run_program(exe,
                                      "cv --table " + table +
                                          " --target y --target-error y_err --linear x "
                                          "--error-suffix _error --reference ref --reference off --folds 3 --repeats 2",
                                      dir, "FERRUM_QUIET=1 ");
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const auto ref = cv_row_of(r.out, "reference ref"), off = cv_row_of(r.out, "reference off");
    const auto lin = cv_row_of(r.out, "linear x"), con = cv_row_of(r.out, "constant (training mean)");
    REQUIRE(ref.size() == 5);
    REQUIRE(off.size() == 5);
    REQUIRE(lin.size() == 5);
    REQUIRE(con.size() == 5);
    CHECK(ref[0] == Approx(0.0).margin(1e-4));  // RMSE
    CHECK(off[0] == Approx(0.5).margin(1e-4));  // RMSE of a constant offset
    CHECK(off[2] == Approx(0.5).margin(1e-4));  // bias = prediction - target
    CHECK(lin[0] < 0.1);                        // the residual pattern, about 0.075 RMS
    CHECK(lin[0] > 0.05);
    CHECK(con[0] > 0.8);  // sd of y over 0..3 in x is ~1.7
    CHECK(r.out.find("3-fold x 2 repeats") != std::string::npos);
    // A column that is not there is a data error (exit 1) naming it; an empty --linear is a usage error.
    r = ferrum_test::run_program(exe, "cv --table " + table + " --target y --linear nope", dir, "FERRUM_QUIET=1 ");
    CHECK(r.status == 1);
    CHECK(r.err.find("nope") != std::string::npos);
    r = ferrum_test::run_program(exe, "cv --table " + table + " --target y --linear ,", dir, "FERRUM_QUIET=1 ");
    CHECK(r.status == 2);
    // The one rule of the three tools (issue #13, item 9): a header-only table, or one whose every row a
    // --where filter leaves out, is an input error naming the file and saying which.
    const std::string empty = (dir / "header.csv").string();
    std::ofstream(empty) << "x,x_error,y,y_err,ref,off\n";
    for (const std::string& cmd :
         {"cv --table " + empty + " --target y --linear x",
          "fit --table " + empty + " --target y --features x --out " + (dir / "m.json").string()}) {
        r = ferrum_test::run_program(exe, cmd, dir, "FERRUM_QUIET=1 ");
        CHECK(r.status == 1);
        CHECK(r.err.find(empty + ": the file has no data rows") != std::string::npos);
    }
    r = ferrum_test::run_program(exe, "cv --table " + table + " --target y --linear x --where x_error=7", dir,
                                 "FERRUM_QUIET=1 ");
    CHECK(r.status == 1);
    CHECK(r.err.find(table + ": none of its 60 data rows is usable (no row passes the --where filters)") !=
          std::string::npos);
    CHECK(!std::filesystem::exists(dir / "m.json"));

    // predict streams the table (issue #13, item 7): batches of 1 and 7 rows write the bytes of one batch, the
    // --id column and the --where filter included, and a header-only table is still an input error
    const std::string model = (dir / "lin.json").string();
    r = ferrum_test::run_program(
        exe, "fit --table " + table + " --target y --target-error y_err --features x --out " + model, dir,
        "FERRUM_QUIET=1 ");
    REQUIRE(r.status == 0);
    const std::string pred = "predict --model " + model + " --table " + table + " --id ref --where y_err=0.05 --out ";
    REQUIRE(ferrum_test::run_program(exe, pred + (dir / "p.csv").string(), dir, "FERRUM_QUIET=1 ").status == 0);
    const std::string whole = ferrum_test::slurp(dir / "p.csv");
    CHECK(std::count(whole.begin(), whole.end(), '\n') == 61);
    CHECK(whole.rfind("line,ref,y,y_sigma\n2,1.1,", 0) == 0);  // line 2: x = 0, ref = y = 1.1
    for (const char* batch : {"1", "7"}) {
        r = ferrum_test::run_program(exe, pred + (dir / "pb.csv").string() + " --batch " + batch, dir,
                                     "FERRUM_QUIET=1 ");
        REQUIRE(r.status == 0);
        CHECK(ferrum_test::slurp(dir / "pb.csv") == whole);
    }
    r = ferrum_test::run_program(
        exe, "predict --model " + model + " --table " + empty + " --batch 1 --out " + (dir / "none.csv").string(), dir,
        "FERRUM_QUIET=1 ");
    CHECK(r.status == 1);
    CHECK(r.err.find(empty + ": the file has no data rows") != std::string::npos);
    CHECK(!std::filesystem::exists(dir / "none.csv"));
    std::filesystem::remove_all(dir);
}
