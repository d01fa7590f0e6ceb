// Regression metrics against scikit-learn (metrics.json); bias, robust scatter and binned residual
// statistics against hand-computed values; the counts of the bounded evaluation plots against NumPy and SciPy
// (reference/plot_counts.json, made by tools/make_plot_counts_reference.py), their SVG parsed.
#include <catch2/catch.hpp>

#include <ferrum/models/rrlyrae_metrics.hpp>
#include <ferrum/models/rrlyrae_plots.hpp>
#include <ferrum/stats/binned_statistics.hpp>
#include <ferrum/stats/metrics.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>

#include "reference.hpp"
#include "well_formed_xml.hpp"

using ferrum_test::load_reference;
using ferrum_test::vec;

TEST_CASE("R2, RMSE and MAE equal scikit-learn, plain and sample-weighted", "[metrics]") {
    const auto ref = load_reference("metrics.json");
    const auto yt = vec(ref.at("y_true")), yp = vec(ref.at("y_pred")), w = vec(ref.at("w"));
    CHECK(ferrum::r2_score(yt, yp) == Approx(ref.at("r2").get<double>()).epsilon(1e-9));
    CHECK(ferrum::rmse(yt, yp) == Approx(ref.at("rmse").get<double>()).epsilon(1e-9));
    CHECK(ferrum::mae(yt, yp) == Approx(ref.at("mae").get<double>()).epsilon(1e-9));
    CHECK(ferrum::r2_score(yt, yp, w) == Approx(ref.at("wr2").get<double>()).epsilon(1e-9));
    CHECK(ferrum::rmse(yt, yp, w) == Approx(ref.at("wrmse").get<double>()).epsilon(1e-9));
    CHECK(ferrum::mae(yt, yp, w) == Approx(ref.at("wmae").get<double>()).epsilon(1e-9));
    const auto all = ferrum::evaluate_regression(yt, yp, w);
    CHECK(all.r2 == Approx(ref.at("wr2").get<double>()).epsilon(1e-9));
    CHECK(all.rmse == Approx(ref.at("wrmse").get<double>()).epsilon(1e-9));
}

TEST_CASE("metrics on a hand-computed weighted example", "[metrics]") {
    const std::vector<double> yt{1, 2, 3}, yp{1, 2, 5}, w{1, 1, 2};
    // weighted mean of y_true 9/4; residual sum of squares 2*4 = 8; total 1.5625 + 0.0625 + 2*0.5625 = 2.75
    CHECK(ferrum::r2_score(yt, yp, w) == Approx(1.0 - 8.0 / 2.75).epsilon(1e-15));
    CHECK(ferrum::mean_squared_error(yt, yp, w) == Approx(2.0).epsilon(1e-15));
    CHECK(ferrum::mae(yt, yp, w) == Approx(1.0).epsilon(1e-15));
    CHECK(ferrum::bias(yt, yp, w) == Approx(1.0).epsilon(1e-15));
    CHECK(ferrum::bias(yt, yp) == Approx(2.0 / 3.0).epsilon(1e-15));
    // sklearn's force_finite: constant truth -> 1 for a perfect fit, 0 otherwise
    CHECK(ferrum::r2_score({2, 2}, {2, 2}) == 1.0);
    CHECK(ferrum::r2_score({2, 2}, {2, 3}) == 0.0);
    // zero weights drop samples
    CHECK(ferrum::rmse({1, 2, 3}, {1, 2, 50}, {1, 1, 0}) == 0.0);
}

TEST_CASE("robust scatter is 1.4826 MAD and ignores outliers", "[metrics]") {
    // residuals {1,2,3,4,100}: median 3, |r - 3| = {2,1,0,1,97}, median 1
    CHECK(ferrum::robust_scatter(std::vector<double>{1, 2, 3, 4, 100}) == Approx(1.4826).epsilon(1e-15));
    CHECK(ferrum::robust_scatter({0, 0, 0, 0, 0}, {1, 2, 3, 4, 100}) == Approx(1.4826).epsilon(1e-15));
    CHECK(ferrum::median({4, 1, 3, 2}) == 2.5);
    // for Gaussian residuals it estimates sigma: standard error ~ 1.17 sigma / sqrt(n) = 0.006 at n = 40000
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g(0.0, 0.2);
    std::vector<double> r(40000);
    for (double& v : r) v = g(rng);
    CHECK(ferrum::robust_scatter(r) == Approx(0.2).epsilon(0.04));
}

TEST_CASE("metrics reject empty input, size mismatch and bad weights", "[metrics]") {
    using ferrum::value_error;
    CHECK_THROWS_AS(ferrum::rmse({}, {}), value_error);
    CHECK_THROWS_AS(ferrum::mae({1, 2}, {1}), value_error);
    CHECK_THROWS_AS(ferrum::r2_score({1, 2}, {1, 2}, {1}), value_error);
    CHECK_THROWS_AS(ferrum::r2_score({1, 2}, {1, 2}, {1, -1}), value_error);
    CHECK_THROWS_AS(ferrum::rmse({1, 2}, {1, 2}, {0, 0}), value_error);
    CHECK_THROWS_AS(ferrum::r2_score({1}, {1}), value_error);
    CHECK_THROWS_AS(ferrum::bias({1, NAN}, {1, 2}), value_error);
    CHECK_THROWS_AS(ferrum::robust_scatter(std::vector<double>{}), value_error);
    CHECK_THROWS_AS(ferrum::median({}), value_error);
}

TEST_CASE("binned statistics with given edges", "[metrics][binned]") {
    // edges [-1,0) [0,1) [1,2) [2,3]; x = 3.5 lies outside and is left out; x = 3 is in the closed last bin
    const std::vector<double> x{0.5, 1.5, 1.7, 1.2, 3.0, 3.5}, v{1.0, 2.0, 4.0, 9.0, -7.0, 100.0};
    const auto b = ferrum::binned_statistics(x, v, {-1, 0, 1, 2, 3});
    REQUIRE(b.size() == 4);
    CHECK_FALSE(b[0].has_data());
    CHECK(std::isnan(b[0].mean));
    CHECK(b[1].count == 1);
    CHECK(b[1].mean == 1.0);
    CHECK(b[1].std == 0.0);
    CHECK(b[2].lo == 1.0);
    CHECK(b[2].hi == 2.0);
    CHECK(b[2].count == 3);
    CHECK(b[2].mean == Approx(5.0).epsilon(1e-15));
    CHECK(b[2].median == 4.0);
    CHECK(b[2].std == Approx(std::sqrt(26.0 / 3.0)).epsilon(1e-15));    // population std
    CHECK(b[2].robust_scatter == Approx(1.4826 * 2.0).epsilon(1e-15));  // |v - 4| = {2, 0, 5}
    CHECK(b[3].count == 1);
    CHECK(b[3].median == -7.0);
}

TEST_CASE("quantile bins follow numpy.quantile and merge ties", "[metrics][binned]") {
    // numpy.quantile(1..10, [0, .25, .5, .75, 1]) = [1, 3.25, 5.5, 7.75, 10]
    std::vector<double> x{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    CHECK(ferrum::quantile_edges(x, 4) == std::vector<double>{1, 3.25, 5.5, 7.75, 10});
    const auto b = ferrum::quantile_binned_statistics(x, x, 4);
    REQUIRE(b.size() == 4);
    CHECK(b[0].count == 3);  // 1, 2, 3
    CHECK(b[3].count == 3);  // 8, 9, 10 (last bin closed)
    std::size_t total = 0;
    for (const auto& s : b) total += s.count;
    CHECK(total == x.size());
    // integer epoch counts with heavy ties: repeated edges collapse into one
    const std::vector<double> epochs{20, 20, 20, 20, 20, 20, 21, 30, 40, 41};
    const auto e = ferrum::quantile_edges(epochs, 4);
    CHECK(e.front() == 20.0);
    CHECK(std::adjacent_find(e.begin(), e.end(), [](double a, double c) { return !(c > a); }) == e.end());
    CHECK_THROWS_AS(ferrum::quantile_edges({3, 3, 3}, 2), ferrum::value_error);
    CHECK_THROWS_AS(ferrum::binned_statistics({1, 2}, {1}, {0, 3}), ferrum::value_error);
    CHECK_THROWS_AS(ferrum::binned_statistics({1, 2}, {1, 2}, {3, 0}), ferrum::value_error);
    CHECK_THROWS_AS(ferrum::binned_statistics({}, {}, {0, 1}), ferrum::value_error);
}

TEST_CASE("rrl_score and evaluate_rrlyrae (the accumulators of the streamed evaluate) equal scikit-learn",
          "[metrics]") {
    const auto ref = load_reference("metrics.json");
    const auto yt = vec(ref.at("y_true")), yp = vec(ref.at("y_pred")), w = vec(ref.at("w"));
    std::vector<double> sigma;  // weights 1 / sigma^2
    for (double v : w) sigma.push_back(1.0 / std::sqrt(v));
    const auto m = ferrum::models::rrl_score(yt, yp, sigma);
    CHECK(m.n == yt.size());
    CHECK(m.r2 == Approx(ref.at("r2").get<double>()).epsilon(1e-9));
    CHECK(m.rmse == Approx(ref.at("rmse").get<double>()).epsilon(1e-9));
    CHECK(m.mae == Approx(ref.at("mae").get<double>()).epsilon(1e-9));
    CHECK(m.wr2 == Approx(ref.at("wr2").get<double>()).epsilon(1e-9));
    CHECK(m.wrmse == Approx(ref.at("wrmse").get<double>()).epsilon(1e-9));
    CHECK(m.wmae == Approx(ref.at("wmae").get<double>()).epsilon(1e-9));
    std::vector<ferrum::models::rrl_scored_star> stars;
    for (std::size_t i = 0; i < yt.size(); ++i)
        stars.push_back({"s" + std::to_string(i), ferrum::rr_type::rrab, yt[i], sigma[i], yp[i], 60});
    const auto j = ferrum::models::evaluate_rrlyrae(stars)["all"];
    CHECK(j["r2"].get<double>() == Approx(ref.at("r2").get<double>()).epsilon(1e-9));
    CHECK(j["wrmse"].get<double>() == Approx(ref.at("wrmse").get<double>()).epsilon(1e-9));
    CHECK(j["wmae"].get<double>() == Approx(ref.at("wmae").get<double>()).epsilon(1e-9));
    // the errors of stats/metrics.hpp on the same values
    CHECK_THROWS_WITH(ferrum::models::rrl_score({1, NAN, 2}, {1, 2, 3}), Catch::Contains("non-finite value at index 1"));
    CHECK_THROWS_WITH(ferrum::models::rrl_score({1, 2}, {1, 2}, {0.1, 0.0}), Catch::Contains("label errors must be > 0"));
    CHECK_THROWS_WITH(ferrum::models::rrl_score({1, 2}, {1, 2}, {0.1, 1e-200}), Catch::Contains("weight at index 1"));
    CHECK_THROWS_AS(ferrum::models::rrl_score({1}, {1}), ferrum::value_error);
}

namespace {

std::string read_text(const std::filesystem::path& p) {
    std::ifstream f(p);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// The counts of the density cells of an SVG (each <rect ...><title>COUNT</title></rect>).
std::vector<std::uint64_t> svg_cell_counts(const std::string& svg) {
    static const std::regex cell("<rect [^>]*><title>([0-9]+)</title></rect>");
    std::vector<std::uint64_t> c;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), cell); it != std::sregex_iterator(); ++it)
        c.push_back(std::stoull((*it)[1].str()));
    return c;
}

}  // namespace

TEST_CASE("the XML check of the plot tests refuses what is not well-formed", "[metrics][plots]") {
    using ferrum_test::xml_well_formedness_error;
    CHECK(xml_well_formedness_error("<?xml version=\"1.0\"?>\n<svg a=\"1\"><g><t>x &amp; y</t></g><r/></svg>\n") == "");
    CHECK(xml_well_formedness_error("<svg><g></svg>") != "");
    CHECK(xml_well_formedness_error("<svg><t>a & b</t></svg>") != "");
    CHECK(xml_well_formedness_error("<svg a=\"1\" a=\"2\"/>") != "");
    CHECK(xml_well_formedness_error("<svg a=1/>") != "");
    CHECK(xml_well_formedness_error("<svg/><svg/>") != "");
    CHECK(xml_well_formedness_error("<svg><t>a < b</t></svg>") != "");
}

TEST_CASE("histogram2d counts as numpy.histogram2d", "[metrics][plots]") {
    const auto ref = load_reference("reference/plot_counts.json").at("grid");
    const auto x = vec(ref.at("x")), y = vec(ref.at("y")), r = vec(ref.at("range"));
    const auto bins = ref.at("bins").get<std::vector<std::size_t>>();
    ferrum::models::detail::histogram2d h(r[0], r[1], bins[0], r[2], r[3], bins[1]);
    for (std::size_t i = 0; i < x.size(); ++i) h.add(x[i], y[i]);
    const auto counts = ref.at("counts").get<std::vector<std::vector<std::uint64_t>>>();
    REQUIRE(counts.size() == bins[0]);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < bins[0]; ++i)
        for (std::size_t k = 0; k < bins[1]; ++k) differ += h.at(i, k) != counts[i][k];
    CHECK(differ == 0);
    CHECK(h.outside == ref.at("outside").get<std::uint64_t>());
    CHECK(h.at(0, 0) >= 1);                       // (x0, y0): the first cell
    CHECK(h.at(bins[0] - 1, bins[1] - 1) >= 1);  // (x1, y1): the last cell is closed
    h.add(NAN, 0.0);
    CHECK(h.outside == ref.at("outside").get<std::uint64_t>() + 1);
    CHECK_THROWS_AS(ferrum::models::detail::histogram2d(1, 1, 3, 0, 1, 3), ferrum::value_error);
}

TEST_CASE("the evaluation plots: densities and reliability counts as NumPy and SciPy give them, SVG well-formed",
          "[metrics][plots]") {
    using namespace ferrum::models;
    const auto ref = load_reference("reference/plot_counts.json").at("stars");
    const auto truth = vec(ref.at("truth")), feh = vec(ref.at("feh")), sigma = vec(ref.at("sigma"));
    const auto epochs = ref.at("n_epochs").get<std::vector<std::size_t>>();
    const auto rrab = ref.at("rrab").get<std::vector<int>>();
    std::vector<rrl_scored_star> stars;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        rrl_scored_star x{"s" + std::to_string(i), rrab[i] ? ferrum::rr_type::rrab : ferrum::rr_type::rrc,
                          truth[i], 0.1, feh[i], epochs[i]};
        x.sigma = sigma[i];
        stars.push_back(x);
    }
    const auto dir = std::filesystem::temp_directory_path() / "ferrum_test_plot_counts";
    std::filesystem::remove_all(dir);
    SECTION("more stars than the scatter plots hold: densities") {
        rrl_plot_accumulator plots(100);  // at most 100 points: 3000 stars are drawn as densities
        const auto j = evaluate_rrlyrae_streamed(
            [&](auto&& visit) {
            for (const auto& x : stars) visit(x);
            },
            0, plots);
        CHECK(j.dump() == evaluate_rrlyrae(stars).dump());  // the plots change nothing in the metrics
        REQUIRE_FALSE(plots.scatter());
        const std::pair<const detail::histogram2d*, const char*> grids[] = {
            {&plots.pred_vs_true(), "pred_vs_true"}, {&plots.residual_vs_epochs(), "residual_vs_epochs"}};
        for (const auto& g : grids) {
            INFO(g.second);
            const auto counts = ref.at(g.second).get<std::vector<std::vector<std::uint64_t>>>();
            REQUIRE(counts.size() == g.first->nx);
            REQUIRE(counts[0].size() == g.first->ny);
            std::size_t differ = 0;
            for (std::size_t i = 0; i < g.first->nx; ++i)
                for (std::size_t k = 0; k < g.first->ny; ++k) differ += g.first->at(i, k) != counts[i][k];
            CHECK(differ == 0);
            CHECK(g.first->total() == stars.size());
        }
        const auto nominal = ref.at("nominal").get<std::vector<double>>();
        CHECK(plots.nominal_coverage() == nominal);
        for (const auto& t : {std::make_pair(ferrum::rr_type::rrab, "RRab"), std::make_pair(ferrum::rr_type::rrc, "RRc")}) {
            const auto within = ref.at("within").at(t.second).get<std::vector<double>>();
            const double n = ref.at(std::string("n_") + (t.first == ferrum::rr_type::rrab ? "rrab" : "rrc")).get<double>();
            const auto got = plots.observed_coverage(t.first);
            REQUIRE(got.size() == within.size());
            for (std::size_t k = 0; k < within.size(); ++k) CHECK(got[k] == within[k] / n);
        }
        const auto files = plots.write(dir.string());
        REQUIRE(files.size() == 3);
        for (const auto& f : files) {
            INFO(f);
            const std::string svg = read_text(f);
            CHECK(ferrum_test::xml_well_formedness_error(svg) == "");
            CHECK(svg.size() < 1000000);  // bounded by the grid, not by the stars
        }
        const auto cells = svg_cell_counts(read_text(files[0]));
        std::uint64_t sum = 0, nonzero = 0;
        for (std::uint64_t c : cells) sum += c;
        for (std::size_t i = 0; i < 80; ++i)
            for (std::size_t k = 0; k < 80; ++k) nonzero += plots.pred_vs_true().at(i, k) > 0;
        CHECK(cells.size() == nonzero);
        CHECK(sum == stars.size());
        CHECK(read_text(files[0]).find("RRab (" + std::to_string(ref.at("n_rrab").get<int>()) + ")") != std::string::npos);
    }
    SECTION("a few stars: every star a point, and write_rrlyrae_plots draws the same") {
        stars.resize(700);
        rrl_plot_accumulator plots;
        for (const auto& x : stars) plots.first_pass(x);
        for (const auto& x : stars) plots.second_pass(x);
        CHECK(plots.scatter());
        CHECK(plots.pred_vs_true().empty());
        const auto files = plots.write(dir.string());
        REQUIRE(files.size() == 3);
        const std::string a = read_text(files[0]);
        CHECK(ferrum_test::xml_well_formedness_error(a) == "");
        std::size_t circles = 0;
        for (std::size_t p = a.find("<circle"); p != std::string::npos; p = a.find("<circle", p + 1)) ++circles;
        CHECK(circles == 700 + 2);  // one per star, one per legend line
        CHECK(svg_cell_counts(a).empty());
        const auto again = write_rrlyrae_plots((dir / "again").string(), stars);
        for (std::size_t k = 0; k < files.size(); ++k) CHECK(read_text(again[k]) == read_text(files[k]));
    }
    std::filesystem::remove_all(dir);
}
