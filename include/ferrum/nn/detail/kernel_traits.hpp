// The backend seam of ferrum::nn: host-side layers call their numerical kernels through these traits,
// specialised per backend tag (ferrum::backend::cpu in ferrum/backend/cpu/, a cuDNN backend beside it),
// so a new backend changes no public type and no layer logic.
#pragma once

#include "ferrum/core/config.hpp"

namespace ferrum::nn::detail {

template <class>
inline constexpr bool dependent_false = false;

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

/// Dropout mask kernels. Specialised by each backend.
template <class Backend, class T>
struct dropout_kernels {
    static_assert(dependent_false<Backend>,
                  "ferrum: this backend has no dropout kernels; include its header (ferrum/backend/<name>/...) "
                  "or use ferrum::backend::cpu");
};

}  // namespace ferrum::nn::detail
