// Gated recurrent unit layers (Cho et al. 2014) in the cuDNN / PyTorch torch.nn.GRU formulation:
// gates stacked (r, z, n); n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h.
// A stack of layers with their own widths, per-sample sequence lengths (cuDNN seqLengths / Keras masking).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ferrum/backend/cpu/gru_kernels.hpp"
#ifdef FERRUM_USE_CUDNN  // linking ferrum::cudnn makes the GPU kernels the default backend
#  include "ferrum/backend/cudnn/gru_kernels.hpp"
#endif
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief A stack of GRU layers. Layer k has the PyTorch parameters weight_ih_l{k} [3H_k, in_k],
/// weight_hh_l{k} [3H_k, H_k], bias_ih_l{k} [3H_k], bias_hh_l{k} [3H_k]; in_k = H_{k-1}.
/// The output is the last layer's state at each sample's own last step, or (return_sequences) its
/// state at every step (zero past a sample's length, as cuDNN's padded output).
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class gru {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::gru is defined for T = float or T = double only");
    using kernels = backend::gru_kernels<Backend, T>;

public:
    using value_type = T;
    using backend_type = Backend;
    static constexpr const char* type_name = "gru";
    /// Per-chunk scratch memory (owned by the model's pass, not by the layer).
    struct cache {
        std::vector<typename kernels::cache> layers;
        std::vector<matrix<T>> dx;  ///< gradient flowing into layer k (k >= 1)
    };

    gru(std::size_t input_size, std::vector<std::size_t> hidden_sizes, bool return_sequences = false,
        std::uint64_t seed = 0)
        : input_(input_size), hidden_(std::move(hidden_sizes)), return_sequences_(return_sequences) {
        if (input_ == 0) throw value_error("gru: input_size must be positive");
        if (hidden_.empty()) throw value_error("gru: at least one hidden size is needed");
        std::size_t in = input_;
        for (std::size_t k = 0; k < hidden_.size(); ++k) {
            const std::size_t H = hidden_[k];
            if (H == 0) throw value_error("gru: hidden sizes must be positive");
            const std::string l = "_l" + std::to_string(k);
            offsets_.push_back(store_.declare("weight_ih" + l, {3 * H, in}, parameter_role::kernel));
            store_.declare("weight_hh" + l, {3 * H, H}, parameter_role::recurrent);
            store_.declare("bias_ih" + l, {3 * H}, parameter_role::bias);
            store_.declare("bias_hh" + l, {3 * H}, parameter_role::bias);
            in = H;
        }
        reset_parameters(seed);
    }
    gru(std::size_t input_size, std::size_t hidden_size, bool return_sequences = false, std::uint64_t seed = 0)
        : gru(input_size, std::vector<std::size_t>{hidden_size}, return_sequences, seed) {}

    std::size_t input_size() const noexcept { return input_; }
    const std::vector<std::size_t>& hidden_sizes() const noexcept { return hidden_; }
    std::size_t num_layers() const noexcept { return hidden_.size(); }
    bool return_sequences() const noexcept { return return_sequences_; }

    /// PyTorch's default initialisation, U(-1/sqrt(H_k), 1/sqrt(H_k)) for every tensor of layer k.
    void reset_parameters(std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        for (std::size_t k = 0; k < hidden_.size(); ++k) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_[k]));
            std::uniform_real_distribution<double> u(-bound, bound);
            const std::size_t end = k + 1 < hidden_.size() ? offsets_[k + 1] : store_.size();
            for (std::size_t i = offsets_[k]; i < end; ++i) store_.values()[i] = static_cast<T>(u(gen));
        }
    }

    parameter_list<T> parameters(const std::string& prefix = {}) { return store_.refs(prefix); }
    parameter_storage<T>& storage() noexcept { return store_; }
    const parameter_storage<T>& storage() const noexcept { return store_; }

    io_shape input_shape() const noexcept { return {static_cast<Eigen::Index>(input_), true}; }
    io_shape output_shape(io_shape in) const {
        if (!in.sequence) throw value_error("gru: input must be a sequence (batch, time, features)");
        if (static_cast<std::size_t>(in.features) != input_)
            throw value_error("gru: input has " + std::to_string(in.features) + " features, layer expects " +
                              std::to_string(input_));
        return {static_cast<Eigen::Index>(hidden_.back()), return_sequences_};
    }

    /// Model-file fields besides the weights.
    nlohmann::json config() const {
        return {{"input_size", input_}, {"hidden_sizes", hidden_}, {"return_sequences", return_sequences_}};
    }
    static gru from_config(const nlohmann::json& j) {
        return gru(config_field<std::size_t>(j, "input_size"),
                   config_field<std::vector<std::size_t>>(j, "hidden_sizes"),
                   config_field<bool>(j, "return_sequences"));
    }

    /// Runs the stack over a chunk x (input x steps*batch); y is the last layer's state at each sample's
    /// own last step (hidden x batch) or at every step (return_sequences).
    void forward(const matrix<T>& x, matrix<T>& y, cache& c, const chunk_info& ctx) const {
        const std::size_t L = hidden_.size();
        c.layers.resize(L);
        for (std::size_t k = 0; k < L; ++k)
            kernels::forward(weights(k), k == 0 ? x : c.layers[k - 1].states, ctx, c.layers[k]);
        const auto& states = c.layers.back().states;
        if (return_sequences_) y = states;
        else y = states.rightCols(ctx.batch);  // carried states: each sample's own last step
    }

    /// Backpropagation through time; accumulates into grad (laid out as storage()), writes dx if not null.
    void backward(const matrix<T>& x, const matrix<T>&, const matrix<T>& dy, matrix<T>* dx, T* grad, cache& c,
                  const chunk_info& ctx) const {
        const std::size_t L = hidden_.size();
        c.dx.resize(L);
        for (std::size_t k = L; k-- > 0;) {
            const bool top = k + 1 == L;
            const matrix<T>* dyk = top ? (return_sequences_ ? &dy : nullptr) : &c.dx[k + 1];
            const matrix<T>* dh_last = top && !return_sequences_ ? &dy : nullptr;
            matrix<T>* dxk = k > 0 ? &c.dx[k] : dx;
            kernels::backward(weights(k), k == 0 ? x : c.layers[k - 1].states, ctx, c.layers[k], dyk, dh_last,
                              grads(k, grad), dxk);
        }
    }

private:
    typename kernels::weights weights(std::size_t k) const noexcept {
        const T* p = store_.values().data() + offsets_[k];
        const std::size_t H = hidden_[k], in = k == 0 ? input_ : hidden_[k - 1];
        return {p,
                p + 3 * H * in,
                p + 3 * H * (in + H),
                p + 3 * H * (in + H + 1),
                static_cast<Eigen::Index>(in),
                static_cast<Eigen::Index>(H)};
    }
    typename kernels::grads grads(std::size_t k, T* flat) const noexcept {
        T* p = flat + offsets_[k];
        const std::size_t H = hidden_[k], in = k == 0 ? input_ : hidden_[k - 1];
        return {p, p + 3 * H * in, p + 3 * H * (in + H), p + 3 * H * (in + H + 1)};
    }

    std::size_t input_;
    std::vector<std::size_t> hidden_;
    bool return_sequences_;
    std::vector<std::size_t> offsets_;
    parameter_storage<T> store_;
};

}  // namespace ferrum::nn

FERRUM_NN_REGISTER_LAYER(gru)
