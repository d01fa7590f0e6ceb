// Move-only owners of the cuDNN descriptors the GRU kernels use (RNN, dropout, RNN data, tensor), so a
// cache that holds them frees them exactly once, and the mapping of ferrum's scalar types to cuDNN's.
#pragma once

#include <type_traits>
#include <utility>

#include "ferrum/backend/cudnn/device.hpp"

namespace ferrum::backend::cudnn_detail {

template <class T>
constexpr cudnnDataType_t data_type() noexcept {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "the cuDNN backend is defined for T = float or T = double only");
    return std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

/// Owns one descriptor of type D created by Create and destroyed by Destroy.
template <class D, cudnnStatus_t (*Create)(D*), cudnnStatus_t (*Destroy)(D)>
class owned {
public:
    owned() noexcept = default;
    owned(const owned&) = delete;
    owned& operator=(const owned&) = delete;
    owned(owned&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
    owned& operator=(owned&& o) noexcept {
        if (this != &o) {
            reset();
            d_ = std::exchange(o.d_, nullptr);
        }
        return *this;
    }
    ~owned() { reset(); }

    /// Creates the descriptor on first use.
    D get() {
        if (!d_) FERRUM_CUDA_CHECK(Create(&d_));
        return d_;
    }
    explicit operator bool() const noexcept { return d_ != nullptr; }

private:
    void reset() noexcept {
        if (d_) Destroy(d_);
        d_ = nullptr;
    }
    D d_ = nullptr;
};

using rnn_descriptor = owned<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using rnn_data_descriptor =
    owned<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor, cudnnDestroyRNNDataDescriptor>;
using dropout_descriptor = owned<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor>;
using tensor_descriptor = owned<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;

}  // namespace ferrum::backend::cudnn_detail
