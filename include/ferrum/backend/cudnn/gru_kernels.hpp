// cuDNN 9 kernels of one GRU layer over a chunk: cuDNN's CUDNN_GRU with double bias is PyTorch's
// torch.nn.GRU, the same mathematics as ferrum/backend/cpu/gru_kernels.hpp (see rnn_kernels.hpp).
#pragma once

#include "ferrum/backend/cudnn/rnn_kernels.hpp"

namespace ferrum::backend {

template <class T>
struct gru_kernels<ferrum::backend::cudnn, T>
    : cudnn_detail::rnn_kernels<T, CUDNN_GRU, 3, gru_weights<T>, gru_grads<T>> {};

}  // namespace ferrum::backend
