// A chain of layers (Keras Sequential / torch.nn.Sequential): the paper's GRU regressor is
// gru(2->20, seq) -> dropout -> gru(20->16, seq) -> dropout -> gru(16->8) -> dropout -> dense(8->1).
#pragma once

#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "ferrum/nn/detail/model_base.hpp"

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
        if (g.nodes().empty()) {
            if constexpr (std::is_same_v<Layer, gru<T, Backend>>)
                g.add_input("input", {static_cast<Eigen::Index>(layer.input_size()), true});
            else if constexpr (std::is_same_v<Layer, dense<T, Backend>>)
                g.add_input("input", {static_cast<Eigen::Index>(layer.in_features()), false});
            else
                throw value_error("sequential: the first layer must be a gru or a dense layer");
        }
        g.add_layer(std::to_string(g.layers().size()), typename base::layer_type(std::move(layer)), g.nodes().size() - 1);
        return *this;
    }

    /// Output (batch, features) for a batch (batch, time, features) or (batch, features). `lengths` gives
    /// each sample's valid steps (empty: all). In mode::training, backward() may follow.
    xt::xtensor<T, 2> forward(input_view<T> x, const std::vector<std::size_t>& lengths = {},
                              mode m = mode::inference) {
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
    /// forward() in inference mode.
    xt::xtensor<T, 2> predict(input_view<T> x, const std::vector<std::size_t>& lengths = {}) {
        return forward(x, lengths, mode::inference);
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

private:
    void run(const input_view<T>& x, const std::vector<std::size_t>& lengths, mode m) {
        this->graph_.forward({x}, lengths, m);
    }
    static xt::xarray<T> pick(std::vector<xt::xarray<T>> g) { return g.empty() ? xt::xarray<T>() : std::move(g[0]); }
};

}  // namespace ferrum::nn
