// Feature selection for relations against scikit-learn/SciPy (tests/data/relations_ftest.json, written by
// tools/make_relations_reference.py): f_regression F and p-values, the special functions behind them, and
// SequentialFeatureSelector's forward/backward supports with the same unshuffled K folds.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "ferrum/relations/feature_selection.hpp"
#include "reference.hpp"

using namespace ferrum;

namespace {
feature_table table_of(const nlohmann::json& c) {
    feature_table X;
    const auto names = c.at("names").get<std::vector<std::string>>();
    for (std::size_t j = 0; j < names.size(); ++j) X.add(names[j], ferrum_test::vec(c.at("columns")[j]));
    return X;
}

// sklearn's KFold(n_splits, shuffle=False): contiguous test blocks, the first n % K one longer.
std::vector<train::fold> contiguous_folds(std::size_t n, std::size_t K) {
    std::vector<train::fold> out;
    std::size_t start = 0;
    for (std::size_t k = 0; k < K; ++k) {
        const std::size_t len = n / K + (k < n % K ? 1 : 0);
        train::fold f;
        f.index = k;
        for (std::size_t i = 0; i < n; ++i) (i >= start && i < start + len ? f.test : f.train).push_back(i);
        out.push_back(f);
        start += len;
    }
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}
}  // namespace

TEST_CASE("special functions equal SciPy", "[relations][selection]") {
    const auto ref = ferrum_test::load_reference("relations_ftest.json");
    for (const auto& c : ref.at("betainc")) {
        const double a = c.at("a"), b = c.at("b"), x = c.at("x"), v = c.at("value");
        INFO("betainc(" << a << ", " << b << ", " << x << ")");
        CHECK(detail::incomplete_beta(a, b, x) == Approx(v).epsilon(1e-12).margin(1e-300));
    }
    for (const auto& c : ref.at("f_sf")) {
        const double f = c.at("f"), d1 = c.at("d1"), d2 = c.at("d2"), v = c.at("value");
        INFO("f.sf(" << f << ", " << d1 << ", " << d2 << ")");
        CHECK(detail::f_distribution_sf(f, d1, d2) == Approx(v).epsilon(1e-12).margin(1e-300));
    }
    for (const auto& c : ref.at("norm_ppf")) {
        const double p = c.at("p"), v = c.at("value");
        INFO("norm.ppf(" << p << ")");
        CHECK(detail::normal_quantile(p) == Approx(v).epsilon(1e-13));
    }
    CHECK_THROWS_AS(detail::incomplete_beta(1, 1, 1.5), value_error);
    CHECK_THROWS_AS(detail::normal_quantile(0.0), value_error);
}

TEST_CASE("f_regression equals scikit-learn", "[relations][selection]") {
    const auto ref = ferrum_test::load_reference("relations_ftest.json");
    for (const auto& c : ref.at("f_regression")) {
        const feature_table X = table_of(c);
        const auto y = ferrum_test::vec(c.at("y"));
        const auto F = ferrum_test::vec(c.at("F")), p = ferrum_test::vec(c.at("p"));
        const auto r = f_regression(X, y);
        INFO("n = " << y.size());
        for (std::size_t j = 0; j < F.size(); ++j) {
            CHECK(r.F[j] == Approx(F[j]).epsilon(1e-10));
            CHECK(r.p_value[j] == Approx(p[j]).epsilon(1e-9).margin(1e-300));
        }
        // select-K-best keeps the k largest F, in column order
        std::vector<std::size_t> order(F.size());
        for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return F[a] > F[b]; });
        std::vector<std::string> expect;
        for (std::size_t j = 0; j < 3; ++j) expect.push_back(X.names[order[j]]);
        CHECK(sorted(select_k_best(X, y, 3)) == sorted(expect));
        const auto ranking = rank_by_f_test(X, y);
        CHECK(ranking.names.front() == X.names[order[0]]);
        CHECK(ranking.to_string().find("p-value") != std::string::npos);
    }
}

TEST_CASE("sequential selection equals scikit-learn's SequentialFeatureSelector", "[relations][selection]") {
    const auto ref = ferrum_test::load_reference("relations_ftest.json");
    for (const auto& c : ref.at("sequential")) {
        const feature_table X = table_of(c);
        const auto y = ferrum_test::vec(c.at("y"));
        sequential_selection_options o;
        o.folds = contiguous_folds(y.size(), c.at("n_splits").get<std::size_t>());
        o.show_progress = false;
        for (auto dir : {selection_direction::forward, selection_direction::backward}) {
            o.direction = dir;
            const auto rank = sequential_feature_selection(X, y, o);
            const auto& steps = c.at(dir == selection_direction::forward ? "forward" : "backward");
            INFO(rank.to_string());
            for (const auto& s : steps) {
                const std::size_t k = s.at("k");
                CHECK(sorted(rank.best(k)) == sorted(s.at("support").get<std::vector<std::string>>()));
                // score of the k-set: forward lists it at rank k; backward at rank k for k < p
                CHECK(rank.score[k - 1] == Approx(s.at("cv_r2").get<double>()).epsilon(1e-9));
            }
        }
    }
}

TEST_CASE("feature selection rejects bad input", "[relations][selection]") {
    feature_table X;
    X.add("a", {1, 2, 3, 4}).add("b", {1, 1, 1, 1});
    CHECK_THROWS_AS(f_regression(X, {1, 2, 3}), value_error);
    CHECK_THROWS_AS(f_regression(X, {1, 1, 1, 1}), value_error);
    CHECK_THROWS_AS(select_k_best(X, {1, 2, 3, 5}, 3), value_error);
    const auto r = f_regression(X, {1, 2, 3, 5});
    CHECK(r.F[1] == 0.0);  // a constant feature carries no information
    CHECK(r.p_value[1] == 1.0);
}
