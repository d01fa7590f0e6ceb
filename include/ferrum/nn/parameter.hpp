// The seam between layers and everything that updates or penalises their weights (optimisers,
// L1/L2 penalties, gradient clipping, model files): a named, non-owning view of one parameter
// tensor and of its gradient, tagged with its role (Keras distinguishes kernel and recurrent weights).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ferrum::nn {

/// What a parameter is, for penalties that treat kernels, recurrent kernels and biases differently.
enum class parameter_role {
    kernel,
    recurrent,
    bias
};

/// \brief A non-owning view of one parameter tensor (contiguous, row-major, PyTorch shape) and its
/// gradient buffer of the same size. Valid while the owning layer lives and is not resized.
template <class T>
struct parameter_ref {
    std::string name;                ///< PyTorch name, e.g. "gru.0.weight_ih_l0" or "head.weight"
    std::vector<std::size_t> shape;  ///< PyTorch shape, e.g. {3*H, in}
    parameter_role role = parameter_role::kernel;
    T* value = nullptr;
    T* grad = nullptr;

    std::size_t size() const noexcept {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};

template <class T>
using parameter_list = std::vector<parameter_ref<T>>;

}  // namespace ferrum::nn
