// cuBLAS kernels of the dense layer y = f(W x + b): the three matrix products (forward W x, backward
// dW = dA X^T and dX = W^T dA) run as GEMMs on the device; the bias, the activation and its derivative
// run on the host with the CPU backend's own functions (element-wise work on a tiny output, exact parity).
#pragma once

#include <type_traits>

#include "ferrum/backend/cudnn/device.hpp"
#include "ferrum/backend/kernel_traits.hpp"
#include "ferrum/nn/activation.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend::cudnn_detail {

/// Column-major GEMM C = alpha op(A) op(B) + beta C for float and double.
inline void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc) {
    const float alpha = 1.0f;
    FERRUM_CUDA_CHECK(cublasSgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
}
inline void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* a,
                 int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    const double alpha = 1.0;
    FERRUM_CUDA_CHECK(cublasDgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
}

}  // namespace ferrum::backend::cudnn_detail

namespace ferrum::backend {

template <class T>
struct dense_kernels<ferrum::backend::cudnn, T> {
    using weights = dense_weights<T>;
    using grads = dense_grads<T>;
    struct cache {
        nn::matrix<T> da;  ///< host: dY * f'(y)
        nn::matrix<T> gw;  ///< host: this chunk's dW before it is added to the gradient
    };

    // A row-major r x c matrix is a column-major c x r one (its transpose) with leading dimension c, so
    // Y = W X (row-major) is Y^T = X^T W^T column-major: GEMM(N, N, cols, out, in, X, W).
    static void forward(const weights& p, const nn::matrix<T>& x, nn::matrix<T>& y) {
        const cudnn_detail::context_lease lease;
        auto& dev = *lease;
        scratch s(dev);
        const Eigen::Index N = x.cols();
        upload(dev, s.w, p.w, p.out * p.in);
        upload(dev, s.x, x.data(), p.in * N);
        s.y.reserve(bytes(p.out * N));
        cudnn_detail::gemm(dev.blas(), CUBLAS_OP_N, CUBLAS_OP_N, to_int(N), to_int(p.out), to_int(p.in), cp(s.x),
                           to_int(N), cp(s.w), to_int(p.in), T(0), mp(s.y), to_int(N));
        y.resize(p.out, N);
        dev.download(y.data(), s.y.get(), bytes(p.out * N));
        dev.sync();
        for (Eigen::Index i = 0; i < p.out; ++i) y.row(i).array() += p.b[i];
        nn::detail::apply_activation(p.act, y.array());
    }

    /// Accumulates parameter gradients; writes dx (in x cols) when dx is not null.
    static void backward(const weights& p, const nn::matrix<T>& x, const nn::matrix<T>& y, const nn::matrix<T>& dy,
                         cache& c, const grads& g, nn::matrix<T>* dx) {
        const cudnn_detail::context_lease lease;
        auto& dev = *lease;
        scratch s(dev);
        const Eigen::Index N = x.cols();
        c.da = dy;
        nn::detail::multiply_activation_derivative(p.act, c.da.array(), y.array());
        upload(dev, s.x, x.data(), p.in * N);
        upload(dev, s.da, c.da.data(), p.out * N);
        // dW^T (in x out, column-major) = (X^T)^T dA^T: GEMM(T, N, in, out, N, X, dA)
        s.gw.reserve(bytes(p.out * p.in));
        cudnn_detail::gemm(dev.blas(), CUBLAS_OP_T, CUBLAS_OP_N, to_int(p.in), to_int(p.out), to_int(N), cp(s.x),
                           to_int(N), cp(s.da), to_int(N), T(0), mp(s.gw), to_int(p.in));
        c.gw.resize(p.out, p.in);
        dev.download(c.gw.data(), s.gw.get(), bytes(p.out * p.in));
        if (dx) {
            // dX^T (cols x in, column-major) = dA^T W: GEMM(N, T, cols, in, out, dA, W^T)
            upload(dev, s.w, p.w, p.out * p.in);
            s.dx.reserve(bytes(p.in * N));
            cudnn_detail::gemm(dev.blas(), CUBLAS_OP_N, CUBLAS_OP_T, to_int(N), to_int(p.in), to_int(p.out), cp(s.da),
                               to_int(N), cp(s.w), to_int(p.in), T(0), mp(s.dx), to_int(N));
            dx->resize(p.in, N);
            dev.download(dx->data(), s.dx.get(), bytes(p.in * N));
        }
        dev.sync();
        nn::detail::matrix_map<T>(g.w, p.out, p.in) += c.gw;
        nn::detail::vector_map<T>(g.b, p.out) += c.da.rowwise().sum();
    }

private:
    /// Names for the leased context's device scratch.
    struct scratch {
        explicit scratch(cudnn_detail::context& c) noexcept
            : w(c.scratch[0]), x(c.scratch[1]), y(c.scratch[2]), da(c.scratch[3]), gw(c.scratch[4]), dx(c.scratch[5]) {}
        cudnn_detail::device_buffer &w, &x, &y, &da, &gw, &dx;
    };

    static const T* cp(const cudnn_detail::device_buffer& b) noexcept { return static_cast<const T*>(b.get()); }
    static T* mp(const cudnn_detail::device_buffer& b) noexcept { return static_cast<T*>(b.get()); }
    static std::size_t bytes(Eigen::Index n) noexcept { return sizeof(T) * static_cast<std::size_t>(n); }
    static int to_int(Eigen::Index n) {
        if (n > Eigen::Index(2147483647)) throw value_error("cudnn backend: a dense layer dimension exceeds 2^31-1");
        return static_cast<int>(n);
    }
    static void upload(cudnn_detail::context& dev, cudnn_detail::device_buffer& d, const T* src, Eigen::Index n) {
        d.reserve(bytes(n));
        dev.upload(d.get(), src, bytes(n));
    }
};

}  // namespace ferrum::backend
