// Hyperband against the bracket schedule of Li et al. (2018), Table 1 (R = 81, eta = 3), and the
// successive-halving invariant: each round keeps exactly the best 1/eta of the round before.
#include <catch2/catch.hpp>

#include <ferrum/train/hyperband.hpp>

#include <cmath>
#include <map>
#include <set>
#include <tuple>

using ferrum::train::hyper_config;
using ferrum::train::hyperband;
using ferrum::train::hyperband_options;
using ferrum::train::search_space;

namespace {
search_space toy_space() {
    search_space s;
    s.choice("dropout", {0.1, 0.2, 0.4, 0.6}).log_uniform("l2", 1e-6, 1e-2).uniform("x", -1.0, 1.0);
    return s;
}
double toy_score(const hyper_config& c) { return (c.at("x") - 0.3) * (c.at("x") - 0.3) + c.at("dropout"); }
}  // namespace

TEST_CASE("hyperband follows Li et al. (2018) Table 1 for R = 81, eta = 3", "[train][hyperband]") {
    hyperband_options opt;
    opt.progress = false;
    const auto res = hyperband(
        toy_space(), [](const hyper_config& c, double) { return toy_score(c); }, opt);
    // (bracket, round) -> (number of configurations, resource each)
    std::map<std::pair<int, int>, std::pair<int, double>> seen;
    for (const auto& t : res.trials) {
        auto& e = seen[{t.bracket, t.round}];
        e.first += 1;
        e.second = t.resource;
    }
    const std::map<std::pair<int, int>, std::pair<int, double>> table1 = {
        {{4, 0}, {81, 1}}, {{4, 1}, {27, 3}}, {{4, 2}, {9, 9}},  {{4, 3}, {3, 27}}, {{4, 4}, {1, 81}},
        {{3, 0}, {34, 3}}, {{3, 1}, {11, 9}}, {{3, 2}, {3, 27}}, {{3, 3}, {1, 81}}, {{2, 0}, {15, 9}},
        {{2, 1}, {5, 27}}, {{2, 2}, {1, 81}}, {{1, 0}, {8, 27}}, {{1, 1}, {2, 81}}, {{0, 0}, {5, 81}}};
    REQUIRE(seen.size() == table1.size());
    for (const auto& [key, expected] : table1) {
        INFO("bracket " << key.first << " round " << key.second);
        CHECK(seen.at(key).first == expected.first);
        CHECK(seen.at(key).second == Approx(expected.second));
    }
}

TEST_CASE("successive halving keeps the best configurations of each round", "[train][hyperband]") {
    hyperband_options opt;
    opt.progress = false;
    opt.seed = 7;
    const auto res = hyperband(
        toy_space(), [](const hyper_config& c, double) { return toy_score(c); }, opt);
    // group trials by (bracket, round)
    std::map<std::pair<int, int>, std::vector<std::pair<double, std::size_t>>> rounds;
    for (const auto& t : res.trials) rounds[{t.bracket, t.round}].emplace_back(t.score, t.config_id);
    for (const auto& [key, entries] : rounds) {
        auto next = rounds.find({key.first, key.second + 1});
        if (next == rounds.end()) continue;
        auto sorted = entries;
        std::sort(sorted.begin(), sorted.end());
        std::set<std::size_t> best_ids;
        for (std::size_t k = 0; k < next->second.size(); ++k) best_ids.insert(sorted[k].second);
        for (const auto& e : next->second) CHECK(best_ids.count(e.second) == 1);
    }
    double min_score = 1e300;
    for (const auto& t : res.trials) min_score = std::min(min_score, t.score);
    CHECK(res.best.score == min_score);
    CHECK(res.best.score == Approx(toy_score(res.best.config)));
}

TEST_CASE("hyperband prefers configurations that improve with resource", "[train][hyperband]") {
    // score = quality + 1/resource: a run with more epochs of the same configuration scores better,
    // so the best trial must come from a full-resource run.
    hyperband_options opt;
    opt.progress = false;
    opt.max_resource = 27;
    const auto res = hyperband(
        toy_space(), [](const hyper_config& c, double r) { return toy_score(c) + 1.0 / r; }, opt);
    CHECK(res.best.resource == Approx(27));
    CHECK(res.table().find("rank") == 0);
    CHECK(res.to_json()["trials"].size() == res.trials.size());
}

TEST_CASE("hyperband is reproducible from its seed", "[train][hyperband]") {
    hyperband_options opt;
    opt.progress = false;
    opt.seed = 42;
    auto f = [](const hyper_config& c, double) { return toy_score(c); };
    const auto a = hyperband(toy_space(), f, opt);
    const auto b = hyperband(toy_space(), f, opt);
    REQUIRE(a.trials.size() == b.trials.size());
    for (std::size_t i = 0; i < a.trials.size(); ++i) CHECK(a.trials[i].config == b.trials[i].config);
    opt.seed = 43;
    const auto c = hyperband(toy_space(), f, opt);
    CHECK(c.trials.front().config != a.trials.front().config);
}

TEST_CASE("search spaces draw only declared values", "[train][hyperband]") {
    const auto s = search_space::monti2025();
    std::mt19937_64 rng(1);
    double mean_log_l1 = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
        const auto c = s.sample(rng);
        CHECK((c.at("dropout") == 0.1 || c.at("dropout") == 0.2 || c.at("dropout") == 0.4 || c.at("dropout") == 0.6));
        CHECK((c.at("learning_rate") == 0.001 || c.at("learning_rate") == 0.01 || c.at("learning_rate") == 0.1));
        const double b = c.at("batch_size");
        CHECK((b == 32 || b == 64 || b == 128 || b == 256 || b == 512));
        REQUIRE(c.at("l1") >= 1e-6);
        REQUIRE(c.at("l1") <= 1e-2);
        mean_log_l1 += std::log10(c.at("l1")) / n;
    }
    // log-uniform on [-6, -2]: mean -4, sd of the mean 1.155/sqrt(4000) = 0.018
    CHECK(mean_log_l1 == Approx(-4.0).margin(0.08));
}

TEST_CASE("invalid hyperband settings stop before any evaluation", "[train][hyperband]") {
    int calls = 0;
    auto f = [&](const hyper_config&, double) { return double(++calls); };
    hyperband_options opt;
    opt.progress = false;
    opt.eta = 1;
    CHECK_THROWS_AS(hyperband(toy_space(), f, opt), ferrum::value_error);
    opt.eta = 3;
    opt.max_resource = 0;
    CHECK_THROWS_AS(hyperband(toy_space(), f, opt), ferrum::value_error);
    CHECK_THROWS_AS(hyperband(search_space{}, f, hyperband_options{}), ferrum::value_error);
    CHECK(calls == 0);
    CHECK_THROWS_AS(search_space{}.choice("a", {}), ferrum::value_error);
    CHECK_THROWS_AS(search_space{}.log_uniform("a", 0.0, 1.0), ferrum::value_error);
    CHECK_THROWS_AS(search_space{}.choice("a", {1}).choice("a", {2}), ferrum::value_error);
    // a run where every configuration fails is an error, not a silent "best"
    opt.max_resource = 9;
    CHECK_THROWS_AS(hyperband(
                        toy_space(), [](const hyper_config&, double) { return std::nan(""); }, opt),
                    ferrum::value_error);
}
