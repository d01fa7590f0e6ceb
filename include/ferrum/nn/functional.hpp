// Models with several inputs and branches (Keras functional API), e.g. the uncertainty branch of
// UA-CSNet (Yang et al.): spectrum -> dense stack -> Z(8); errors -> dense(16); concat(Z, e16) -> dense(8) -> 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "ferrum/nn/dense.hpp"  // the built-in layers, for convenience (any registered layer works)
#include "ferrum/nn/detail/model_base.hpp"
#include "ferrum/nn/dropout.hpp"
#include "ferrum/nn/gru.hpp"
#include "ferrum/nn/lstm.hpp"

namespace ferrum::nn {

/// \brief A directed acyclic graph of layers built in order: inputs, layers reading one earlier node,
/// concatenations (along features) and element-wise sums (residual connections) of earlier nodes. Parameters are named "<node>.<PyTorch name>".
template <class T = float, class Backend = ferrum::default_backend>
class functional : public detail::model_base<T, Backend> {
    using base = detail::model_base<T, Backend>;

public:
    using node_id = std::size_t;

    /// Declares the next input: `features` per step (sequence) or per sample (table).
    node_id input(std::string name, std::size_t features, bool sequence = false) {
        return this->graph_.add_input(std::move(name), {static_cast<Eigen::Index>(features), sequence});
    }
    template <class Layer>
    node_id add(std::string name, Layer layer, node_id from) {
        return this->graph_.add_layer(std::move(name), typename base::layer_type(std::move(layer)), from);
    }
    node_id concat(std::string name, std::vector<node_id> from) {
        return this->graph_.add_concat(std::move(name), std::move(from));
    }
    /// Element-wise sum of nodes of one shape (a residual connection, Keras `Add`, PyTorch `a + b`); the
    /// gradient reaches every input unchanged. Model-file type "add".
    node_id sum(std::string name, std::vector<node_id> from) {
        return this->graph_.add_sum(std::move(name), std::move(from));
    }
    /// The node whose value forward() returns (default: the last node added).
    void set_output(node_id n) { this->graph_.set_output(n); }

    /// Inputs in declaration order; returns (batch, features) or (batch, time, features).
    /// `first_sample`: this batch's offset in a batch split across processes (its dropout masks are then
    /// those of the whole batch's samples).
    xt::xarray<T> forward(const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths = {},
                          mode m = mode::inference, std::size_t first_sample = 0) {
        this->graph_.forward(inputs, lengths, m, first_sample);
        return this->graph_.output_tensor();
    }
    /// \brief Inference that does not change the model (const; safe from many threads at once): the
    /// output of forward(inputs, lengths, m) with every buffer owned by this call. In mode::mc_dropout the
    /// dropout masks are drawn from `dropout_seed` (a pure function of it: reproducible, thread-count free)
    /// and, with `sample_keys` (one per sample, e.g. source_ids), from each sample's key rather than its
    /// position, so a sample's masks do not depend on its batch. `threads` (0: num_threads()) is this call's
    /// thread count.
    xt::xarray<T> predict(const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths = {},
                          mode m = mode::inference, std::uint64_t dropout_seed = 0, std::size_t threads = 0,
                          const std::vector<std::uint64_t>& sample_keys = {}) const {
        return this->graph_.predict(inputs, lengths, m, dropout_seed, threads, sample_keys);
    }
    /// Accumulates parameter gradients; returns d loss / d input for every input when asked.
    std::vector<xt::xarray<T>> backward(const xt::xarray<T>& grad_output, bool input_gradients = false) {
        std::vector<std::size_t> shape(grad_output.shape().begin(), grad_output.shape().end());
        return this->graph_.backward(grad_output.data(), shape, input_gradients);
    }
};

}  // namespace ferrum::nn
