// Device plumbing of the cuDNN backend: every CUDA / cuDNN / cuBLAS status turned into a ferrum::error
// naming the call, move-only device buffers, and one cuDNN + cuBLAS handle pair per host thread bound to
// that thread's own non-blocking stream (handles are not safe to share between threads; the graph engine
// runs its chunks on several threads).
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "ferrum/core/error.hpp"

namespace ferrum::backend::cudnn_detail {

inline void check(cudaError_t s, const char* call) {
    if (s != cudaSuccess)
        throw ferrum::error(std::string("cuda: ") + call + " failed: " + cudaGetErrorName(s) + " (" +
                            cudaGetErrorString(s) + ")");
}
inline void check(cudnnStatus_t s, const char* call) {
    if (s != CUDNN_STATUS_SUCCESS)
        throw ferrum::error(std::string("cudnn: ") + call + " failed: " + cudnnGetErrorString(s));
}
inline void check(cublasStatus_t s, const char* call) {
    if (s != CUBLAS_STATUS_SUCCESS)
        throw ferrum::error(std::string("cublas: ") + call + " failed: " + cublasGetStatusName(s) + " (" +
                            cublasGetStatusString(s) + ")");
}

/// The call's own text is the name in the message, so a failure says exactly which call it was.
#define FERRUM_CUDA_CHECK(call) ::ferrum::backend::cudnn_detail::check((call), #call)

/// Raw device memory of `bytes` bytes, grown (never shrunk) by reserve(); contents are undefined after
/// a growth. Move-only.
class device_buffer {
public:
    device_buffer() noexcept = default;
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    device_buffer(device_buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
    device_buffer& operator=(device_buffer&& o) noexcept {
        if (this != &o) {
            release();
            p_ = std::exchange(o.p_, nullptr);
            n_ = std::exchange(o.n_, 0);
        }
        return *this;
    }
    ~device_buffer() { release(); }

    void reserve(std::size_t bytes) {
        if (bytes <= n_) return;
        release();
        void* p = nullptr;
        FERRUM_CUDA_CHECK(cudaMalloc(&p, bytes));
        p_ = p;
        n_ = bytes;
    }
    void* get() const noexcept { return p_; }
    template <class U>
    U* as() const noexcept {
        return static_cast<U*>(p_);
    }
    std::size_t capacity() const noexcept { return n_; }

private:
    void release() noexcept {
        if (p_) cudaFree(p_);  // a failure here cannot be reported from a destructor; the memory is lost
        p_ = nullptr;
        n_ = 0;
    }
    void* p_ = nullptr;
    std::size_t n_ = 0;
};

/// The calling thread's stream and library handles, created on first use and destroyed at thread exit.
class context {
public:
    context() {
        FERRUM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        FERRUM_CUDA_CHECK(cudnnCreate(&dnn_));
        FERRUM_CUDA_CHECK(cudnnSetStream(dnn_, stream_));
        FERRUM_CUDA_CHECK(cublasCreate(&blas_));
        FERRUM_CUDA_CHECK(cublasSetStream(blas_, stream_));
        // Parity with the CPU backend: no TF32 in cuBLAS unless the user opts in (docs/gpu.md).
#ifdef FERRUM_CUDNN_ALLOW_TF32
        FERRUM_CUDA_CHECK(cublasSetMathMode(blas_, CUBLAS_TF32_TENSOR_OP_MATH));
#else
        FERRUM_CUDA_CHECK(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH));
#endif
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        if (blas_) cublasDestroy(blas_);
        if (dnn_) cudnnDestroy(dnn_);
        if (stream_) cudaStreamDestroy(stream_);
    }

    cudaStream_t stream() const noexcept { return stream_; }
    cudnnHandle_t dnn() const noexcept { return dnn_; }
    cublasHandle_t blas() const noexcept { return blas_; }

    /// Waits for everything queued on this thread's stream (the one host synchronisation per kernel call).
    void sync() const { FERRUM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

    void upload(void* dst, const void* src, std::size_t bytes) const {
        FERRUM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    }
    void download(void* dst, const void* src, std::size_t bytes) const {
        FERRUM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    }
    void zero(void* dst, std::size_t bytes) const { FERRUM_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream_)); }

private:
    cudaStream_t stream_ = nullptr;
    cudnnHandle_t dnn_ = nullptr;
    cublasHandle_t blas_ = nullptr;
};

/// This thread's context (one per host thread, so chunks running in parallel never share a handle).
inline context& this_thread_context() {
    thread_local context c;
    return c;
}

}  // namespace ferrum::backend::cudnn_detail
