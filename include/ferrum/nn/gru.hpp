// Gated recurrent unit layers (Cho et al. 2014) in the cuDNN / PyTorch torch.nn.GRU formulation:
// gates stacked (r, z, n); n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h.
// A stack of layers with their own widths, per-sample sequence lengths (cuDNN seqLengths / Keras masking).
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "ferrum/backend/cpu/gru_kernels.hpp"
#ifdef FERRUM_USE_CUDNN  // linking ferrum::cudnn makes the GPU kernels the default backend
#  include "ferrum/backend/cudnn/gru_kernels.hpp"
#endif
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/detail/recurrent_stack.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief A stack of GRU layers. Layer k has the PyTorch parameters weight_ih_l{k} [3H_k, in_k],
/// weight_hh_l{k} [3H_k, H_k], bias_ih_l{k} [3H_k], bias_hh_l{k} [3H_k]; in_k = H_{k-1}.
/// The output is the last layer's state at each sample's own last step, or (return_sequences) its
/// state at every step (zero past a sample's length, as cuDNN's padded output).
/// Given a merge mode it is bidirectional (PyTorch bidirectional=True, Keras Bidirectional(GRU)): every
/// layer also runs backwards from each sample's own last step, with the parameters *_l{k}_reverse, and
/// the two directions are merged (concat: in_k = 2 H_{k-1}); see nn/detail/recurrent_stack.hpp.
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class gru : public detail::recurrent_stack<gru<T, Backend>, T, backend::gru_kernels<Backend, T>, 3> {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::gru is defined for T = float or T = double only");
    using base = detail::recurrent_stack<gru<T, Backend>, T, backend::gru_kernels<Backend, T>, 3>;

public:
    using backend_type = Backend;
    static constexpr const char* type_name = "gru";

    gru(std::size_t input_size, std::vector<std::size_t> hidden_sizes, bool return_sequences = false,
        std::uint64_t seed = 0, std::optional<merge_mode> bidirectional = std::nullopt)
        : base(input_size, std::move(hidden_sizes), return_sequences, seed, bidirectional) {}
    gru(std::size_t input_size, std::size_t hidden_size, bool return_sequences = false, std::uint64_t seed = 0,
        std::optional<merge_mode> bidirectional = std::nullopt)
        : gru(input_size, std::vector<std::size_t>{hidden_size}, return_sequences, seed, bidirectional) {}
};

}  // namespace ferrum::nn
