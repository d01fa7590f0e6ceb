// The backend seam of ferrum::nn: host-side layers call their numerical kernels through these traits in
// namespace ferrum::backend, specialised per backend tag (ferrum::backend::cpu in ferrum/backend/cpu/, the
// cuDNN backend in ferrum/backend/cudnn/), so a new backend changes no public type and no layer logic.
#pragma once

#include <Eigen/Core>

#include "ferrum/core/config.hpp"
#include "ferrum/nn/activation.hpp"

namespace ferrum::backend {

template <class>
inline constexpr bool dependent_false = false;

/// What a dense layer hands its kernels: host views of its parameters (the same for every backend).
template <class T>
struct dense_weights {
    const T* w;  ///< [out, in] row-major (PyTorch nn.Linear.weight)
    const T* b;  ///< [out]
    Eigen::Index in, out;
    nn::activation act;
};
template <class T>
struct dense_grads {
    T* w;
    T* b;
};

/// What a GRU layer hands its kernels (PyTorch names and shapes; the same for every backend).
template <class T>
struct gru_weights {
    const T* w_ih;  ///< [3H, in], gate rows r, z, n
    const T* w_hh;  ///< [3H, H]
    const T* b_ih;  ///< [3H]
    const T* b_hh;  ///< [3H]
    Eigen::Index in, hidden;
};
template <class T>
struct gru_grads {
    T* w_ih;
    T* w_hh;
    T* b_ih;
    T* b_hh;
};

/// What an LSTM layer hands its kernels: the same four PyTorch tensors with 4H gate rows (i, f, g, o).
template <class T>
using lstm_weights = gru_weights<T>;
template <class T>
using lstm_grads = gru_grads<T>;

/// Dense (affine + activation) kernels. Specialised by each backend.
template <class Backend, class T>
struct dense_kernels {
    static_assert(dependent_false<Backend>,
                  "ferrum: this backend has no dense kernels; include its header (ferrum/backend/<name>/...) "
                  "or use ferrum::backend::cpu");
};

/// GRU sequence kernels (PyTorch/cuDNN formulation). Specialised by each backend.
template <class Backend, class T>
struct gru_kernels {
    static_assert(dependent_false<Backend>,
                  "ferrum: this backend has no GRU kernels; include its header (ferrum/backend/<name>/...) "
                  "or use ferrum::backend::cpu");
};

/// LSTM sequence kernels (PyTorch/cuDNN formulation). Specialised by each backend.
template <class Backend, class T>
struct lstm_kernels {
    static_assert(dependent_false<Backend>,
                  "ferrum: this backend has no LSTM kernels; include its header (ferrum/backend/<name>/...) "
                  "or use ferrum::backend::cpu");
};

/// Dropout mask kernels. Specialised by each backend.
template <class Backend, class T>
struct dropout_kernels {
    static_assert(dependent_false<Backend>,
                  "ferrum: this backend has no dropout kernels; include its header (ferrum/backend/<name>/...) "
                  "or use ferrum::backend::cpu");
};

}  // namespace ferrum::backend
