// CPU (Eigen) kernels of the convolutional layers on feature-major chunks (features x steps*batch, column
// t * batch + b): 1-D convolution as im2col + one GEMM (Chellapilla, Puri & Simard 2006), batch
// normalisation over channels (Ioffe & Szegedy 2015, Algorithm 1; the backward pass of its section 3),
// max/average pooling over time and global pooling. Every sample is computed as if it were alone and cut
// at its own length: taps, windows and statistics never read a step past it; padded output steps are zero
// and padded input steps get zero gradient. Host memory, so every backend uses them (CPU-only for now).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "ferrum/backend/cpu/attention_kernels.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend::conv_cpu {

using Index = Eigen::Index;
template <class T>
using matrix = nn::matrix<T>;
template <class T>
using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
using attention_cpu::valid_steps;

/// The time geometry of a convolution or pooling window: output step t reads input steps
/// t * stride - pad_left + k * dilation, k = 0 .. kernel - 1 (those outside [0, length) read zero).
struct window {
    Index kernel = 1, stride = 1, dilation = 1, pad_left = 0, pad_right = 0;
    /// Output steps of a sequence of `steps` input steps (0: too short for one window).
    Index output_steps(Index steps) const noexcept {
        const Index span = dilation * (kernel - 1) + 1, padded = steps + pad_left + pad_right;
        return padded < span ? 0 : (padded - span) / stride + 1;
    }
    Index input_step(Index t, Index k) const noexcept { return t * stride - pad_left + k * dilation; }
};

/// Valid output steps of sample b of a chunk whose input has valid lengths in ctx.
inline Index output_length(const window& w, const nn::chunk_info& ctx, Index b) noexcept {
    return w.output_steps(valid_steps(ctx, b));
}

/// Zeroes the columns of m (features x out_steps * B) past each sample's output length.
template <class T>
void zero_past_output(const window& w, const nn::chunk_info& ctx, Index out_steps, matrix<T>& m) {
    if (!ctx.lengths) return;
    const Index B = ctx.batch;
    for (Index b = 0; b < B; ++b)
        for (Index t = output_length(w, ctx, b); t < out_steps; ++t) m.col(t * B + b).setZero();
}

// ---------------------------------------------------------------------------------------------------------
// conv1d

template <class T>
struct conv1d_cache {
    matrix<T> col;   ///< (kernel * in) x (out_steps * B): row k * in + c holds input channel c at tap k
    matrix<T> wk;    ///< out x (kernel * in): the weight [out, in, kernel] reordered to col's rows
    matrix<T> dcol;  ///< gradient of col
    matrix<T> dy;    ///< dy with padded steps zeroed (masked sequences only)
};

/// col from x (in x S*B): one B-column block copy per (tap, output step); taps past a sample's length read 0.
template <class T>
void im2col(const window& w, const matrix<T>& x, const nn::chunk_info& ctx, Index So, matrix<T>& col) {
    const Index C = x.rows(), B = ctx.batch, S = ctx.steps;
    col.resize(w.kernel * C, So * B);
    for (Index k = 0; k < w.kernel; ++k)
        for (Index t = 0; t < So; ++t) {
            const Index ti = w.input_step(t, k);
            auto dst = col.block(k * C, t * B, C, B);
            if (ti < 0 || ti >= S) {
                dst.setZero();
                continue;
            }
            dst = x.middleCols(ti * B, B);
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if (ti >= valid_steps(ctx, b)) dst.col(b).setZero();
        }
}

/// Reorders weight [out, in, kernel] (PyTorch's layout) into wk (out x kernel * in).
template <class T>
void reorder_weight(const T* weight, Index out, Index in, Index kernel, matrix<T>& wk) {
    wk.resize(out, kernel * in);
    for (Index o = 0; o < out; ++o)
        for (Index c = 0; c < in; ++c)
            for (Index k = 0; k < kernel; ++k) wk(o, k * in + c) = weight[(o * in + c) * kernel + k];
}

/// y (out x So*B) = W * im2col(x) + bias; zero past each sample's output length.
template <class T>
void conv1d_forward(const window& w, const T* weight, const T* bias, Index out, const matrix<T>& x,
                    const nn::chunk_info& ctx, matrix<T>& y, conv1d_cache<T>& c) {
    const Index So = w.output_steps(ctx.steps);
    reorder_weight(weight, out, x.rows(), w.kernel, c.wk);
    im2col(w, x, ctx, So, c.col);
    y.resize(out, So * ctx.batch);
    y.noalias() = c.wk * c.col;
    if (bias) y.colwise() += nn::detail::const_vector_map<T>(bias, out);
    zero_past_output(w, ctx, So, y);
}

/// Accumulates d weight and d bias; writes dx (zero at padded input steps) when not null.
template <class T>
void conv1d_backward(const window& w, Index out, const matrix<T>& x, const matrix<T>& dy_in, const nn::chunk_info& ctx,
                     T* grad_weight, T* grad_bias, matrix<T>* dx, conv1d_cache<T>& c) {
    const Index C = x.rows(), B = ctx.batch, S = ctx.steps, So = w.output_steps(S);
    const matrix<T>* dy = &dy_in;
    if (ctx.lengths) {
        c.dy = dy_in;
        zero_past_output(w, ctx, So, c.dy);
        dy = &c.dy;
    }
    c.dcol.resize(out, w.kernel * C);
    c.dcol.noalias() = *dy * c.col.transpose();  // d wk
    for (Index o = 0; o < out; ++o)
        for (Index ch = 0; ch < C; ++ch)
            for (Index k = 0; k < w.kernel; ++k) grad_weight[(o * C + ch) * w.kernel + k] += c.dcol(o, k * C + ch);
    if (grad_bias) nn::detail::vector_map<T>(grad_bias, out) += dy->rowwise().sum();
    if (!dx) return;
    c.dcol.resize(w.kernel * C, So * B);
    c.dcol.noalias() = c.wk.transpose() * *dy;
    dx->setZero(C, S * B);
    for (Index k = 0; k < w.kernel; ++k)  // col2im
        for (Index t = 0; t < So; ++t) {
            const Index ti = w.input_step(t, k);
            if (ti >= 0 && ti < S) dx->middleCols(ti * B, B) += c.dcol.block(k * C, t * B, C, B);
        }
    attention_cpu::zero_padded(*dx, ctx);
}

// ---------------------------------------------------------------------------------------------------------
// batch normalisation

/// One chunk's statistics over its valid columns: count, per-channel mean and sum of squared deviations.
struct moments {
    std::size_t first_sample = 0;
    double count = 0;
    std::vector<double> mean, m2;
};

template <class T>
struct batch_norm_cache {
    matrix<T> xhat;   ///< normalised input (zero at padded steps)
    vector<T> scale;  ///< 1 / sqrt(var + eps) per channel, as used in the forward pass
    vector<T> mask;   ///< 1 at valid columns, 0 at padded ones (masked sequences only)
    vector<T> tmp, tmp2;
    matrix<T> dy;
    double count = 0;
    bool batch_statistics = false;
};

/// Column mask of a chunk block: 1 at valid columns (all of them for tables and unmasked chunks).
template <class T>
void valid_columns(const matrix<T>& x, const nn::chunk_info& ctx, vector<T>& mask) {
    mask.setOnes(x.cols());
    if (!attention_cpu::masked_sequence(x, ctx)) return;
    const Index B = ctx.batch;
    for (Index b = 0; b < B; ++b)
        for (Index t = valid_steps(ctx, b); t < ctx.steps; ++t) mask(t * B + b) = T(0);
}

/// Training: normalises with this chunk's biased variance over valid columns and returns its moments
/// (for the running statistics). Inference (batch_statistics false): normalises with mean/var given.
template <class T>
moments batch_norm_forward(const T* gamma, const T* beta, const T* mean_in, const T* var_in, double eps,
                           bool batch_statistics, const matrix<T>& x, const nn::chunk_info& ctx, matrix<T>& y,
                           batch_norm_cache<T>& c) {
    const Index C = x.rows();
    valid_columns(x, ctx, c.mask);
    moments m;
    c.batch_statistics = batch_statistics;
    vector<T> mean(C);
    c.scale.resize(C);
    if (batch_statistics) {
        c.count = static_cast<double>(c.mask.sum());
        mean.noalias() = x * c.mask / static_cast<T>(c.count);
        c.xhat = x.colwise() - mean;
        c.xhat.array().rowwise() *= c.mask.transpose().array();
        c.tmp = c.xhat.array().square().rowwise().sum();  // n * biased variance
        m.count = c.count;
        m.mean.assign(mean.data(), mean.data() + C);
        m.m2.assign(c.tmp.data(), c.tmp.data() + C);
        c.scale = (c.tmp.array() / static_cast<T>(c.count) + static_cast<T>(eps)).rsqrt();
    } else {
        mean = nn::detail::const_vector_map<T>(mean_in, C);
        c.scale = (nn::detail::const_vector_map<T>(var_in, C).array() + static_cast<T>(eps)).rsqrt();
        c.xhat = x.colwise() - mean;
        c.xhat.array().rowwise() *= c.mask.transpose().array();
    }
    c.xhat.array().colwise() *= c.scale.array();
    y = c.xhat;
    y.array().colwise() *= nn::detail::const_vector_map<T>(gamma, C).array();
    y.colwise() += nn::detail::const_vector_map<T>(beta, C);
    y.array().rowwise() *= c.mask.transpose().array();
    return m;
}

/// Accumulates d gamma and d beta; writes dx when not null. With batch statistics, dx includes the paths
/// through the chunk's mean and variance: dx = gamma * scale / n * (n dy - sum dy - xhat sum(dy xhat)).
template <class T>
void batch_norm_backward(const T* gamma, const matrix<T>& dy_in, T* grad_gamma, T* grad_beta, matrix<T>* dx,
                         batch_norm_cache<T>& c) {
    const Index C = dy_in.rows();
    c.dy = dy_in;
    c.dy.array().rowwise() *= c.mask.transpose().array();
    c.tmp = c.dy.rowwise().sum();                              // sum dy
    c.tmp2 = (c.dy.array() * c.xhat.array()).rowwise().sum();  // sum dy xhat
    nn::detail::vector_map<T>(grad_gamma, C) += c.tmp2;
    nn::detail::vector_map<T>(grad_beta, C) += c.tmp;
    if (!dx) return;
    const auto g = nn::detail::const_vector_map<T>(gamma, C);
    if (!c.batch_statistics) {
        *dx = c.dy;
        dx->array().colwise() *= (g.array() * c.scale.array());
        return;
    }
    const T n = static_cast<T>(c.count);
    *dx = c.dy * n;
    dx->colwise() -= c.tmp;
    dx->array() -= c.xhat.array().colwise() * c.tmp2.array();
    dx->array().colwise() *= (g.array() * c.scale.array() / n);
    dx->array().rowwise() *= c.mask.transpose().array();
}

// ---------------------------------------------------------------------------------------------------------
// pooling

template <class T>
struct pooling_cache {
    std::vector<Index> argmax;  ///< max pooling: the input column each output element came from
    matrix<T> dy;
};

/// Max (is_max) or average pooling over time windows; windows never cross a sample's length (outputs past
/// its output length are zero).
template <class T>
void pool_forward(const window& w, bool is_max, const matrix<T>& x, const nn::chunk_info& ctx, matrix<T>& y,
                  pooling_cache<T>& c) {
    const Index F = x.rows(), B = ctx.batch, So = w.output_steps(ctx.steps);
    y.resize(F, So * B);
    if (is_max) c.argmax.assign(static_cast<std::size_t>(F * So * B), 0);
    if (w.pad_left || w.pad_right) {  // padded windows: per sample, taps outside [0, length) skipped
        y.setZero();
        for (Index t = 0; t < So; ++t)
            for (Index b = 0; b < B; ++b) {
                const Index L = valid_steps(ctx, b);
                if (t >= w.output_steps(L)) continue;
                auto out = y.col(t * B + b);
                bool first = true;
                for (Index k = 0; k < w.kernel; ++k) {
                    const Index s = w.input_step(t, k), col = s * B + b;
                    if (s < 0 || s >= L) continue;  // max: -inf (never picked); average: zero
                    if (!is_max) {
                        out += x.col(col);
                        continue;
                    }
                    for (Index f = 0; f < F; ++f)
                        if (first || x(f, col) > out(f)) {  // the first tap reaching the maximum, as PyTorch
                            out(f) = x(f, col);
                            c.argmax[static_cast<std::size_t>(f * So * B + t * B + b)] = col;
                        }
                    first = false;
                }
                if (!is_max) out /= static_cast<T>(w.kernel);
            }
        return;
    }
    for (Index t = 0; t < So; ++t) {
        auto out = y.middleCols(t * B, B);
        out = x.middleCols(w.input_step(t, 0) * B, B);
        for (Index k = 1; k < w.kernel; ++k) {
            const auto in = x.middleCols(w.input_step(t, k) * B, B);
            if (is_max) out = out.cwiseMax(in);
            else out += in;
        }
        if (!is_max) out /= static_cast<T>(w.kernel);
        else  // the first tap reaching the maximum, as PyTorch's kernel
            for (Index f = 0; f < F; ++f)
                for (Index b = 0; b < B; ++b)
                    for (Index k = 0; k < w.kernel; ++k) {
                        const Index col = w.input_step(t, k) * B + b;
                        if (x(f, col) == out(f, b)) {
                            c.argmax[static_cast<std::size_t>(f * So * B + t * B + b)] = col;
                            break;
                        }
                    }
    }
    zero_past_output(w, ctx, So, y);
}

template <class T>
void pool_backward(const window& w, bool is_max, const matrix<T>& x, const matrix<T>& dy_in, const nn::chunk_info& ctx,
                   matrix<T>& dx, pooling_cache<T>& c) {
    const Index F = x.rows(), B = ctx.batch, S = ctx.steps, So = w.output_steps(S);
    c.dy = dy_in;
    zero_past_output(w, ctx, So, c.dy);
    dx.setZero(F, S * B);
    if (is_max) {
        for (Index f = 0; f < F; ++f)
            for (Index j = 0; j < So * B; ++j) dx(f, c.argmax[static_cast<std::size_t>(f * So * B + j)]) += c.dy(f, j);
        return;
    }
    const T inv = T(1) / static_cast<T>(w.kernel);
    if (w.pad_left || w.pad_right) {
        for (Index t = 0; t < So; ++t)
            for (Index b = 0; b < B; ++b) {
                const Index L = valid_steps(ctx, b);
                for (Index k = 0; k < w.kernel; ++k) {
                    const Index s = w.input_step(t, k);
                    if (s >= 0 && s < L) dx.col(s * B + b) += c.dy.col(t * B + b) * inv;
                }
            }
        return;
    }
    for (Index t = 0; t < So; ++t)
        for (Index k = 0; k < w.kernel; ++k)
            dx.middleCols(w.input_step(t, k) * B, B) += c.dy.middleCols(t * B, B) * inv;
}

/// Weight of step t of every sample in a global average: 1 / length, 0 past the sample's length. w has
/// ctx.batch elements (sized once by the caller: a resize in the loop trips g++ 12's -Wuse-after-free on
/// Eigen's storage, a false positive).
template <class T>
void average_weights(const nn::chunk_info& ctx, Index t, vector<T>& w) {
    for (Index b = 0; b < ctx.batch; ++b) {
        const Index L = valid_steps(ctx, b);
        w(b) = t < L ? T(1) / static_cast<T>(L) : T(0);
    }
}

/// Global average (is_max false) or max pooling over each sample's valid steps: y is F x B.
template <class T>
void global_pool_forward(bool is_max, const matrix<T>& x, const nn::chunk_info& ctx, matrix<T>& y,
                         pooling_cache<T>& c) {
    const Index F = x.rows(), B = ctx.batch, S = x.cols() / B;
    y.setZero(F, B);
    if (!is_max) {
        vector<T> w(B);
        for (Index t = 0; t < S; ++t) {
            average_weights(ctx, t, w);
            y.noalias() += x.middleCols(t * B, B) * w.asDiagonal();
        }
        return;
    }
    c.argmax.assign(static_cast<std::size_t>(F * B), 0);
    for (Index f = 0; f < F; ++f)
        for (Index b = 0; b < B; ++b) {
            const Index L = valid_steps(ctx, b);
            Index best = b;
            for (Index t = 1; t < L; ++t)
                if (x(f, t * B + b) > x(f, best)) best = t * B + b;
            y(f, b) = x(f, best);
            c.argmax[static_cast<std::size_t>(f * B + b)] = best;
        }
}

template <class T>
void global_pool_backward(bool is_max, const matrix<T>& x, const matrix<T>& dy, const nn::chunk_info& ctx,
                          matrix<T>& dx, const pooling_cache<T>& c) {
    const Index F = x.rows(), B = ctx.batch, S = x.cols() / B;
    dx.setZero(F, x.cols());
    if (!is_max) {
        vector<T> w(B);
        for (Index t = 0; t < S; ++t) {
            average_weights(ctx, t, w);
            dx.middleCols(t * B, B).noalias() = dy * w.asDiagonal();
        }
        return;
    }
    for (Index f = 0; f < F; ++f)
        for (Index b = 0; b < B; ++b) dx(f, c.argmax[static_cast<std::size_t>(f * B + b)]) += dy(f, b);
}

}  // namespace ferrum::backend::conv_cpu
