// One-call training of an nn model, as Keras' `model.fit(x, y)`: shuffled mini-batches read in place from the
// user's xtensor or Eigen data (no batch is copied), a loss by name or as a function, Adam, a validation split
// or validation data, early stopping. The loop itself is train::fit, the one training loop of ferrum; this
// header adapts a model and its data to it.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/nn/detail/graph.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/regularization.hpp"
#include "ferrum/train/trainer.hpp"

namespace ferrum::nn {

/// The loss of one batch: its value and d value / d output, shaped as the model's output (batch, outputs).
template <class T>
struct batch_loss {
    T value = 0;
    xt::xtensor<T, 2> grad;
};

namespace detail {

template <class T>
using batch_loss_function = std::function<batch_loss<T>(
    const xt::xtensor<T, 2>& output, const xt::xtensor<T, 2>& target, const xt::xtensor<T, 1>& weight)>;

/// A loss function's result as a batch_loss: a batch_loss as is; a loss_result (one output per sample) or a
/// heteroscedastic_loss_result (outputs: mean, log-variance) as the gradient columns they stand for.
template <class T>
batch_loss<T> to_batch_loss(batch_loss<T> r, std::size_t, std::size_t) {
    return r;
}
template <class T>
batch_loss<T> to_batch_loss(const loss_result<T>& r, std::size_t batch, std::size_t outputs) {
    if (outputs != 1 || static_cast<std::size_t>(r.grad.size()) != batch)
        throw value_error("fit: the loss returns one gradient per sample, but the model gives " +
                          std::to_string(outputs) + " outputs per sample");
    batch_loss<T> out{r.value, xt::xtensor<T, 2>::from_shape({batch, std::size_t(1)})};
    std::copy(r.grad.data(), r.grad.data() + batch, out.grad.data());
    return out;
}
template <class T>
batch_loss<T> to_batch_loss(const heteroscedastic_loss_result<T>& r, std::size_t batch, std::size_t outputs) {
    if (outputs != 2 || static_cast<std::size_t>(r.grad_mean.size()) != batch)
        throw value_error("fit: the loss is on a mean and a log-variance (2 outputs), but the model gives " +
                          std::to_string(outputs) + " outputs per sample");
    batch_loss<T> out{r.value, xt::xtensor<T, 2>::from_shape({batch, std::size_t(2)})};
    for (std::size_t i = 0; i < batch; ++i) {
        out.grad(i, 0) = r.grad_mean[static_cast<Eigen::Index>(i)];
        out.grad(i, 1) = r.grad_log_var[static_cast<Eigen::Index>(i)];
    }
    return out;
}

template <class T>
void require_columns(const char* loss, const xt::xtensor<T, 2>& output, std::size_t outputs,
                     const xt::xtensor<T, 2>& target, std::size_t lo, std::size_t hi, const char* targets) {
    if (output.shape()[1] != outputs || target.shape()[1] < lo || target.shape()[1] > hi)
        throw value_error(std::string("fit: loss \"") + loss + "\" needs a model with " + std::to_string(outputs) +
                          " output(s) and targets " + targets + "; got " + std::to_string(output.shape()[1]) +
                          " output(s) and " + std::to_string(target.shape()[1]) + " target column(s)");
}

/// The losses fit knows by name; each is the function of nn/loss.hpp of the same name, mean-reduced.
struct named_loss {
    std::string name;

    template <class T>
    batch_loss<T> operator()(const xt::xtensor<T, 2>& out, const xt::xtensor<T, 2>& y,
                             const xt::xtensor<T, 1>& w) const {
        const std::size_t batch = out.shape()[0];
        if (name == "mse") {  // Keras: the mean over samples of the weighted mean over outputs
            const std::size_t k = out.shape()[1];
            if (y.shape()[1] != k)
                throw value_error("fit: loss \"mse\": the model gives " + std::to_string(k) +
                                  " output(s) per sample, the targets have " + std::to_string(y.shape()[1]) +
                                  " column(s)");
            batch_loss<T> r{T(0), xt::xtensor<T, 2>::from_shape({batch, k})};
            for (std::size_t j = 0; j < k; ++j) {
                const auto l = mse_loss(xt::view(out, xt::all(), j), xt::view(y, xt::all(), j), w);
                r.value += l.value / T(k);
                for (std::size_t i = 0; i < batch; ++i) r.grad(i, j) = l.grad[static_cast<Eigen::Index>(i)] / T(k);
            }
            return r;
        }
        if (name == "robust_heteroscedastic") {  // outputs (mean, log_var); targets y or (y, sigma_data)
            require_columns("robust_heteroscedastic", out, 2, y, 1, 2, "(y) or (y, sigma_data)");
            const auto mu = xt::view(out, xt::all(), 0), lv = xt::view(out, xt::all(), 1);
            const auto target = xt::view(y, xt::all(), 0);
            const auto r = y.shape()[1] == 2 ? robust_heteroscedastic_loss(mu, lv, target, xt::view(y, xt::all(), 1), w)
                                             : robust_heteroscedastic_loss(mu, lv, target, xt::zeros<T>({batch}), w);
            return to_batch_loss<T>(r, batch, 2);
        }
        // cost_sensitive_gaussian_nll: outputs (mean, log_var), the weights are the costs, epsilon 0.02
        require_columns("cost_sensitive_gaussian_nll", out, 2, y, 1, 1, "(y)");
        const auto r = cost_sensitive_gaussian_nll(xt::view(out, xt::all(), 0), xt::view(out, xt::all(), 1),
                                                   xt::view(y, xt::all(), 0), w, T(0.02), reduction::mean);
        return to_batch_loss<T>(r, batch, 2);
    }
};

}  // namespace detail

/// \brief The loss `fit` minimises, by name or as a function.
///
/// Names (each the nn/loss.hpp function of that name, reduced by the mean over the batch):
/// - "mse": weighted mean squared error, averaged over the outputs (Keras' "mse"); targets as many columns
///   as outputs;
/// - "robust_heteroscedastic": outputs (mean, log-variance), targets (y) or (y, sigma_data);
/// - "cost_sensitive_gaussian_nll": outputs (mean, log-variance), targets (y), the sample weights as costs,
///   variance floor 0.02.
/// A function is called as `f(output, target, weight)` with the batch's model output (batch, outputs), its
/// targets (batch, target columns) and sample weights (batch), all `xt::xtensor`s of the model's type, and
/// returns a `batch_loss<T>`, or a `loss_result<T>` (one output) or `heteroscedastic_loss_result<T>` (two
/// outputs) -- what the losses of nn/loss.hpp return, so `[](const auto& o, const auto& y, const auto& w) {
/// return nn::mse_loss(o, y, w); }` is a loss. A generic lambda serves float and double models alike.
class fit_loss {
public:
    fit_loss(const char* name) : fit_loss(std::string(name)) {}  // NOLINT: implicit on purpose
    fit_loss(std::string name) : name_(std::move(name)) {        // NOLINT
        if (name_ != "mse" && name_ != "robust_heteroscedastic" && name_ != "cost_sensitive_gaussian_nll")
            throw value_error("fit: unknown loss \"" + name_ +
                              "\" (known: \"mse\", \"robust_heteroscedastic\", \"cost_sensitive_gaussian_nll\"; "
                              "or pass a function)");
        named_ = true;  // called through named_loss directly: instantiated only where fit is used
    }
    template <
        class F,
        std::enable_if_t<!std::is_convertible_v<F, std::string> && !std::is_same_v<std::decay_t<F>, fit_loss>, int> = 0>
    fit_loss(F f, std::string name = "custom loss") : name_(std::move(name)) {  // NOLINT
        static_assert(is_loss<F, float> || is_loss<F, double>,
                      "fit_loss: a loss is called as f(output, target, weight) with xt::xtensor<T, 2>, "
                      "xt::xtensor<T, 2> and xt::xtensor<T, 1> arguments");
        float_ = wrap<float>(f);
        double_ = wrap<double>(f);
    }

    const std::string& name() const noexcept { return name_; }

    /// The batch's loss; checks that the gradient has the output's shape and the value is finite.
    template <class T>
    batch_loss<T> operator()(const xt::xtensor<T, 2>& output, const xt::xtensor<T, 2>& target,
                             const xt::xtensor<T, 1>& weight) const {
        const auto& f = function<T>();
        if (!named_ && !f)
            throw value_error("fit: the loss '" + name_ + "' cannot be called with " +
                              (std::is_same_v<T, float> ? "float" : "double") + " tensors");
        batch_loss<T> r = named_ ? detail::named_loss{name_}(output, target, weight) : f(output, target, weight);
        if (r.grad.shape() != output.shape())
            throw value_error("fit: the loss '" + name_ + "' returns a gradient of another shape than the output");
        if (!std::isfinite(r.value)) throw value_error("fit: the loss '" + name_ + "' is not finite");
        return r;
    }

private:
    template <class F, class T>
    static constexpr bool is_loss =
        std::is_invocable_v<const F&, const xt::xtensor<T, 2>&, const xt::xtensor<T, 2>&, const xt::xtensor<T, 1>&>;
    template <class T, class F>
    static detail::batch_loss_function<T> wrap(const F& f) {
        if constexpr (is_loss<F, T>) {
            return [f](const xt::xtensor<T, 2>& o, const xt::xtensor<T, 2>& y, const xt::xtensor<T, 1>& w) {
                return detail::to_batch_loss<T>(f(o, y, w), o.shape()[0], o.shape()[1]);
            };
        } else {
            return {};
        }
    }
    template <class T>
    const detail::batch_loss_function<T>& function() const noexcept {
        if constexpr (std::is_same_v<T, float>) return float_;
        else return double_;
    }

    std::string name_;
    bool named_ = false;
    detail::batch_loss_function<float> float_;
    detail::batch_loss_function<double> double_;
};

/// \brief Settings of `fit`: the trainer's (epochs, batch size, shuffling seed, early stopping, reduce-on-plateau,
/// checkpoints, history file, progress) with Keras' defaults where they differ (batch_size 32, no early
/// stopping), and the loss, the optimiser and the data-side settings. `restore_best_weights` acts with early
/// stopping only: without it, fit leaves the last epoch's weights, as Keras does.
struct fit_options : train::trainer_options {
    fit_options() {
        batch_size = 32;
        early_stopping = false;
    }
    fit_loss loss = "mse";
    adam_options optimizer;             ///< Adam's settings (PyTorch's defaults, lr 1e-3)
    double validation_split = 0.0;      ///< Keras: the last fraction of the samples (before shuffling) validates
    double clip_grad_norm = 0.0;        ///< clip_grad_norm(parameters, this) before each step; 0 = off
    regularizer penalty;                ///< L1/L2 penalties added to the training loss (none by default)
    std::vector<double> sample_weight;  ///< one per training sample (Keras sample_weight); empty = ones
    std::vector<std::size_t> lengths;   ///< valid steps of each training sequence; empty = all
    std::vector<std::size_t> validation_lengths;  ///< the same for explicit validation data
};

namespace detail {

/// What train::fit needs from a model (parameters, train_step, validation_loss), over data read in place.
template <class Model>
class fit_adapter {
public:
    using T = typename Model::value_type;

    struct data {
        input_view<T> x, y;
        std::vector<std::size_t> rows;  ///< the samples of x and y this set uses
        std::vector<T> weight;          ///< per row of x (empty: ones)
        std::vector<std::size_t> lengths;
    };

    fit_adapter(Model& model, data train, data val, const fit_options& o)
        : model_(model), train_(std::move(train)), val_(std::move(val)), o_(o) {}

    parameter_list<T> parameters() { return model_.parameters(); }

    double train_step(const std::vector<std::size_t>& batch) {
        select(train_, batch.data(), batch.size());
        model_.zero_grad();
        const xt::xtensor<T, 2> out = model_.forward(train_.x.select(rows_.data(), rows_.size()), lengths_,
                                                     mode::training);
        batch_loss<T> l = o_.loss.template operator()<T>(out, target_, weight_);
        model_.backward(l.grad);
        auto params = model_.parameters();
        double value = static_cast<double>(l.value);
        if (has_penalty()) value += static_cast<double>(o_.penalty.apply(params));
        if (o_.clip_grad_norm > 0) nn::clip_grad_norm(params, static_cast<T>(o_.clip_grad_norm));
        return value;
    }

    /// The loss on the validation samples in inference mode (no dropout, no penalty): the mean of the batches'
    /// losses weighted by their sizes (the loss of the whole set for a mean-reduced loss).
    double validation_loss(const std::vector<std::size_t>& idx) {
        double sum = 0;
        for (std::size_t lo = 0; lo < idx.size(); lo += o_.batch_size) {
            const std::size_t n = std::min(o_.batch_size, idx.size() - lo);
            select(val_, idx.data() + lo, n);
            const xt::xtensor<T, 2> out = model_.predict(val_.x.select(rows_.data(), n), lengths_);
            sum += static_cast<double>(o_.loss.template operator()<T>(out, target_, weight_).value) * double(n);
        }
        return sum / double(idx.size());
    }

private:
    bool has_penalty() const noexcept {
        const regularizer& p = o_.penalty;
        return p.kernel_l1 != 0 || p.kernel_l2 != 0 || p.recurrent_l1 != 0 || p.recurrent_l2 != 0 || p.bias_l1 != 0 ||
               p.bias_l2 != 0;
    }
    /// The batch's rows (positions in the set), its targets and weights (small: one row of y per sample),
    /// and its lengths. The inputs themselves are not copied: the model reads them through rows_.
    void select(const data& d, const std::size_t* pos, std::size_t n) {
        rows_.resize(n);
        for (std::size_t i = 0; i < n; ++i) rows_[i] = d.rows[pos[i]];
        const std::size_t k = d.y.features;
        target_ = xt::xtensor<T, 2>::from_shape({n, k});
        weight_ = xt::xtensor<T, 1>::from_shape({n});
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < k; ++j) target_(i, j) = d.y(rows_[i], 0, j);
            weight_(i) = d.weight.empty() ? T(1) : d.weight[rows_[i]];
        }
        lengths_.clear();
        if (!d.lengths.empty())
            for (std::size_t i = 0; i < n; ++i) lengths_.push_back(d.lengths[rows_[i]]);
    }

    Model& model_;
    data train_, val_;
    const fit_options& o_;
    std::vector<std::size_t> rows_, lengths_;
    xt::xtensor<T, 2> target_;
    xt::xtensor<T, 1> weight_;
};

inline std::vector<std::size_t> index_range(std::size_t lo, std::size_t hi) {
    std::vector<std::size_t> v(hi - lo);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = lo + i;
    return v;
}

template <class T>
void check_fit_data(const input_view<T>& x, const input_view<T>& y, const std::vector<std::size_t>& lengths,
                    const char* which) {
    const std::string w(which);
    if (x.batch == 0) throw value_error("fit: the " + w + " inputs hold no samples");
    if (y.batch != x.batch)
        throw value_error("fit: the " + w + " inputs hold " + std::to_string(x.batch) + " samples, the targets " +
                          std::to_string(y.batch));
    if (y.sequence) throw value_error("fit: targets are (samples,) or (samples, outputs), not sequences");
    if (!lengths.empty() && lengths.size() != x.batch)
        throw value_error("fit: " + std::to_string(lengths.size()) + " " + w + " lengths for " +
                          std::to_string(x.batch) + " samples");
}

template <class Model>
train::training_history run_fit(Model& model, const input_view<typename Model::value_type>& x,
                                const input_view<typename Model::value_type>& y,
                                const input_view<typename Model::value_type>* x_val,
                                const input_view<typename Model::value_type>* y_val, const fit_options& o) {
    using T = typename Model::value_type;
    check_fit_data(x, y, o.lengths, "training");
    const std::size_t n = x.batch;
    if (!o.sample_weight.empty() && o.sample_weight.size() != n)
        throw value_error("fit: " + std::to_string(o.sample_weight.size()) + " sample weights for " +
                          std::to_string(n) + " samples");
    for (std::size_t i = 0; i < o.sample_weight.size(); ++i)
        if (!(o.sample_weight[i] >= 0) || !std::isfinite(o.sample_weight[i]))
            throw value_error("fit: sample weight " + std::to_string(i) + " is " + std::to_string(o.sample_weight[i]) +
                              "; weights must be finite and >= 0");
    if (!(o.validation_split >= 0 && o.validation_split < 1))
        throw value_error("fit: validation_split must lie in [0, 1), got " + std::to_string(o.validation_split));
    if (x_val && o.validation_split > 0)
        throw value_error("fit: give either validation data or a validation_split, not both");
    const std::vector<T> weight(o.sample_weight.begin(), o.sample_weight.end());

    using adapter = fit_adapter<Model>;
    typename adapter::data train{x, y, {}, weight, o.lengths}, val{x, y, {}, weight, o.lengths};
    if (x_val) {
        check_fit_data(*x_val, *y_val, o.validation_lengths, "validation");
        if (y_val->features != y.features)
            throw value_error("fit: the validation targets have " + std::to_string(y_val->features) +
                              " columns, the training targets " + std::to_string(y.features));
        train.rows = index_range(0, n);
        val = {*x_val, *y_val, index_range(0, x_val->batch), {}, o.validation_lengths};
    } else {
        // Keras: the split point floor(n (1 - split)); the samples after it validate, before any shuffling
        const auto split_at = static_cast<std::size_t>(std::floor(double(n) * (1.0 - o.validation_split)));
        if (o.validation_split > 0 && (split_at == 0 || split_at == n))
            throw value_error("fit: validation_split " + std::to_string(o.validation_split) + " of " +
                              std::to_string(n) + " samples leaves an empty training or validation set");
        train.rows = index_range(0, split_at);
        val.rows = index_range(split_at, n);
    }
    const std::size_t n_train = train.rows.size(), n_val = val.rows.size();
    adapter a(model, std::move(train), std::move(val), o);
    adam<T> optimizer(o.optimizer);
    train::trainer_options loop = o;
    loop.restore_best_weights = o.restore_best_weights && o.early_stopping;  // Keras: fit returns the last weights
    return train::fit(a, optimizer, index_range(0, n_train), index_range(0, n_val), loop);
}

}  // namespace detail

/// \brief Trains `model` on inputs `x` and targets `y` (Keras' `model.fit(x, y)`): epochs of shuffled
/// mini-batches (`options.seed`), the loss `options.loss`, Adam with `options.optimizer`, validation on the last
/// `options.validation_split` of the samples, early stopping when asked -- the loop of train::fit, whose
/// history it returns (per epoch: training loss, validation loss, learning rate, seconds).
///
/// `x` is any xtensor expression, (samples, features) or (samples, time, features), or an Eigen matrix
/// (samples, features); `y` is (samples,) or (samples, targets), xtensor or Eigen. Both are read in place: views
/// (`xt::view`, `xt::adapt` over your memory, `Eigen::Map`) are not copied, and no mini-batch is gathered
/// into a new tensor -- the model reads each batch's rows where they lie. They must stay alive during fit.
/// \tparam Model an nn::sequential (any model with forward, predict, backward, zero_grad and parameters).
/// \throws value_error on inconsistent data or settings, before the first batch.
template <class Model>
train::training_history fit(Model& model, input_view<typename Model::value_type> x,
                            input_view<typename Model::value_type> y, const fit_options& options = {}) {
    return detail::run_fit(model, x, y, nullptr, nullptr, options);
}

/// \brief The same with explicit validation data (Keras' `validation_data=(x_val, y_val)`), weighted by ones
/// and run with `options.validation_lengths`.
template <class Model>
train::training_history fit(Model& model, input_view<typename Model::value_type> x,
                            input_view<typename Model::value_type> y, input_view<typename Model::value_type> x_val,
                            input_view<typename Model::value_type> y_val, const fit_options& options = {}) {
    return detail::run_fit(model, x, y, &x_val, &y_val, options);
}

}  // namespace ferrum::nn
