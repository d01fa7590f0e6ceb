// cuDNN 9 kernels of one LSTM layer over a chunk: cuDNN's CUDNN_LSTM with double bias and zero initial
// state and cell is PyTorch's torch.nn.LSTM, the same mathematics as ferrum/backend/cpu/lstm_kernels.hpp
// (see rnn_kernels.hpp).
#pragma once

#include "ferrum/backend/cudnn/rnn_kernels.hpp"

namespace ferrum::backend {

template <class T>
struct lstm_kernels<ferrum::backend::cudnn, T>
    : cudnn_detail::rnn_kernels<T, CUDNN_LSTM, 4, lstm_weights<T>, lstm_grads<T>> {};

}  // namespace ferrum::backend
