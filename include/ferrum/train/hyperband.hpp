// Hyperband hyper-parameter search (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar 2018, JMLR 18,
// Algorithm 1): brackets of successive halving that trade the number of sampled configurations
// against the resource (epochs) each one gets. The caller's evaluate(config, resource) returns a score
// to minimise (e.g. the CV wRMSE after `resource` epochs), so the search is independent of the model.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iomanip>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/communicator.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"

namespace ferrum::train {

/// A point of a search space: hyper-parameter name → value.
using hyper_config = std::map<std::string, double>;

/// \brief A declared search space: discrete choices, uniform and log-uniform ranges.
class search_space {
public:
    /// One of `values`, each equally likely (Keras Tuner's hp.Choice).
    search_space& choice(std::string name, std::vector<double> values) {
        if (values.empty()) throw value_error("search_space: choice '" + name + "' has no values");
        add(std::move(name), dimension{kind::choice, std::move(values), 0, 0});
        return *this;
    }
    /// Uniform in [low, high].
    search_space& uniform(std::string name, double low, double high) {
        check_range(name, low, high, false);
        add(std::move(name), dimension{kind::uniform, {}, low, high});
        return *this;
    }
    /// Log-uniform in [low, high] (0 < low <= high), for strengths spanning decades such as L1/L2.
    search_space& log_uniform(std::string name, double low, double high) {
        check_range(name, low, high, true);
        add(std::move(name), dimension{kind::log_uniform, {}, low, high});
        return *this;
    }

    bool empty() const noexcept { return dims_.empty(); }
    std::size_t size() const noexcept { return dims_.size(); }

    /// Draws one configuration; the draw depends only on the generator's state.
    hyper_config sample(std::mt19937_64& rng) const {
        hyper_config c;
        for (const auto& [name, d] : dims_) {
            std::uniform_real_distribution<double> u(0.0, 1.0);
            const double r = u(rng);
            switch (d.k) {
                case kind::choice: {
                    auto i = static_cast<std::size_t>(r * double(d.values.size()));
                    c[name] = d.values[std::min(i, d.values.size() - 1)];
                    break;
                }
                case kind::uniform: c[name] = d.low + r * (d.high - d.low); break;
                case kind::log_uniform:
                    c[name] = std::exp(std::log(d.low) + r * (std::log(d.high) - std::log(d.low)));
                    break;
            }
        }
        return c;
    }

    /// The search space of Monti et al. (2025): dropout {0.1, 0.2, 0.4, 0.6}, learning rate
    /// {0.001, 0.01, 0.1}, batch {32, 64, 128, 256, 512}, and L1/L2 strengths log-uniform in [1e-6, 1e-2].
    static search_space monti2025() {
        search_space s;
        s.choice("dropout", {0.1, 0.2, 0.4, 0.6})
            .choice("learning_rate", {0.001, 0.01, 0.1})
            .choice("batch_size", {32, 64, 128, 256, 512})
            .log_uniform("l1", 1e-6, 1e-2)
            .log_uniform("l2", 1e-6, 1e-2);
        return s;
    }

private:
    enum class kind {
        choice,
        uniform,
        log_uniform
    };
    struct dimension {
        kind k;
        std::vector<double> values;
        double low, high;
    };

    static void check_range(const std::string& name, double low, double high, bool log) {
        if (!(std::isfinite(low) && std::isfinite(high) && low <= high) || (log && !(low > 0)))
            throw value_error("search_space: range of '" + name + "' must be finite with low <= high" +
                              std::string(log ? " and low > 0" : ""));
    }
    void add(std::string name, dimension d) {
        if (name.empty()) throw value_error("search_space: a dimension needs a name");
        if (!dims_.emplace(name, std::move(d)).second)
            throw value_error("search_space: dimension '" + name + "' declared twice");
    }

    std::map<std::string, dimension> dims_;  // ordered: sampling order is fixed by name
};

/// Settings of a Hyperband run.
struct hyperband_options {
    double max_resource = 81;  ///< R: the most resource (e.g. epochs) one configuration can get
    double eta = 3;            ///< η: the halving rate (keep the best 1/η each round)
    std::uint64_t seed = 0;    ///< configurations are drawn from std::mt19937_64(seed)
    bool progress = progress_enabled_by_default();
    /// The ranks that share the trials (several under MPI): trial k of each round is evaluated by rank
    /// k mod N, the scores gathered in one MPI_Allgatherv, so every rank ends with the one-process result
    /// if `evaluate` itself uses one process and depends only on its arguments.
    communicator comm;
};

/// One evaluation: a configuration trained with `resource` units, and its score.
struct hyperband_trial {
    std::size_t config_id = 0;  ///< the same id for every round of one configuration
    int bracket = 0;            ///< s in Algorithm 1 (s_max … 0)
    int round = 0;              ///< i in Algorithm 1
    double resource = 0;
    double score = 0;
    hyper_config config;
};

/// The outcome: every trial in the order run, and the best (lowest-score) one.
struct hyperband_result {
    std::vector<hyperband_trial> trials;
    hyperband_trial best;

    /// The trials sorted by score, as a table a person can read.
    template <class Dummy = void>  // a template: compiled only where it is used
    std::string table(std::size_t max_rows = 20) const {
        std::vector<const hyperband_trial*> order;
        for (const auto& t : trials) order.push_back(&t);
        std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->score < b->score; });
        std::ostringstream os;
        os << std::left << std::setw(6) << "rank" << std::setw(8) << "config" << std::setw(8) << "bracket"
           << std::setw(10) << "resource" << std::setw(14) << "score"
           << "hyper-parameters\n";
        for (std::size_t i = 0; i < order.size() && i < max_rows; ++i) {
            const auto& t = *order[i];
            std::ostringstream hp;
            for (const auto& [k, v] : t.config) hp << k << '=' << std::setprecision(4) << v << ' ';
            os << std::setw(6) << i + 1 << std::setw(8) << t.config_id << std::setw(8) << t.bracket << std::setw(10)
               << t.resource << std::setw(14) << std::setprecision(6) << t.score << hp.str() << '\n';
        }
        return os.str();
    }

    nlohmann::json to_json() const {
        auto trial_json = [](const hyperband_trial& t) {
            return nlohmann::json{{"config_id", t.config_id}, {"bracket", t.bracket}, {"round", t.round},
                                  {"resource", t.resource},   {"score", t.score},     {"config", t.config}};
        };
        nlohmann::json j;
        j["best"] = trial_json(best);
        for (const auto& t : trials) j["trials"].push_back(trial_json(t));
        return j;
    }
};

namespace detail {

/// score(k) for k < n, item k computed by rank k mod N and the results gathered on every rank in index
/// order. A failure on any rank is an error on every rank (no rank waits forever for another's scores).
template <class Score>
std::vector<double> scores_across_ranks(const communicator& comm, std::size_t n, Score&& score) {
    const auto ranks = std::size_t(comm.size()), me = std::size_t(comm.rank());
    std::vector<double> mine;
    std::string error;
    try {
        for (std::size_t k = me; k < n; k += ranks) mine.push_back(score(k));
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (const int failed = comm.count(!error.empty()); failed > 0)
        throw value_error(error.empty() ? "hyperband: " + std::to_string(failed) + " of " + std::to_string(ranks) +
                                              " ranks failed evaluating their trials"
                                        : error);
    std::vector<std::size_t> counts(ranks, 0);
    for (std::size_t k = 0; k < n; ++k) ++counts[k % ranks];
    const auto all = comm.all_gather(mine, counts);  // rank 0's items, then rank 1's, ...
    std::vector<std::size_t> at(ranks, 0);
    for (std::size_t q = 1; q < ranks; ++q) at[q] = at[q - 1] + counts[q - 1];
    std::vector<double> out(n);
    for (std::size_t k = 0; k < n; ++k) out[k] = all[at[k % ranks]++];
    return out;
}

}  // namespace detail

/// \brief Runs Hyperband (Li et al. 2018, Algorithm 1) and returns every trial and the best one.
/// \tparam Evaluate callable `double(const hyper_config&, double resource)` returning a score to
/// minimise (return +inf for a configuration that failed; it is then ranked last, never chosen).
/// With R = 81, η = 3 the brackets are s = 4 … 0 with n = 81, 34, 15, 8, 5 configurations.
template <class Evaluate>
hyperband_result hyperband(const search_space& space, Evaluate&& evaluate, const hyperband_options& opt = {}) {
    if (space.empty()) throw value_error("hyperband: the search space is empty");
    if (!(opt.eta > 1)) throw value_error("hyperband: eta must be > 1 (got " + std::to_string(opt.eta) + ")");
    if (!(opt.max_resource >= 1))
        throw value_error("hyperband: max_resource must be >= 1 (got " + std::to_string(opt.max_resource) + ")");

    // s_max = floor(log_eta R), guarding against log rounding (log_3 81 = 3.9999999).
    int s_max = 0;
    while (std::pow(opt.eta, s_max + 1) <= opt.max_resource * (1 + 1e-12)) ++s_max;
    const double budget = (s_max + 1) * opt.max_resource;

    std::size_t total = 0;  // evaluations, for the progress line
    for (int s = s_max; s >= 0; --s) {
        const auto n = static_cast<std::size_t>(std::ceil(budget / opt.max_resource * std::pow(opt.eta, s) / (s + 1)));
        for (int i = 0; i <= s; ++i)
            total += static_cast<std::size_t>(std::floor(static_cast<double>(n) * std::pow(opt.eta, -i)));
    }
    progress bar("hyperband", total, "evaluations", opt.progress);

    std::mt19937_64 rng(opt.seed);
    hyperband_result result;
    result.best.score = std::numeric_limits<double>::infinity();
    std::size_t next_id = 0, done = 0;
    for (int s = s_max; s >= 0; --s) {
        const auto n = static_cast<std::size_t>(std::ceil(budget / opt.max_resource * std::pow(opt.eta, s) / (s + 1)));
        const double r = opt.max_resource * std::pow(opt.eta, -s);
        std::vector<std::pair<std::size_t, hyper_config>> live;
        for (std::size_t k = 0; k < n; ++k) live.emplace_back(next_id++, space.sample(rng));

        for (int i = 0; i <= s && !live.empty(); ++i) {
            const auto n_i = static_cast<std::size_t>(std::floor(static_cast<double>(n) * std::pow(opt.eta, -i)));
            const double r_i = r * std::pow(opt.eta, i);
            live.resize(std::min(live.size(), n_i));
            std::vector<std::pair<double, std::size_t>> scored;
            const auto record = [&](std::size_t k, double score) {
                if (!(score == score)) score = std::numeric_limits<double>::infinity();  // NaN ranks last
                hyperband_trial t{live[k].first, s, i, r_i, score, live[k].second};
                if (score < result.best.score) result.best = t;
                result.trials.push_back(std::move(t));
                scored.emplace_back(score, k);
            };
            const auto report = [&] {
                std::ostringstream extra;
                extra << "bracket " << s << " round " << i << " resource " << r_i << " best score "
                      << result.best.score;
                bar.update(done, extra.str());
            };
            if (!opt.comm.distributed()) {
                for (std::size_t k = 0; k < live.size(); ++k) {
                    record(k, evaluate(static_cast<const hyper_config&>(live[k].second), r_i));
                    ++done;
                    report();
                }
            } else {
                const auto scores = detail::scores_across_ranks(opt.comm, live.size(), [&](std::size_t k) {
                    return evaluate(static_cast<const hyper_config&>(live[k].second), r_i);
                });
                for (std::size_t k = 0; k < live.size(); ++k) record(k, scores[k]);
                done += live.size();
                report();
            }
            // keep the best floor(n_i / eta); ties keep the earlier-drawn configuration
            std::stable_sort(scored.begin(), scored.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
            const auto keep = static_cast<std::size_t>(std::floor(double(n_i) / opt.eta));
            std::vector<std::pair<std::size_t, hyper_config>> next;
            for (std::size_t k = 0; k < scored.size() && k < keep; ++k) next.push_back(live[scored[k].second]);
            live = std::move(next);
        }
    }
    if (result.trials.empty() || result.best.score == std::numeric_limits<double>::infinity())
        throw value_error("hyperband: every configuration failed (score +inf or NaN)");
    return result;
}

}  // namespace ferrum::train
