// A chain of layers (Keras Sequential / torch.nn.Sequential): the paper's GRU regressor is
// gru(2->20, seq) -> dropout -> gru(20->16, seq) -> dropout -> gru(16->8) -> dropout -> dense(8->1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "ferrum/nn/dense.hpp"  // the built-in layers, for convenience (any registered layer works)
#include "ferrum/nn/detail/model_base.hpp"
#include "ferrum/nn/dropout.hpp"
#include "ferrum/nn/fit.hpp"
#include "ferrum/nn/gru.hpp"
#include "ferrum/nn/lstm.hpp"

namespace ferrum::nn {

/// \brief A chain of layers; layer i is named "i" (parameters "0.weight_ih_l0", "3.weight", ...).
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class sequential : public detail::model_base<T, Backend> {
    using base = detail::model_base<T, Backend>;

public:
    /// Appends a layer. The first layer fixes the input: a gru takes sequences, a dense layer a table.
    template <class Layer>
    sequential& add(Layer layer) {
        auto& g = this->graph_;
        typename base::layer_type l(std::move(layer));
        if (g.nodes().empty()) {
            const io_shape in = l.input_shape();
            if (in.features <= 0)
                throw value_error("sequential: the first layer must fix the input (a gru or a dense layer), not a '" +
                                  l.type_name() + "'");
            g.add_input("input", in);
        }
        g.add_layer(std::to_string(g.layers().size()), std::move(l), g.nodes().size() - 1);
        return *this;
    }

    /// Output (batch, features) for a batch (batch, time, features) or (batch, features). `lengths` gives
    /// each sample's valid steps (empty: all). In mode::training, backward() may follow.
    xt::xtensor<T, 2> forward(input_view<T> x, const std::vector<std::size_t>& lengths = {}, mode m = mode::inference) {
        run(x, lengths, m);
        if (this->graph_.output_shape().sequence)
            throw value_error("this model returns sequences: use forward_sequence()");
        return this->graph_.output_tensor();
    }
    /// Output (batch, time, features) of a model whose last layer returns sequences (zero past lengths).
    xt::xtensor<T, 3> forward_sequence(input_view<T> x, const std::vector<std::size_t>& lengths = {},
                                       mode m = mode::inference) {
        run(x, lengths, m);
        if (!this->graph_.output_shape().sequence) throw value_error("this model does not return sequences");
        return this->graph_.output_tensor();
    }
    /// \brief Inference that does not change the model (const; safe from many threads at once): the
    /// output (batch, features) of forward(x, lengths, m) with every buffer owned by this call. In
    /// mode::mc_dropout the dropout masks are drawn from `dropout_seed` (reproducible, thread-count free) and,
    /// with `sample_keys` (one per sample), from each sample's key rather than its position in the batch.
    xt::xtensor<T, 2> predict(input_view<T> x, const std::vector<std::size_t>& lengths = {}, mode m = mode::inference,
                              std::uint64_t dropout_seed = 0, std::size_t threads = 0,
                              const std::vector<std::uint64_t>& sample_keys = {}) const {
        if (this->graph_.output_shape().sequence)
            throw value_error("this model returns sequences: use predict({x}, ...)");
        return this->graph_.predict({x}, lengths, m, dropout_seed, threads, sample_keys);
    }
    /// The same for a list of inputs (one for a sequential model); returns sequences as (batch, time, features).
    xt::xarray<T> predict(const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths = {},
                          mode m = mode::inference, std::uint64_t dropout_seed = 0, std::size_t threads = 0,
                          const std::vector<std::uint64_t>& sample_keys = {}) const {
        return this->graph_.predict(inputs, lengths, m, dropout_seed, threads, sample_keys);
    }

    /// Accumulates d loss / d parameter given d loss / d output; returns d loss / d input when asked
    /// (an empty array otherwise).
    xt::xarray<T> backward(const xt::xtensor<T, 2>& grad_output, bool input_gradient = false) {
        return pick(this->graph_.backward(grad_output.data(), {grad_output.shape()[0], grad_output.shape()[1]},
                                          input_gradient));
    }
    xt::xarray<T> backward(const xt::xtensor<T, 3>& grad_output, bool input_gradient = false) {
        const auto& s = grad_output.shape();
        return pick(this->graph_.backward(grad_output.data(), {s[0], s[1], s[2]}, input_gradient));
    }

    /// \brief Trains the model on inputs `x` and targets `y` (Keras' `model.fit`): nn::fit(*this, x, y, options).
    /// `x` and `y` are any xtensor expressions or Eigen matrices, read in place (views are not copied).
    train::training_history fit(input_view<T> x, input_view<T> y, const fit_options& options = {}) {
        return nn::fit(*this, x, y, options);
    }
    /// \brief The same with explicit validation data (Keras' `validation_data=(x_val, y_val)`).
    train::training_history fit(input_view<T> x, input_view<T> y, input_view<T> x_val, input_view<T> y_val,
                                const fit_options& options = {}) {
        return nn::fit(*this, x, y, x_val, y_val, options);
    }

private:
    void run(const input_view<T>& x, const std::vector<std::size_t>& lengths, mode m) {
        this->graph_.forward({x}, lengths, m);
    }
    static xt::xarray<T> pick(std::vector<xt::xarray<T>> g) { return g.empty() ? xt::xarray<T>() : std::move(g[0]); }
};

}  // namespace ferrum::nn
