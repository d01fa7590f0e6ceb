// Hyperband search of the RR Lyrae network (tune_rrlyrae): the number of trials and their epochs against Li et
// al. (2018)'s Algorithm 1 worked out by hand, the best trial is the minimum and maps onto the returned options,
// its score recomputed independently (retrain + weighted RMSE by hand), the split, seeds, refused inputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include <ferrum/models.hpp>
#include <ferrum/sim.hpp>

using namespace ferrum;
using namespace ferrum::models;

namespace {

struct prepared {
    std::vector<rrl_star_input> stars;
    std::vector<double> feh, sigma;
    std::vector<std::size_t> index;
};

// A small simulated RRab set (as in test_rrlyrae_model.cpp), prepared once for all test cases.
const prepared& data() {
    static const prepared p = [] {
        sim::simulation_options o;
        o.seed = 11;
        o.min_epochs = 50;
        const sim::rrlyrae_simulator s(o);
        std::vector<light_curve> curves;
        std::vector<rrl_ephemeris> eph;
        prepared out;
        for (std::size_t i = 0; i < 110; ++i) {
            const auto star = s.star(i, rr_type::rrab);
            curves.push_back(star.light_curve());
            eph.push_back({rr_type::rrab, star.catalogue.period, star.catalogue.epoch_g, 0.0, {}});
            out.feh.push_back(star.feh);
            out.sigma.push_back(star.feh_error);
        }
        out.stars = prepare_rrlyrae_inputs(curves, eph, {}, 2, false);
        for (std::size_t i = 0; i < out.stars.size(); ++i)
            if (out.stars[i].ok()) out.index.push_back(i);
        return out;
    }();
    return p;
}

// A small network so that a whole search takes seconds; the search space is the paper's.
rrl_options small_base() {
    rrl_options b{rrl_paper_model_options(), rrl_paper_training_options()};
    b.model.gru_sizes = {4};
    b.model.dropout = {0.2};
    b.training.patience = 50;
    b.training.threads = 1;
    b.training.progress = false;
    return b;
}

rrl_tune_options tune_opts(double R, std::uint64_t seed) {
    rrl_tune_options t;
    t.max_epochs = R;
    t.eta = 3;
    t.seed = seed;
    t.progress = false;
    return t;
}

// Li et al. (2018) Algorithm 1 for integer R = eta^k, in integers: s_max = k, B = (s_max + 1) R,
// bracket s draws n = ceil(B/R * eta^s / (s+1)) configurations, round i trains floor(n eta^-i) of them for
// R eta^(i-s) epochs. Returns epochs -> number of trials.
std::map<int, int> algorithm1_schedule(int R, int eta) {
    int s_max = 0;
    for (int p = eta; p <= R; p *= eta) ++s_max;
    std::map<int, int> trials;
    for (int s = s_max; s >= 0; --s) {
        int eta_s = 1;
        for (int k = 0; k < s; ++k) eta_s *= eta;
        const int n = ((s_max + 1) * eta_s + s) / (s + 1);  // ceil((s_max+1) eta^s / (s+1))
        int div = 1, epochs = R / eta_s;
        for (int i = 0; i <= s; ++i, div *= eta, epochs *= eta) trials[epochs] += n / div;
    }
    return trials;
}

}  // namespace

TEST_CASE("tune_rrlyrae runs Algorithm 1's schedule and returns the best trial's options", "[rrlyrae][tune]") {
    const auto& d = data();
    REQUIRE(d.index.size() >= 100);
    const auto r = tune_rrlyrae(d.stars, d.feh, d.sigma, d.index, small_base(), train::search_space::monti2025(),
                                tune_opts(9, 5));

    // R = 9, eta = 3: brackets of 9, 5 and 3 configurations; 9+3+1 + 5+1 + 3 = 22 trials
    const auto expected = algorithm1_schedule(9, 3);
    CHECK(expected == (std::map<int, int>{{1, 9}, {3, 8}, {9, 5}}));
    std::map<int, int> ran;
    for (const auto& t : r.search.trials) ++ran[int(std::lround(t.resource))];
    CHECK(ran == expected);
    CHECK(r.search.trials.size() == 22);

    // the best is the minimum over the trials, and it is one of the sampled configurations
    double lowest = INFINITY;
    bool sampled = false;
    for (const auto& t : r.search.trials) {
        lowest = std::min(lowest, t.score);
        sampled = sampled || (t.config == r.search.best.config && t.resource == r.search.best.resource);
    }
    CHECK(r.search.best.score == lowest);
    // the hyper-parameters matter: the trials at one epoch do not all score the same
    std::vector<double> first_round;
    for (const auto& t : r.search.trials)
        if (t.resource == 1) first_round.push_back(t.score);
    CHECK(std::adjacent_find(first_round.begin(), first_round.end(), std::not_equal_to<double>()) != first_round.end());
    CHECK(sampled);
    const auto& c = r.search.best.config;
    REQUIRE(c.size() == 5);

    // the returned options are the base with the best configuration applied
    for (double p : r.best.model.dropout) CHECK(p == c.at("dropout"));
    CHECK(r.best.training.learning_rate == c.at("learning_rate"));
    CHECK(double(r.best.training.batch_size) == c.at("batch_size"));
    CHECK(r.best.training.kernel_l1 == c.at("l1"));
    CHECK(r.best.training.kernel_l2 == c.at("l2"));
    CHECK(r.best.training.max_epochs == int(std::lround(r.search.best.resource)));
    CHECK(r.best.model.gru_sizes == std::vector<std::size_t>{4});
    CHECK(r.best.training.patience == 50);

    // one stratified split: disjoint, together the given stars, one fifth held out
    std::vector<std::size_t> all = r.train_index;
    all.insert(all.end(), r.holdout_index.begin(), r.holdout_index.end());
    std::sort(all.begin(), all.end());
    CHECK(all == d.index);
    CHECK(r.holdout_index.size() >= d.index.size() / 5);
    CHECK(r.holdout_index.size() <= d.index.size() / 5 + 1);

    // the best score, recomputed: train the returned options on the training part, then the 1/sigma^2
    // weighted RMSE of the held-out stars, written out here
    rrlyrae_model m(r.best.model, r.best.training.seed);
    m.fit(d.stars, d.feh, r.train_index, r.best.training);
    std::vector<rrl_star_input> held;
    for (auto i : r.holdout_index) held.push_back(d.stars[i]);
    const auto p = m.predict(held, 0, 1, 1);
    double num = 0, den = 0;
    for (std::size_t k = 0; k < held.size(); ++k) {
        const double w = 1.0 / (d.sigma[r.holdout_index[k]] * d.sigma[r.holdout_index[k]]);
        num += w * (p[k].feh - d.feh[r.holdout_index[k]]) * (p[k].feh - d.feh[r.holdout_index[k]]);
        den += w;
    }
    CHECK(r.search.best.score == Approx(std::sqrt(num / den)).epsilon(1e-9));
}

TEST_CASE("tune_rrlyrae is deterministic for a seed", "[rrlyrae][tune]") {
    const auto& d = data();
    const auto a = tune_rrlyrae(d.stars, d.feh, {}, d.index, small_base(), train::search_space::monti2025(),
                                tune_opts(3, 7));
    const auto b = tune_rrlyrae(d.stars, d.feh, {}, d.index, small_base(), train::search_space::monti2025(),
                                tune_opts(3, 7));
    const auto c = tune_rrlyrae(d.stars, d.feh, {}, d.index, small_base(), train::search_space::monti2025(),
                                tune_opts(3, 8));
    // R = 3, eta = 3: 3 + 1 + 2 trials
    REQUIRE(a.search.trials.size() == 6);
    REQUIRE(b.search.trials.size() == 6);
    for (std::size_t k = 0; k < 6; ++k) {
        CHECK(a.search.trials[k].config == b.search.trials[k].config);
        CHECK(a.search.trials[k].score == b.search.trials[k].score);
    }
    CHECK(a.holdout_index == b.holdout_index);
    CHECK(a.search.trials.front().config != c.search.trials.front().config);
}

TEST_CASE("tune_rrlyrae refuses what it cannot search, before training", "[rrlyrae][tune]") {
    const auto& d = data();
    train::search_space bad;
    bad.choice("dropout", {0.1, 0.2}).uniform("momentum", 0.5, 0.9);
    try {
        (void)tune_rrlyrae(d.stars, d.feh, d.sigma, d.index, small_base(), bad, tune_opts(3, 1));
        FAIL("an unknown dimension was accepted");
    } catch (const value_error& e) {
        CHECK(std::string(e.what()).find("'momentum'") != std::string::npos);
    }
    train::search_space out_of_range;
    out_of_range.uniform("dropout", 1.0, 1.5);
    CHECK_THROWS_WITH(tune_rrlyrae(d.stars, d.feh, d.sigma, d.index, small_base(), out_of_range, tune_opts(3, 1)),
                      Catch::Contains("dropout"));

    auto lin = small_base();
    lin.model.architecture = rrl_architecture::fourier_linear;
    CHECK_THROWS_WITH(
        tune_rrlyrae(d.stars, d.feh, d.sigma, d.index, lin, train::search_space::monti2025(), tune_opts(3, 1)),
        Catch::Contains("fourier_linear"));

    auto few = d.index;
    few.resize(40);
    CHECK_THROWS_AS(
        tune_rrlyrae(d.stars, d.feh, d.sigma, few, small_base(), train::search_space::monti2025(), tune_opts(3, 1)),
        value_error);
    auto nan_label = d.feh;
    nan_label[d.index[3]] = NAN;
    CHECK_THROWS_WITH(tune_rrlyrae(d.stars, nan_label, d.sigma, d.index, small_base(), train::search_space::monti2025(),
                                   tune_opts(3, 1)),
                      Catch::Contains("not finite"));
}

TEST_CASE("tune options are declared once: JSON round trip, strict fields", "[rrlyrae][tune][config]") {
    rrl_tune_options o;
    o.max_epochs = 27;
    o.eta = 2;
    o.holdout_folds = 4;
    const nlohmann::json j = o;
    const auto back = options_from_json<rrl_tune_options>(j, "tune.json");
    CHECK(back.max_epochs == 27);
    CHECK(back.eta == 2);
    CHECK(back.holdout_folds == 4);
    CHECK_THROWS_WITH(options_from_json<rrl_tune_options>(nlohmann::json::parse(R"({"etta": 3})"), "tune.json"),
                      Catch::Contains("tune.json") && Catch::Contains("etta"));
    CHECK_THROWS_WITH(
        options_from_json<rrl_tune_options>(nlohmann::json::parse(R"({"holdout_folds": -1})"), "tune.json"),
        Catch::Contains("holdout_folds"));
    rrl_options r;
    r.model.gru_sizes = {4};
    r.model.dropout = {0.3};
    const nlohmann::json rj = r;
    CHECK(options_from_json<rrl_options>(rj, "r.json").model.dropout == std::vector<double>{0.3});
}
