// Repeated stratified K-fold for a continuous target: partition, balance (a derived bound on fold means),
// determinism by seed, out-of-fold collection and argument errors.
#include <catch2/catch.hpp>

#include <ferrum/train/kfold.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace {
std::vector<double> skewed_target(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    std::vector<double> y(n);
    for (std::size_t i = 0; i < n; ++i) y[i] = i % 7 == 0 ? -2.5 + 0.3 * g(rng) : -1.4 + 0.4 * g(rng);
    return y;
}
}  // namespace

TEST_CASE("every sample is in exactly one test fold per repetition", "[kfold]") {
    const auto y = skewed_target(1037, 1);
    const auto folds = ferrum::train::repeated_stratified_kfold(y, 5, 3, std::uint64_t{42});
    REQUIRE(folds.size() == 15);
    for (std::size_t r = 0; r < 3; ++r) {
        std::vector<int> hits(y.size(), 0);
        std::size_t smallest = y.size(), largest = 0;
        for (const auto& f : folds) {
            if (f.repeat != r) continue;
            CHECK(f.train.size() + f.test.size() == y.size());
            CHECK(std::is_sorted(f.test.begin(), f.test.end()));
            std::vector<std::size_t> all = f.train;
            all.insert(all.end(), f.test.begin(), f.test.end());
            std::sort(all.begin(), all.end());
            CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // train and test disjoint
            for (std::size_t i : f.test) ++hits[i];
            smallest = std::min(smallest, f.test.size());
            largest = std::max(largest, f.test.size());
        }
        CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
        CHECK(largest - smallest <= 1);
    }
}

TEST_CASE("each stratum of 20 sorted targets is spread evenly over the folds", "[kfold]") {
    const auto y = skewed_target(1037, 2);  // last stratum is partial (17)
    const std::size_t K = 3;
    const auto folds = ferrum::train::repeated_stratified_kfold(y, K, 2, std::uint64_t{5});
    std::vector<std::size_t> sorted(y.size());
    std::iota(sorted.begin(), sorted.end(), std::size_t{0});
    std::stable_sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b]; });
    std::vector<std::size_t> rank(y.size());
    for (std::size_t r = 0; r < sorted.size(); ++r) rank[sorted[r]] = r;
    for (const auto& f : folds) {
        std::vector<std::size_t> per_stratum((y.size() + 19) / 20, 0);
        for (std::size_t i : f.test) ++per_stratum[rank[i] / 20];
        for (std::size_t s = 0; s < per_stratum.size(); ++s) {
            const std::size_t size = std::min<std::size_t>(20, y.size() - 20 * s);
            CHECK(per_stratum[s] >= size / K);
            CHECK(per_stratum[s] <= (size + K - 1) / K);
        }
    }
}

TEST_CASE("fold target means stay within the derived stratification bound", "[kfold]") {
    // n = 1000, strata of 20, K = 5: each fold takes exactly 4 of every stratum. The fold mean is the
    // average over the m = 50 strata of means inside [lo_j, hi_j], as is the overall mean, so
    // |mean_fold - mean_all| <= (1/m) sum_j (hi_j - lo_j).
    const auto y = skewed_target(1000, 3);
    std::vector<double> s = y;
    std::sort(s.begin(), s.end());
    double bound = 0.0;
    for (std::size_t j = 0; j < 50; ++j) bound += s[20 * j + 19] - s[20 * j];
    bound /= 50.0;
    const double mean_all = std::accumulate(y.begin(), y.end(), 0.0) / double(y.size());
    for (const auto& f : ferrum::train::repeated_stratified_kfold(y, 5, 4, std::uint64_t{9})) {
        REQUIRE(f.test.size() == 200);
        double m = 0.0;
        for (std::size_t i : f.test) m += y[i];
        m /= 200.0;
        CHECK(std::abs(m - mean_all) <= bound);
    }
    CHECK(bound < 0.15 * (s.back() - s.front()));  // the bound is informative, not vacuous
}

TEST_CASE("folds are reproducible from the seed and differ between seeds and repetitions", "[kfold]") {
    const auto y = skewed_target(300, 4);
    const auto a = ferrum::train::repeated_stratified_kfold(y, 5, 2, std::uint64_t{123});
    const auto b = ferrum::train::repeated_stratified_kfold(y, 5, 2, std::uint64_t{123});
    const auto c = ferrum::train::repeated_stratified_kfold(y, 5, 2, std::uint64_t{124});
    std::mt19937_64 rng(123);
    const auto d = ferrum::train::repeated_stratified_kfold(y, 5, 2, rng);
    for (std::size_t k = 0; k < a.size(); ++k) {
        CHECK(a[k].test == b[k].test);
        CHECK(a[k].test == d[k].test);
    }
    bool differs_seed = false, differs_repeat = false;
    for (std::size_t k = 0; k < a.size(); ++k) differs_seed |= a[k].test != c[k].test;
    for (std::size_t k = 0; k < 5; ++k) differs_repeat |= a[k].test != a[k + 5].test;
    CHECK(differs_seed);
    CHECK(differs_repeat);
}

TEST_CASE("out-of-fold predictions cover every sample once per repetition", "[kfold]") {
    const auto y = skewed_target(200, 5);
    const auto folds = ferrum::train::repeated_stratified_kfold(y, 4, 2, std::uint64_t{7});
    // a 'model' that predicts the training mean: out-of-fold values must come from the right fold
    const auto oof = ferrum::train::out_of_fold_predictions(
        folds, y.size(),
        [&](const ferrum::train::fold& f) {
        double m = 0.0;
        for (std::size_t i : f.train) m += y[i];
        return std::vector<double>(f.test.size(), m / double(f.train.size()) + 1000.0 * double(f.index));
        },
        false);
    REQUIRE(oof.size() == 2);
    for (const auto& f : folds)
        for (std::size_t i : f.test) CHECK(std::floor((oof[f.repeat][i] + 500.0) / 1000.0) == double(f.index));

    auto broken = folds;
    broken[0].test.push_back(broken[1].test.front());  // sample in two test folds
    CHECK_THROWS_AS(
        ferrum::train::out_of_fold_predictions(
            broken, y.size(), [](const ferrum::train::fold& f) { return std::vector<double>(f.test.size()); }, false),
        ferrum::value_error);
    CHECK_THROWS_AS(ferrum::train::out_of_fold_predictions(
                        folds, y.size(), [](const ferrum::train::fold&) { return std::vector<double>(1); }, false),
                    ferrum::value_error);
}

TEST_CASE("k-fold rejects impossible requests with a clear message", "[kfold]") {
    using ferrum::value_error;
    CHECK_THROWS_AS(ferrum::train::repeated_stratified_kfold({}, 5, 1, std::uint64_t{1}), value_error);
    CHECK_THROWS_AS(ferrum::train::repeated_stratified_kfold({1, 2, 3}, 1, 1, std::uint64_t{1}), value_error);
    CHECK_THROWS_WITH(ferrum::train::repeated_stratified_kfold({1, 2, 3}, 4, 1, std::uint64_t{1}),
                      Catch::Contains("more than the number of samples"));
    CHECK_THROWS_AS(ferrum::train::repeated_stratified_kfold({1, 2, 3}, 2, 0, std::uint64_t{1}), value_error);
    CHECK_THROWS_AS(ferrum::train::repeated_stratified_kfold({1, NAN, 3}, 2, 1, std::uint64_t{1}), value_error);
    CHECK_NOTHROW(ferrum::train::repeated_stratified_kfold({1, 2, 3}, 3, 1, std::uint64_t{1}));
}
