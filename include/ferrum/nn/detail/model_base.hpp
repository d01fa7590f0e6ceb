// What sequential and functional models share: the graph engine, parameters, gradients, threading.
#pragma once

#include <cstdint>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "ferrum/core/random.hpp"
#include "ferrum/nn/detail/graph.hpp"

namespace ferrum::nn::detail {

template <class T, class Backend>
class model_base {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn models are defined for T = float or T = double only");

public:
    using value_type = T;
    using backend_type = Backend;
    using layer_type = any_layer<T, Backend>;

    /// Every parameter with its gradient, named "<layer name>.<PyTorch name>" (e.g. "0.weight_ih_l0").
    parameter_list<T> parameters() { return graph_.parameters(); }
    void zero_grad() { graph_.zero_grad(); }

    /// Re-initialises every layer (PyTorch defaults) and reseeds every dropout layer from one seed.
    void reset_parameters(std::uint64_t seed) {
        std::uint64_t k = 0;
        for (auto& l : graph_.layers()) l.reset_parameters(ferrum::splitmix64(seed + 0x51ED270B27F1A3C5ULL * ++k));
    }

    /// Threads used by forward/backward/predict (the batch is split into fixed chunks; results do not depend on it).
    void set_num_threads(std::size_t n) noexcept { graph_.num_threads = n; }  ///< 0: the hardware's cores
    std::size_t num_threads() const noexcept { return graph_.num_threads; }
    /// Samples per chunk (default 64). Changing it changes float summation order, not the mathematics.
    void set_chunk_size(std::size_t n) {
        if (n == 0) throw value_error("chunk size must be positive");
        graph_.chunk_size = n;
    }
    std::size_t chunk_size() const noexcept { return graph_.chunk_size; }

    std::size_t num_layers() const noexcept { return graph_.layers().size(); }
    /// Layer i (in the order added); nn::get_if<nn::dropout<T, Backend>>(&model.layer(i)) reaches its type.
    layer_type& layer(std::size_t i) { return graph_.layers().at(i); }
    const layer_type& layer(std::size_t i) const { return graph_.layers().at(i); }

    /// The engine (for model files and advanced use).
    graph<T, Backend>& engine() noexcept { return graph_; }
    const graph<T, Backend>& engine() const noexcept { return graph_; }

protected:
    graph<T, Backend> graph_;
};

}  // namespace ferrum::nn::detail
