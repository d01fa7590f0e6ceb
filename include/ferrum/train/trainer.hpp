// The training loop of the papers (Monti et al. 2025: Adam, batch 256, early stopping; Keras-style
// callbacks): epochs of shuffled mini-batches, validation every epoch, early stopping with patience and
// min_delta restoring the best weights, optional reduce-on-plateau, history as CSV/JSON, progress with
// loss and ETA on stderr, atomic resumable checkpoints, and Ctrl-C that stops cleanly with a checkpoint.
// With a communicator of several ranks, data-parallel (Horovod's scheme, Sergeev & Del Balso 2018): each
// global batch is split across the ranks at the network's chunk boundaries, the chunks' gradients are
// gathered and summed in chunk order on every rank -- the additions one process makes -- so N ranks give
// the weights of one process bit for bit, and every rank holds the same weights and optimiser state.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/communicator.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/core/random.hpp"
#include "ferrum/nn/parameter.hpp"
#include "ferrum/train/kfold.hpp"

namespace ferrum::train {

/// Settings of `fit`. Every field is checked before the first batch (a bad one is a value_error).
struct trainer_options {
    int max_epochs = 100;
    std::size_t batch_size = 256;
    bool shuffle = true;
    std::uint64_t seed = 0;  ///< shuffling order: std::mt19937_64(seed), saved in checkpoints

    bool early_stopping = true;  ///< stop when the validation loss has not improved for `patience` epochs
    int patience = 20;           ///< Keras semantics: stop after `patience` epochs without improvement
    double min_delta = 0.0;      ///< an improvement must exceed this (Keras min_delta)
    bool restore_best_weights = true;

    double reduce_lr_factor = 1.0;  ///< reduce-on-plateau: lr *= factor after `reduce_lr_patience` flat epochs; 1 = off
    int reduce_lr_patience = 10;
    double min_learning_rate = 0.0;

    std::string checkpoint_path;  ///< written atomically every `checkpoint_every` epochs and on Ctrl-C; empty = none
    int checkpoint_every = 1;
    bool resume = false;       ///< continue from `checkpoint_path` if it exists
    std::string history_path;  ///< ".json" or ".csv"; empty = none
    bool progress = progress_enabled_by_default();
    bool handle_sigint = true;  ///< Ctrl-C finishes the current batch, writes the checkpoint and returns
    /// The ranks that train together (set in code, not in a config file). One process by default; with
    /// several, each global batch of `batch_size` is split across them and rank 0 alone writes the
    /// checkpoint and the history.
    communicator comm;

    /// Bounds on the counts a config file gives (from_json calls it, naming the field); fit() checks them
    /// again, with the rest, for options made in code.
    void validate() const {
        option_range("max_epochs", max_epochs, 1, 1e6);
        option_range("batch_size", batch_size, 1, 1 << 20);
        option_range("patience", patience, 0, 1e6);
        option_range("reduce_lr_patience", reduce_lr_patience, 0, 1e6);
    }
};
/// Config files name these fields; unknown ones, negative counts and wrong types are errors naming the field.
FERRUM_OPTIONS(trainer_options, max_epochs, batch_size, shuffle, seed, early_stopping, patience, min_delta,
               restore_best_weights, reduce_lr_factor, reduce_lr_patience, min_learning_rate, checkpoint_path,
               checkpoint_every, resume, history_path, progress, handle_sigint)

/// One epoch of the history.
struct epoch_record {
    int epoch = 0;  ///< 1-based
    double train_loss = 0, val_loss = 0, learning_rate = 0, seconds = 0;
};

/// \brief One rank's share of a global batch in a data-parallel step: the gradient of each of its chunks
/// (chunk after chunk, the network's chunk_gradients() layout), each the gradient of the whole batch's mean
/// data loss restricted to the chunk's samples, and that restricted loss summed over its chunks.
template <class T>
struct gradient_part {
    std::vector<T> chunk_gradients;
    double loss = 0;
};

/// What happened during `fit`.
struct training_history {
    std::vector<epoch_record> epochs;
    int best_epoch = 0;
    double best_val_loss = std::numeric_limits<double>::infinity();
    bool stopped_early = false;
    bool interrupted = false;
    /// Data-parallel runs: seconds in the gradient and loss collectives (moving the data), seconds waiting
    /// for the slowest rank before them (a barrier per batch separates the two), and the batches they
    /// served (not saved in checkpoints: they describe this run's machines).
    double communication_seconds = 0;
    double waiting_seconds = 0;
    std::size_t batches = 0;

    std::string to_csv() const {
        std::ostringstream os;
        os.precision(17);
        os << "epoch,train_loss,val_loss,learning_rate,seconds\n";
        for (const auto& e : epochs)
            os << e.epoch << ',' << e.train_loss << ',' << e.val_loss << ',' << e.learning_rate << ',' << e.seconds
               << '\n';
        return os.str();
    }
    nlohmann::json to_json() const {
        nlohmann::json j{{"best_epoch", best_epoch},
                         {"best_val_loss", best_val_loss},
                         {"stopped_early", stopped_early},
                         {"interrupted", interrupted},
                         {"epochs", nlohmann::json::array()}};
        for (const auto& e : epochs)
            j["epochs"].push_back({{"epoch", e.epoch},
                                   {"train_loss", e.train_loss},
                                   {"val_loss", e.val_loss},
                                   {"learning_rate", e.learning_rate},
                                   {"seconds", e.seconds}});
        return j;
    }
    static training_history from_json(const nlohmann::json& j) {
        training_history h;
        h.best_epoch = j.at("best_epoch").get<int>();
        h.best_val_loss = j.at("best_val_loss").is_null() ? std::numeric_limits<double>::infinity()
                                                          : j.at("best_val_loss").get<double>();
        h.stopped_early = j.at("stopped_early").get<bool>();
        for (const auto& e : j.at("epochs"))
            h.epochs.push_back({e.at("epoch").get<int>(), e.at("train_loss").get<double>(),
                                e.at("val_loss").get<double>(), e.at("learning_rate").get<double>(),
                                e.at("seconds").get<double>()});
        return h;
    }
};

namespace detail {

inline std::atomic<bool>& sigint_flag() noexcept {
    static std::atomic<bool> flag{false};
    return flag;
}
extern "C" inline void ferrum_on_sigint(int) { sigint_flag().store(true); }

/// Installs the Ctrl-C handler for the lifetime of one `fit` and puts the previous one back.
class sigint_guard {
public:
    explicit sigint_guard(bool active) : active_(active) {
        sigint_flag().store(false);
        if (active_) previous_ = std::signal(SIGINT, ferrum_on_sigint);
    }
    ~sigint_guard() {
        if (active_) std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
    }
    sigint_guard(const sigint_guard&) = delete;
    sigint_guard& operator=(const sigint_guard&) = delete;
    bool raised() const noexcept { return sigint_flag().load(); }

private:
    bool active_;
    void (*previous_)(int) = SIG_DFL;
};

template <class T>
nlohmann::json parameters_to_json(const nn::parameter_list<T>& params) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& p : params) j[p.name] = std::vector<T>(p.value, p.value + p.size());
    return j;
}

template <class T>
void parameters_from_json(nn::parameter_list<T>& params, const nlohmann::json& j, const std::string& where) {
    for (auto& p : params) {
        if (!j.contains(p.name)) throw input_error(where, 0, p.name, "parameter missing from checkpoint");
        const auto v = j.at(p.name).template get<std::vector<T>>();
        if (v.size() != p.size())
            throw input_error(
                where, 0, p.name,
                "has " + std::to_string(v.size()) + " values, the model expects " + std::to_string(p.size()));
        std::copy(v.begin(), v.end(), p.value);
    }
    if (j.size() != params.size())
        throw input_error(where, 0, "params", "checkpoint holds parameters this model does not have");
}

template <class T>
std::vector<std::vector<T>> snapshot(const nn::parameter_list<T>& params) {
    std::vector<std::vector<T>> s;
    for (const auto& p : params) s.emplace_back(p.value, p.value + p.size());
    return s;
}
template <class T>
void restore(nn::parameter_list<T>& params, const std::vector<std::vector<T>>& s) {
    for (std::size_t i = 0; i < params.size(); ++i) std::copy(s[i].begin(), s[i].end(), params[i].value);
}

template <class Model, class = void>
struct has_state : std::false_type {};
template <class Model>
struct has_state<Model, std::void_t<decltype(std::declval<Model&>().state_json()),
                                    decltype(std::declval<Model&>().load_state_json(nlohmann::json{}))>>
    : std::true_type {};

/// \brief The share of `n` samples (in chunks of `chunk`) rank `rank` of `size` takes: whole chunks, as
/// even as chunks allow, in rank order. Empty when there are fewer chunks than ranks.
inline std::pair<std::size_t, std::size_t> rank_share(std::size_t n, std::size_t chunk, int rank, int size) noexcept {
    const std::size_t chunks = (n + chunk - 1) / chunk;
    const std::size_t c0 = chunks * std::size_t(rank) / std::size_t(size);
    const std::size_t c1 = chunks * std::size_t(rank + 1) / std::size_t(size);
    return {std::min(n, c0 * chunk), std::min(n, c1 * chunk)};
}
/// How many values each rank contributes when it sends `per_chunk` values for each chunk (or, with
/// per_chunk = 0, one value per sample) of its share of `n` samples.
inline std::vector<std::size_t> share_counts(std::size_t n, std::size_t chunk, int size, std::size_t per_chunk) {
    std::vector<std::size_t> counts;
    for (int r = 0; r < size; ++r) {
        const auto [lo, hi] = rank_share(n, chunk, r, size);
        counts.push_back(per_chunk ? (hi - lo + chunk - 1) / chunk * per_chunk : hi - lo);
    }
    return counts;
}

/// A fingerprint of what a data-parallel run must agree on before its first batch: the weights, the
/// samples and the settings that order the batches.
template <class T>
std::uint64_t start_fingerprint(const nn::parameter_list<T>& params, const std::vector<std::size_t>& train_idx,
                                const std::vector<std::size_t>& val_idx, const trainer_options& opt) {
    std::uint64_t h = 0x9E3779B97F4A7C15ULL;
    const auto mix = [&h](std::uint64_t v) { h = ferrum::splitmix64(h ^ v); };
    for (const auto& p : params)
        for (std::size_t i = 0; i < p.size(); ++i) {
            std::uint64_t bits = 0;
            std::memcpy(&bits, p.value + i, sizeof(T));
            mix(bits);
        }
    for (auto i : train_idx) mix(i);
    mix(~std::uint64_t(0));
    for (auto i : val_idx) mix(i);
    for (std::uint64_t v : {std::uint64_t(opt.batch_size), std::uint64_t(opt.max_epochs), opt.seed,
                            std::uint64_t(opt.shuffle), std::uint64_t(opt.resume)})
        mix(v);
    return h;
}

/// Whether a model can train across ranks (the data-parallel members of fit's Model concept).
template <class Model, class T, class = void>
struct has_parts : std::false_type {};
template <class Model, class T>
struct has_parts<
    Model, T,
    std::void_t<decltype(std::declval<Model&>().chunk_size()), decltype(std::declval<Model&>().gradient_size()),
                decltype(std::declval<Model&>().train_part(std::declval<const std::vector<std::size_t>&>(),
                                                           std::size_t(0), std::size_t(0))),
                decltype(std::declval<Model&>().apply_gradients(std::declval<const std::vector<T>&>())),
                decltype(std::declval<Model&>().validation_terms(std::declval<const std::vector<std::size_t>&>()))>>
    : std::true_type {};

/// The trainer's progress fields for one epoch. The two losses are not the same quantity, so each says what
/// it is: the training loss is the mean of the batches' losses during the epoch, with the fit weights, the
/// L1/L2 penalties and dropout (what train_step returns); the validation loss is the model's evaluation
/// loss (evaluation weights, no penalties, no dropout), the one early stopping compares.
/// Without a validation set, the "validation" loss of the history is the training loss, and says so.
inline std::string epoch_progress_text(const epoch_record& rec, const training_history& hist, bool validated) {
    std::ostringstream s;
    s.precision(5);
    s << "train loss " << rec.train_loss << " (fit weights + penalties)";
    if (validated)
        s << "  val loss " << rec.val_loss << " (evaluation, no penalties)  best val loss " << hist.best_val_loss
          << " at epoch " << hist.best_epoch;
    else s << "  (no validation set)  best train loss " << hist.best_val_loss << " at epoch " << hist.best_epoch;
    return s.str();
}

}  // namespace detail

/// \brief Trains `model` with `optimizer` on the samples `train_idx`, validating on `val_idx`.
///
/// \tparam Model provides `parameters()` → nn::parameter_list<T>; `train_step(const std::vector<size_t>& batch)`
///   → the mean training loss of the batch (fit weights and penalties included) after writing its gradients
///   into the parameters' grad buffers; `validation_loss(const std::vector<size_t>& idx)` → the evaluation
///   loss (evaluation weights, no dropout). Optionally `state_json()` / `load_state_json(j)` for state
///   beyond the parameters (e.g. a dropout generator), saved in checkpoints.
/// \tparam Optimizer provides `step(parameter_list<T>&)`, `lr()`, `set_lr(double)`,
///   `state_dict()` and `load_state_dict(j)` (PyTorch names, as ferrum::nn::adam).
/// Data-parallel runs (`opt.comm` with several ranks; every rank calls fit with the same model, samples and
/// options) also need `chunk_size()` (the samples per gradient chunk), `gradient_size()` (values per chunk),
/// `train_part(batch, lo, hi)` → gradient_part<T> for samples [lo, hi) of `batch` (lo a multiple of
/// chunk_size(); an empty share still advances the dropout draws), `apply_gradients(chunks)` (sets the
/// gradients to the sum of every chunk in chunk order, adds penalties and clipping; returns the penalty)
/// and `validation_terms(idx)` → one double per sample whose in-order sum over idx.size() is
/// validation_loss(idx).
/// The model ends with the best weights (if restore_best_weights) and the history says what happened.
template <class Model, class Optimizer>
training_history fit(Model& model, Optimizer& optimizer, const std::vector<std::size_t>& train_idx,
                     const std::vector<std::size_t>& val_idx, const trainer_options& opt = {}) {
    // --- settings are checked before any work -------------------------------------------------
    if (opt.max_epochs < 1)
        throw value_error("fit: max_epochs must be >= 1 (got " + std::to_string(opt.max_epochs) + ")");
    if (opt.batch_size == 0) throw value_error("fit: batch_size must be >= 1 (got 0)");
    if (opt.patience < 0) throw value_error("fit: patience must be >= 0 (got " + std::to_string(opt.patience) + ")");
    if (!(opt.min_delta >= 0)) throw value_error("fit: min_delta must be >= 0");
    if (!(opt.reduce_lr_factor > 0 && opt.reduce_lr_factor <= 1))
        throw value_error("fit: reduce_lr_factor must be in (0, 1] (1 turns it off)");
    if (opt.reduce_lr_patience < 0) throw value_error("fit: reduce_lr_patience must be >= 0");
    if (opt.checkpoint_every < 1) throw value_error("fit: checkpoint_every must be >= 1");
    if (opt.resume && opt.checkpoint_path.empty()) throw value_error("fit: resume needs a checkpoint_path");
    if (train_idx.empty()) throw value_error("fit: the training set is empty (empty fold?)");
    if (val_idx.empty() && (opt.early_stopping || opt.reduce_lr_factor < 1))
        throw value_error("fit: early stopping and reduce-on-plateau need a non-empty validation set");

    auto params = model.parameters();
    using T = std::remove_pointer_t<decltype(params.front().value)>;
    const communicator& comm = opt.comm;
    const bool distributed = comm.distributed();
    const bool writer = comm.rank() == 0;  // of checkpoints, history and progress

    training_history hist;
    std::mt19937_64 rng(opt.seed);
    std::vector<std::size_t> order = train_idx;
    auto best = detail::snapshot<T>(params);
    int wait = 0, lr_wait = 0, first_epoch = 1;
    double lr_best = std::numeric_limits<double>::infinity();

    auto checkpoint_json = [&](int epoch) {
        std::ostringstream rs;
        rs << rng;
        nlohmann::json j{{"format", "ferrum-checkpoint"},
                         {"version", 1},
                         {"epoch", epoch},
                         {"params", detail::parameters_to_json<T>(params)},
                         {"optimizer", optimizer.state_dict()},
                         {"rng", rs.str()},
                         {"history", hist.to_json()},
                         {"wait", wait},
                         {"lr_wait", lr_wait},
                         {"lr_best", lr_best},
                         {"order", order}};
        nlohmann::json b = nlohmann::json::object();
        for (std::size_t i = 0; i < params.size(); ++i) b[params[i].name] = best[i];
        j["best_params"] = std::move(b);
        if constexpr (detail::has_state<Model>::value) j["model_state"] = model.state_json();
        return j;
    };

    if constexpr (!detail::has_parts<Model, T>::value)
        if (distributed)
            throw value_error(
                "fit: this model cannot train across ranks (it has no chunk_size, gradient_size, "
                "train_part, apply_gradients and validation_terms)");
    if (distributed) {
        // every rank must start from the same weights, samples and settings, or the ranks would train
        // different models and exchange meaningless gradients: refuse before the first batch
        const auto all = comm.all_gather(
            std::vector<std::uint64_t>{detail::start_fingerprint<T>(params, train_idx, val_idx, opt)},
            std::vector<std::size_t>(std::size_t(comm.size()), 1));
        for (std::size_t r = 1; r < all.size(); ++r)
            if (all[r] != all[0])
                throw value_error("fit: rank " + std::to_string(r) + " of " + std::to_string(comm.size()) +
                                  " starts from other weights, samples or settings than rank 0 (every rank must "
                                  "read the same inputs with the same seed and options)");
    }

    if (opt.resume && std::filesystem::exists(opt.checkpoint_path)) {
        const nlohmann::json j = read_json_file(opt.checkpoint_path, "checkpoint");
        if (j.value("format", "") != "ferrum-checkpoint")
            throw input_error(opt.checkpoint_path, 0, "format", "not a ferrum checkpoint");
        detail::parameters_from_json<T>(params, j.at("params"), opt.checkpoint_path);
        auto now = detail::snapshot<T>(params);
        detail::parameters_from_json<T>(params, j.at("best_params"), opt.checkpoint_path);
        best = detail::snapshot<T>(params);
        detail::restore<T>(params, now);
        optimizer.load_state_dict(j.at("optimizer"));
        std::istringstream rs(j.at("rng").get<std::string>());
        rs >> rng;
        hist = training_history::from_json(j.at("history"));
        wait = j.at("wait").get<int>();
        lr_wait = j.at("lr_wait").get<int>();
        lr_best = j.at("lr_best").is_null() ? std::numeric_limits<double>::infinity() : j.at("lr_best").get<double>();
        order = j.at("order").get<std::vector<std::size_t>>();
        if constexpr (detail::has_state<Model>::value) model.load_state_json(j.at("model_state"));
        first_epoch = j.at("epoch").get<int>() + 1;
    }

    detail::sigint_guard sigint(opt.handle_sigint);
    const std::size_t batches = (order.size() + opt.batch_size - 1) / opt.batch_size;
    progress bar("epoch", static_cast<std::size_t>(opt.max_epochs), "epochs", opt.progress && writer);
    nlohmann::json last_checkpoint = checkpoint_json(first_epoch - 1);
    std::vector<std::size_t> batch;
    batch.reserve(opt.batch_size);
    const double comm_before = comm.seconds();

    // One step of a data-parallel run: this rank's chunks of the batch, every rank's chunk gradients
    // gathered (in rank order = chunk order) and summed in chunk order; the losses and Ctrl-C too.
    bool any_interrupt = false;
    const auto distributed_step = [&]() -> double {
        if constexpr (detail::has_parts<Model, T>::value) {
            const std::size_t chunk = model.chunk_size(), n = batch.size();
            const auto [lo, hi] = detail::rank_share(n, chunk, comm.rank(), comm.size());
            const gradient_part<T> part = model.train_part(batch, lo, hi);
            const double t0 = comm.seconds();
            comm.count(false);  // the barrier: what follows is the transfer, not the wait for a slow rank
            hist.waiting_seconds += comm.seconds() - t0;
            const auto all = comm.all_gather(part.chunk_gradients,
                                             detail::share_counts(n, chunk, comm.size(), model.gradient_size()));
            const auto flags = comm.all_gather(std::vector<double>{part.loss, sigint.raised() ? 1.0 : 0.0},
                                               std::vector<std::size_t>(std::size_t(comm.size()), 2));
            double loss = 0;
            for (std::size_t r = 0; r < flags.size(); r += 2) loss += flags[r], any_interrupt |= flags[r + 1] != 0;
            return loss + static_cast<double>(model.apply_gradients(all));
        } else {
            return 0.0;  // unreachable: refused before the first batch
        }
    };
    // The validation loss, the same on every rank: a data-parallel run splits the samples as batches are
    // split and sums every rank's per-sample terms in sample order, as one process does.
    const auto validation_loss = [&]() -> double {
        if (!distributed) return static_cast<double>(model.validation_loss(val_idx));
        if constexpr (detail::has_parts<Model, T>::value) {
            using V = decltype(model.validation_loss(val_idx));
            const std::size_t chunk = model.chunk_size();
            const auto [lo, hi] = detail::rank_share(val_idx.size(), chunk, comm.rank(), comm.size());
            std::vector<double> mine;
            if (hi > lo)
                mine = model.validation_terms(std::vector<std::size_t>(val_idx.begin() + std::ptrdiff_t(lo),
                                                                       val_idx.begin() + std::ptrdiff_t(hi)));
            const auto all = comm.all_gather(mine, detail::share_counts(val_idx.size(), chunk, comm.size(), 0));
            double s = 0;
            for (double t : all) s += t;
            return static_cast<double>(static_cast<V>(s / double(val_idx.size())));
        } else {
            return 0.0;  // unreachable: refused before the first batch
        }
    };

    for (int epoch = first_epoch; epoch <= opt.max_epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        if (opt.shuffle)  // Fisher-Yates with exact uniform draws: the same order with every standard library
            for (std::size_t i = order.size(); i > 1; --i)
                std::swap(order[i - 1], order[detail::uniform_below(rng, i)]);
        double sum = 0;
        for (std::size_t b = 0; b < batches; ++b) {
            const std::size_t lo = b * opt.batch_size, hi = std::min(order.size(), lo + opt.batch_size);
            batch.assign(order.begin() + static_cast<std::ptrdiff_t>(lo),
                         order.begin() + static_cast<std::ptrdiff_t>(hi));
            const double loss = distributed ? distributed_step() : static_cast<double>(model.train_step(batch));
            if (!std::isfinite(loss))
                throw value_error("fit: the training loss became " + std::to_string(loss) + " at epoch " +
                                  std::to_string(epoch) + ", batch " + std::to_string(b + 1) +
                                  " (learning rate too high? bad input?)");
            optimizer.step(params);
            sum += loss * double(hi - lo);
            ++hist.batches;
            if (distributed ? any_interrupt : sigint.raised()) break;
        }
        if (distributed ? any_interrupt : sigint.raised()) {
            // the epoch was cut short: leave the model and the checkpoint as they were after the last
            // completed epoch, so a resumed run continues exactly where this one would have.
            hist.interrupted = true;
            detail::parameters_from_json<T>(params, last_checkpoint.at("params"), "<in-memory checkpoint>");
            optimizer.load_state_dict(last_checkpoint.at("optimizer"));
            if (!opt.checkpoint_path.empty() && writer)
                write_file_atomically(opt.checkpoint_path, last_checkpoint.dump());
            if (opt.progress && writer)
                std::fprintf(stderr, "interrupted: stopped after epoch %d%s\n", epoch - 1,
                             opt.checkpoint_path.empty() ? "" : ", checkpoint written");
            break;
        }
        epoch_record rec;
        rec.epoch = epoch;
        rec.train_loss = sum / double(order.size());
        rec.val_loss = val_idx.empty() ? rec.train_loss : validation_loss();
        rec.learning_rate = optimizer.lr();
        rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        hist.epochs.push_back(rec);

        if (rec.val_loss < hist.best_val_loss - opt.min_delta) {
            hist.best_val_loss = rec.val_loss;
            hist.best_epoch = epoch;
            best = detail::snapshot<T>(params);
            wait = 0;
        } else {
            ++wait;
        }
        if (opt.reduce_lr_factor < 1) {
            if (rec.val_loss < lr_best - opt.min_delta) {
                lr_best = rec.val_loss;
                lr_wait = 0;
            } else if (++lr_wait >= opt.reduce_lr_patience) {
                optimizer.set_lr(std::max(opt.min_learning_rate, optimizer.lr() * opt.reduce_lr_factor));
                lr_wait = 0;
            }
        }
        bar.update(static_cast<std::size_t>(epoch), detail::epoch_progress_text(rec, hist, !val_idx.empty()));

        last_checkpoint = checkpoint_json(epoch);
        if (!opt.checkpoint_path.empty() && writer && epoch % opt.checkpoint_every == 0)
            write_file_atomically(opt.checkpoint_path, last_checkpoint.dump());
        if (opt.early_stopping && wait >= opt.patience) {
            hist.stopped_early = true;
            break;
        }
    }

    if (opt.restore_best_weights && hist.best_epoch > 0 && !hist.interrupted) detail::restore<T>(params, best);
    hist.communication_seconds = comm.seconds() - comm_before - hist.waiting_seconds;
    if (!opt.history_path.empty() && writer) {
        const bool csv = std::filesystem::path(opt.history_path).extension() == ".csv";
        write_file_atomically(opt.history_path, csv ? hist.to_csv() : hist.to_json().dump(2));
    }
    return hist;
}

}  // namespace ferrum::train
