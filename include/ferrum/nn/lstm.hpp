// Long short-term memory layers (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)
// in the PyTorch torch.nn.LSTM / cuDNN formulation: gates stacked (i, f, g, o), c' = f c + i g,
// h' = o tanh(c'). A stack of layers with their own widths, per-sample sequence lengths (Keras masking),
// one direction or bidirectional with Keras's merge modes. Keras stores its gates as (i, f, c, o): the
// same order, with one bias per gate (PyTorch's b_ih + b_hh).
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "ferrum/backend/cpu/lstm_kernels.hpp"
#ifdef FERRUM_USE_CUDNN  // linking ferrum::cudnn makes the GPU kernels the default backend
#  include "ferrum/backend/cudnn/lstm_kernels.hpp"
#endif
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/detail/recurrent_stack.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

/// \brief A stack of LSTM layers. Layer k has the PyTorch parameters weight_ih_l{k} [4H_k, in_k],
/// weight_hh_l{k} [4H_k, H_k], bias_ih_l{k} [4H_k], bias_hh_l{k} [4H_k]; in_k = H_{k-1}; the initial
/// state and cell are zero. The output is the last layer's state at each sample's own last step, or
/// (return_sequences) its state at every step (zero past a sample's length).
/// Given a merge mode it is bidirectional (PyTorch bidirectional=True, Keras Bidirectional(LSTM)): every
/// layer also runs backwards from each sample's own last step, with the parameters *_l{k}_reverse, and
/// the two directions are merged (concat: in_k = 2 H_{k-1}); see nn/detail/recurrent_stack.hpp.
/// \tparam T float or double. \tparam Backend a ferrum::backend tag.
template <class T = float, class Backend = ferrum::default_backend>
class lstm : public detail::recurrent_stack<lstm<T, Backend>, T, backend::lstm_kernels<Backend, T>, 4> {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn::lstm is defined for T = float or T = double only");
    using base = detail::recurrent_stack<lstm<T, Backend>, T, backend::lstm_kernels<Backend, T>, 4>;

public:
    using backend_type = Backend;
    static constexpr const char* type_name = "lstm";

    lstm(std::size_t input_size, std::vector<std::size_t> hidden_sizes, bool return_sequences = false,
         std::uint64_t seed = 0, std::optional<merge_mode> bidirectional = std::nullopt)
        : base(input_size, std::move(hidden_sizes), return_sequences, seed, bidirectional) {}
    lstm(std::size_t input_size, std::size_t hidden_size, bool return_sequences = false, std::uint64_t seed = 0,
         std::optional<merge_mode> bidirectional = std::nullopt)
        : lstm(input_size, std::vector<std::size_t>{hidden_size}, return_sequences, seed, bidirectional) {}
};

}  // namespace ferrum::nn
