// CPU (Eigen) kernels of the dense layer y = f(W x + b) on feature-major chunks: one GEMM forward,
// and for backward dA = dY * f'(y), dW += dA X^T, db += rowsum(dA), dX = W^T dA (three GEMM-shaped ops).
#pragma once

#include "ferrum/backend/kernel_traits.hpp"
#include "ferrum/nn/activation.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend {

template <class T>
struct dense_kernels<ferrum::backend::cpu, T> {
    using weights = dense_weights<T>;
    using grads = dense_grads<T>;
    struct cache {
        nn::matrix<T> da;  ///< backward workspace (out x columns)
    };

    /// y (out x cols) = f(W x + b).
    static void forward(const weights& p, const nn::matrix<T>& x, nn::matrix<T>& y) {
        nn::detail::const_matrix_map<T> W(p.w, p.out, p.in);
        y.resize(p.out, x.cols());
        y.noalias() = W * x;
        for (Eigen::Index i = 0; i < p.out; ++i) y.row(i).array() += p.b[i];
        nn::detail::apply_activation(p.act, y.array());
    }

    /// Accumulates parameter gradients; writes dx (in x cols) when dx is not null.
    static void backward(const weights& p, const nn::matrix<T>& x, const nn::matrix<T>& y, const nn::matrix<T>& dy,
                         cache& c, const grads& g, nn::matrix<T>* dx) {
        nn::detail::const_matrix_map<T> W(p.w, p.out, p.in);
        c.da = dy;
        nn::detail::multiply_activation_derivative(p.act, c.da.array(), y.array());
        nn::detail::matrix_map<T>(g.w, p.out, p.in).noalias() += c.da * x.transpose();
        nn::detail::vector_map<T>(g.b, p.out) += c.da.rowwise().sum();
        if (dx) {
            dx->resize(p.in, x.cols());
            dx->noalias() = W.transpose() * c.da;
        }
    }
};

}  // namespace ferrum::backend
