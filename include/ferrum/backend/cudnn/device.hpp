// Device plumbing of the cuDNN backend: every CUDA / cuDNN / cuBLAS status turned into a ferrum::error
// naming the call, move-only device buffers, and contexts (a cuDNN + cuBLAS handle pair bound to its own
// non-blocking stream) leased to one kernel call at a time: handles are not safe to share between
// threads, and the graph engine runs its chunks on several threads.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <dlfcn.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "ferrum/core/error.hpp"

namespace ferrum::backend {

/// \brief Whether this machine has a CUDA device ferrum can use (probe_cuda_devices()).
struct cuda_presence {
    enum class state {
        usable,  ///< at least one device
        absent,  ///< no device, or no NVIDIA driver installed at all: nothing to run on (tests skip)
        broken   ///< a driver is installed but the runtime cannot use it (too old, a failed init): an error
    };
    state status = state::absent;
    int devices = 0;
    std::string why;  ///< the runtime's own words when not usable
};

/// \brief Asks the CUDA runtime for devices and tells "there is no GPU here" (no device, or no driver
/// library `libcuda.so.1` on the machine) apart from "there is one and it cannot be used" (an installed
/// driver older than the runtime, say), which a program must report as an error rather than skip.
inline cuda_presence probe_cuda_devices() {
    cuda_presence p;
    const cudaError_t s = cudaGetDeviceCount(&p.devices);
    if (s == cudaSuccess) {
        p.status = p.devices > 0 ? cuda_presence::state::usable : cuda_presence::state::absent;
        if (p.devices == 0) p.why = "0 devices";
        return p;
    }
    p.devices = 0;
    p.why = std::string(cudaGetErrorName(s)) + ": " + cudaGetErrorString(s);
    bool driver_installed = false;
    if (void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
        driver_installed = true;
        dlclose(h);
    }
    if (s == cudaErrorNoDevice || (s == cudaErrorInsufficientDriver && !driver_installed)) {
        if (!driver_installed) p.why += " (no NVIDIA driver installed: libcuda.so.1 not found)";
        p.status = cuda_presence::state::absent;
    } else {
        p.status = cuda_presence::state::broken;
    }
    return p;
}

}  // namespace ferrum::backend

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

    /// Waits for everything queued on this context's stream (the one host synchronisation per kernel call).
    void sync() const { FERRUM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

    void upload(void* dst, const void* src, std::size_t bytes) const {
        FERRUM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    }
    void download(void* dst, const void* src, std::size_t bytes) const {
        FERRUM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    }
    void zero(void* dst, std::size_t bytes) const { FERRUM_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream_)); }

    /// Device scratch for kernels whose layer keeps no per-chunk cache (the dense forward).
    std::array<device_buffer, 6> scratch;

private:
    cudaStream_t stream_ = nullptr;
    cudnnHandle_t dnn_ = nullptr;
    cublasHandle_t blas_ = nullptr;
};

/// A process-wide free list of contexts. The graph engine starts fresh worker threads for every pass, so
/// a context per thread would create and destroy cuDNN/cuBLAS handles (milliseconds each) every pass;
/// a lease takes an idle context (or makes one) and returns it when the kernel call ends.
class context_pool {
public:
    std::unique_ptr<context> take() {
        {
            std::lock_guard<std::mutex> lock(m_);
            if (!idle_.empty()) {
                auto c = std::move(idle_.back());
                idle_.pop_back();
                return c;
            }
        }
        return std::make_unique<context>();
    }
    void give(std::unique_ptr<context> c) noexcept {
        std::lock_guard<std::mutex> lock(m_);
        try {
            idle_.push_back(std::move(c));
        } catch (...) {  // out of memory for the list: let the context go
        }
    }
    /// Never destroyed: destroying handles after the CUDA runtime has shut down at process exit can
    /// crash (PyTorch leaks its handle pool for the same reason); the driver reclaims everything.
    static context_pool& instance() {
        static context_pool* p = new context_pool;
        return *p;
    }

private:
    std::mutex m_;
    std::vector<std::unique_ptr<context>> idle_;
};

/// Exclusive use of one context for the duration of one kernel call.
class context_lease {
public:
    context_lease() : c_(context_pool::instance().take()) {}
    context_lease(const context_lease&) = delete;
    context_lease& operator=(const context_lease&) = delete;
    ~context_lease() { context_pool::instance().give(std::move(c_)); }
    context& operator*() const noexcept { return *c_; }
    context* operator->() const noexcept { return c_.get(); }

private:
    std::unique_ptr<context> c_;
};

}  // namespace ferrum::backend::cudnn_detail
