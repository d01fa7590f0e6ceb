// Repeated stratified K-fold for a continuous target (the [Fe/H] papers' cross-validation): targets are
// sorted, each consecutive block of `stratum_size` (20) sorted samples is a stratum dealt evenly over the K
// folds, so every fold sees the whole target range. Reproducible from an explicit std::mt19937_64.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"

namespace ferrum::train {

/// \brief One split: the `index`-th of K folds in repetition `repeat`; indices ascending.
struct fold {
    std::size_t repeat = 0;
    std::size_t index = 0;
    std::vector<std::size_t> train;
    std::vector<std::size_t> test;
};

namespace detail {

/// Uniform integer in [0, n) by rejection, so the folds for a seed are the same with every standard
/// library (std::uniform_int_distribution and std::shuffle are implementation-defined).
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
    const std::uint64_t reject_below = (0 - n) % n;  // 2^64 mod n
    std::uint64_t x;
    do x = rng();
    while (x < reject_below);
    return x % n;
}

}  // namespace detail

/// \brief A stratified hold-out of the samples `idx` of a continuous target `y` (e.g. the validation stars
/// of early stopping): sorted by y, every k-th sample (k = round(1 / fraction)) is held out, so both parts
/// span the whole range, tails included. `seed` draws which of the k positions is held out; without one it
/// is the middle one (k / 2). Returns (kept, held out), each ascending.
inline std::pair<std::vector<std::size_t>, std::vector<std::size_t>> stratified_holdout(
    std::vector<std::size_t> idx, const std::vector<double>& y, double fraction,
    std::optional<std::uint64_t> seed = std::nullopt) {
    if (!(fraction > 0 && fraction < 0.5)) throw value_error("validation_fraction must be in (0, 0.5)");
    for (auto i : idx)
        if (i >= y.size()) throw value_error("stratified_holdout: index out of range");
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b]; });
    const std::size_t every = std::max<std::size_t>(2, static_cast<std::size_t>(std::lround(1.0 / fraction)));
    std::size_t start = every / 2;
    if (seed) {
        std::mt19937_64 rng(*seed);
        start = static_cast<std::size_t>(detail::uniform_below(rng, every));
    }
    std::vector<std::size_t> kept, held;
    for (std::size_t k = 0; k < idx.size(); ++k) (k % every == start ? held : kept).push_back(idx[k]);
    std::sort(kept.begin(), kept.end());
    std::sort(held.begin(), held.end());
    return {kept, held};
}

/// \brief Repeated stratified K-fold splits of the samples of a continuous target `y`.
///
/// For each repetition the samples are sorted by y (ties by index); each block of `stratum_size`
/// consecutive sorted samples is shuffled and dealt round-robin over the folds, continuing from a random
/// starting fold. Hence every sample is in exactly one test fold per repetition, fold sizes differ by at
/// most 1, and within every stratum the folds' shares differ by at most 1. Returns n_repeats * n_splits
/// folds, repetition-major.
inline std::vector<fold> repeated_stratified_kfold(const std::vector<double>& y, std::size_t n_splits,
                                                   std::size_t n_repeats, std::mt19937_64& rng,
                                                   std::size_t stratum_size = 20) {
    const std::size_t n = y.size();
    if (n == 0) throw value_error("repeated_stratified_kfold: no samples");
    if (n_splits < 2)
        throw value_error("repeated_stratified_kfold: n_splits must be >= 2, got " + std::to_string(n_splits));
    if (n_splits > n)
        throw value_error("repeated_stratified_kfold: n_splits = " + std::to_string(n_splits) +
                          " is more than the number of samples (" + std::to_string(n) + "); some folds would be empty");
    if (n_repeats == 0) throw value_error("repeated_stratified_kfold: n_repeats must be >= 1");
    if (stratum_size == 0) throw value_error("repeated_stratified_kfold: stratum_size must be >= 1");
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(y[i]))
            throw value_error("repeated_stratified_kfold: target at index " + std::to_string(i) + " is not finite");

    std::vector<std::size_t> sorted(n);
    std::iota(sorted.begin(), sorted.end(), std::size_t{0});
    std::stable_sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b]; });

    std::vector<fold> folds;
    folds.reserve(n_repeats * n_splits);
    std::vector<std::size_t> label(n), perm;
    for (std::size_t r = 0; r < n_repeats; ++r) {
        std::size_t next = std::size_t(detail::uniform_below(rng, n_splits));
        for (std::size_t start = 0; start < n; start += stratum_size) {
            const std::size_t end = std::min(n, start + stratum_size);
            perm.assign(sorted.begin() + std::ptrdiff_t(start), sorted.begin() + std::ptrdiff_t(end));
            for (std::size_t i = perm.size(); i > 1; --i)  // Fisher-Yates
                std::swap(perm[i - 1], perm[std::size_t(detail::uniform_below(rng, i))]);
            for (std::size_t idx : perm) {
                label[idx] = next;
                next = (next + 1) % n_splits;
            }
        }
        for (std::size_t k = 0; k < n_splits; ++k) {
            fold f;
            f.repeat = r;
            f.index = k;
            for (std::size_t i = 0; i < n; ++i) (label[i] == k ? f.test : f.train).push_back(i);
            folds.push_back(std::move(f));
        }
    }
    return folds;
}

/// \brief As above, with a generator seeded by `seed`.
inline std::vector<fold> repeated_stratified_kfold(const std::vector<double>& y, std::size_t n_splits,
                                                   std::size_t n_repeats, std::uint64_t seed,
                                                   std::size_t stratum_size = 20) {
    std::mt19937_64 rng(seed);
    return repeated_stratified_kfold(y, n_splits, n_repeats, rng, stratum_size);
}

/// \brief Out-of-fold predictions: calls `fit_predict(const fold&)` for every fold (train on f.train,
/// predict f.test, in that order) and returns, per repetition, one prediction for each of the `n` samples.
/// value_error if the folds do not put every sample in exactly one test fold per repetition, or if a call
/// returns the wrong number of predictions. Reports progress per fold (silence with FERRUM_QUIET=1).
template <class FitPredict>
std::vector<std::vector<double>> out_of_fold_predictions(const std::vector<fold>& folds, std::size_t n,
                                                         FitPredict&& fit_predict,
                                                         bool show_progress = progress_enabled_by_default()) {
    static_assert(std::is_invocable_v<FitPredict&, const fold&>,
                  "out_of_fold_predictions: fit_predict must be callable as fit_predict(const ferrum::train::fold&)");
    static_assert(std::is_convertible_v<std::invoke_result_t<FitPredict&, const fold&>, std::vector<double>>,
                  "out_of_fold_predictions: fit_predict must return the predictions for f.test as std::vector<double>");
    if (folds.empty()) throw value_error("out_of_fold_predictions: no folds");
    std::size_t repeats = 0;
    for (const auto& f : folds) repeats = std::max(repeats, f.repeat + 1);
    std::vector<std::vector<double>> out(repeats, std::vector<double>(n, 0.0));
    std::vector<std::vector<std::size_t>> seen(repeats, std::vector<std::size_t>(n, 0));
    for (const auto& f : folds)
        for (std::size_t i : f.test) {
            if (i >= n)
                throw value_error("out_of_fold_predictions: test index " + std::to_string(i) +
                                  " >= n = " + std::to_string(n));
            ++seen[f.repeat][i];
        }
    for (std::size_t r = 0; r < repeats; ++r)
        for (std::size_t i = 0; i < n; ++i)
            if (seen[r][i] != 1)
                throw value_error("out_of_fold_predictions: sample " + std::to_string(i) + " is in " +
                                  std::to_string(seen[r][i]) + " test folds of repetition " + std::to_string(r) +
                                  " (needs exactly 1)");
    progress bar("fold", folds.size(), "folds", show_progress);
    for (std::size_t k = 0; k < folds.size(); ++k) {
        const auto& f = folds[k];
        const std::vector<double> pred = fit_predict(f);
        if (pred.size() != f.test.size())
            throw value_error("out_of_fold_predictions: fit_predict returned " + std::to_string(pred.size()) +
                              " predictions for " + std::to_string(f.test.size()) + " test samples");
        for (std::size_t t = 0; t < pred.size(); ++t) out[f.repeat][f.test[t]] = pred[t];
        bar.update(k + 1, "repeat " + std::to_string(f.repeat) + " fold " + std::to_string(f.index));
    }
    return out;
}

}  // namespace ferrum::train
