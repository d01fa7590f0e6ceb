// CPU (Eigen) kernels of the attention layers on feature-major chunks (features x steps*batch, column
// t * batch + b): layer normalisation (Ba et al. 2016), exact GELU (Hendrycks & Gimpel 2016), scaled
// dot-product multi-head self-attention (Vaswani et al. 2017, eq. 1 and the MultiHead definition of 3.2.2)
// and attention pooling over time (additive: Bahdanau et al. 2015, eq. 6; dot: a learned query). Each
// sample attends only to its own valid steps; padded steps produce zeros and receive zero gradient.
// These kernels work on host memory, so every backend uses them (the attention layers are CPU-only for now).
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend::attention_cpu {

using Index = Eigen::Index;
template <class T>
using matrix = nn::matrix<T>;
template <class T>
using row_vector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

/// Steps of sample b that are valid (all of them when the chunk is not masked).
inline Index valid_steps(const nn::chunk_info& ctx, Index b) noexcept {
    return ctx.lengths ? static_cast<Index>((*ctx.lengths)[static_cast<std::size_t>(b)]) : ctx.steps;
}
/// Whether m is a masked sequence block of this chunk (tabular blocks have batch columns only).
template <class T>
bool masked_sequence(const matrix<T>& m, const nn::chunk_info& ctx) noexcept {
    return ctx.lengths && ctx.steps > 1 && m.cols() == ctx.steps * ctx.batch;
}
/// Zeroes the columns of m past each sample's length.
template <class T>
void zero_padded(matrix<T>& m, const nn::chunk_info& ctx) {
    if (!masked_sequence(m, ctx)) return;
    for (Index b = 0; b < ctx.batch; ++b)
        for (Index t = valid_steps(ctx, b); t < ctx.steps; ++t) m.col(t * ctx.batch + b).setZero();
}
/// dy itself, or (for a masked sequence) a copy in `buf` with padded steps zeroed: a layer's parameter
/// gradients never see what an upstream layer left at padded steps.
template <class T>
const matrix<T>& masked_gradient(const matrix<T>& dy, const nn::chunk_info& ctx, matrix<T>& buf) {
    if (!masked_sequence(dy, ctx)) return dy;
    buf = dy;
    zero_padded(buf, ctx);
    return buf;
}

/// Reorders columns t * B + b (time-major, the engine's layout) to b * S + t (sample-major), so each
/// sample's steps are one contiguous block of columns; to_time_major = false. The inverse: true.
template <class T>
void reorder_columns(const matrix<T>& src, Index S, Index B, bool to_time_major, matrix<T>& dst) {
    dst.resize(src.rows(), S * B);
    for (Index r = 0; r < src.rows(); ++r) {
        const T* s = src.row(r).data();
        T* d = dst.row(r).data();
        for (Index t = 0; t < S; ++t)
            for (Index b = 0; b < B; ++b) {
                if (to_time_major) d[t * B + b] = s[b * S + t];
                else d[b * S + t] = s[t * B + b];
            }
    }
}
template <class T>
void to_sample_major(const matrix<T>& src, Index S, Index B, matrix<T>& dst) {
    reorder_columns(src, S, B, false, dst);
}
template <class T>
void from_sample_major(const matrix<T>& src, Index S, Index B, matrix<T>& dst) {
    reorder_columns(src, S, B, true, dst);
}

// ---- layer normalisation over features: y = (x - mean) / sqrt(var + eps) * gamma + beta ------------------

template <class T>
struct layer_norm_cache {
    matrix<T> xhat;      ///< normalised input
    row_vector<T> rstd;  ///< 1 / sqrt(var + eps) per column
    matrix<T> dxhat;     ///< backward workspace
};

template <class T>
void layer_norm_forward(const T* gamma, const T* beta, T eps, const matrix<T>& x, matrix<T>& y,
                        layer_norm_cache<T>& c) {
    const Index F = x.rows();
    nn::detail::const_vector_map<T> g(gamma, F), be(beta, F);
    const row_vector<T> mean = x.colwise().mean();
    c.xhat = x.rowwise() - mean;
    c.rstd = ((c.xhat.array().square().colwise().sum() / static_cast<T>(F)) + eps).rsqrt().matrix();
    c.xhat.array().rowwise() *= c.rstd.array();
    y.resize(F, x.cols());
    y.array() = (c.xhat.array().colwise() * g.array()).colwise() + be.array();
}

/// Accumulates d gamma and d beta; writes dx (dy must be zero where the output was discarded).
template <class T>
void layer_norm_backward(const T* gamma, const matrix<T>& dy, layer_norm_cache<T>& c, T* dgamma, T* dbeta,
                         matrix<T>& dx) {
    const Index F = dy.rows();
    nn::detail::const_vector_map<T> g(gamma, F);
    nn::detail::vector_map<T>(dgamma, F) += (dy.array() * c.xhat.array()).rowwise().sum().matrix();
    nn::detail::vector_map<T>(dbeta, F) += dy.rowwise().sum();
    c.dxhat.resize(F, dy.cols());
    c.dxhat.array() = dy.array().colwise() * g.array();
    const row_vector<T> m1 = c.dxhat.colwise().mean();
    const row_vector<T> m2 = (c.dxhat.array() * c.xhat.array()).colwise().mean().matrix();
    dx.resize(F, dy.cols());
    dx.array() = ((c.dxhat.rowwise() - m1).array() - c.xhat.array().rowwise() * m2.array()).rowwise() * c.rstd.array();
}

// ---- GELU, exact: x * Phi(x) (torch.nn.GELU(approximate='none')) -------------------------------------

template <class T>
void gelu_forward(const matrix<T>& x, matrix<T>& y) {
    y.resize(x.rows(), x.cols());
    const T r2 = T(1) / std::sqrt(T(2));
    y.array() = x.array().unaryExpr([r2](T v) { return T(0.5) * v * (T(1) + std::erf(v * r2)); });
}
/// dx = dy * (Phi(x) + x phi(x)).
template <class T>
void gelu_backward(const matrix<T>& x, const matrix<T>& dy, matrix<T>& dx) {
    const T r2 = T(1) / std::sqrt(T(2)), rpi = T(1) / std::sqrt(T(2) * T(3.14159265358979323846));
    dx.resize(x.rows(), x.cols());
    dx.array() = dy.array() * x.array().unaryExpr([r2, rpi](T v) {
        return T(0.5) * (T(1) + std::erf(v * r2)) + v * rpi * std::exp(T(-0.5) * v * v);
    });
}

// ---- multi-head self-attention (torch.nn.MultiheadAttention, batch_first, key_padding_mask) --------------

template <class T>
struct mha_weights {
    const T* in_w;   ///< [3E, E]: q, k, v projections
    const T* in_b;   ///< [3E]
    const T* out_w;  ///< [E, E]
    const T* out_b;  ///< [E]
    Index embed, heads;
};
template <class T>
struct mha_grads {
    T *in_w, *in_b, *out_w, *out_b;
};
template <class T>
struct mha_cache {
    matrix<T> qkv;                 ///< 3E x steps*batch, sample-major
    matrix<T> attn;                ///< E x steps*batch, sample-major: the heads' outputs, concatenated
    matrix<T> attn_t;              ///< the same, time-major (the output projection's input)
    std::vector<matrix<T>> probs;  ///< per (sample, head): softmax weights, L x L (row = query)
    matrix<T> dy, tmp, dqkv, dqkv_t, dp;
};

/// y = out_proj(concat_h softmax(Q_h^T K_h / sqrt(E/H)) V_h), each sample over its own valid steps.
template <class T>
void mha_forward(const mha_weights<T>& p, const matrix<T>& x, const nn::chunk_info& ctx, matrix<T>& y,
                 mha_cache<T>& c) {
    const Index E = p.embed, H = p.heads, dh = E / H, B = ctx.batch, S = x.cols() / B;
    nn::detail::const_matrix_map<T> Win(p.in_w, 3 * E, E), Wout(p.out_w, E, E);
    c.tmp.resize(3 * E, x.cols());
    c.tmp.noalias() = Win * x;
    c.tmp.colwise() += nn::detail::const_vector_map<T>(p.in_b, 3 * E);
    to_sample_major(c.tmp, S, B, c.qkv);
    c.attn.setZero(E, x.cols());
    c.probs.resize(static_cast<std::size_t>(B * H));
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    for (Index b = 0; b < B; ++b) {
        const Index L = valid_steps(ctx, b), col = b * S;
        for (Index h = 0; h < H; ++h) {
            auto& P = c.probs[static_cast<std::size_t>(b * H + h)];
            const auto Q = c.qkv.block(h * dh, col, dh, L), K = c.qkv.block(E + h * dh, col, dh, L),
                       V = c.qkv.block(2 * E + h * dh, col, dh, L);
            P.resize(L, L);
            P.noalias() = Q.transpose() * K;
            P *= scale;
            const Eigen::Matrix<T, Eigen::Dynamic, 1> m = P.rowwise().maxCoeff();
            P.array() = (P.colwise() - m).array().exp();
            const Eigen::Matrix<T, Eigen::Dynamic, 1> s = P.rowwise().sum();
            P.array().colwise() /= s.array();
            c.attn.block(h * dh, col, dh, L).noalias() = V * P.transpose();
        }
    }
    from_sample_major(c.attn, S, B, c.attn_t);
    y.resize(E, x.cols());
    y.noalias() = Wout * c.attn_t;
    y.colwise() += nn::detail::const_vector_map<T>(p.out_b, E);
    zero_padded(y, ctx);
}

/// Accumulates the four parameter gradients; writes dx when not null (zero at padded steps).
template <class T>
void mha_backward(const mha_weights<T>& p, const matrix<T>& x, const matrix<T>& dy_in, const nn::chunk_info& ctx,
                  const mha_grads<T>& g, matrix<T>* dx, mha_cache<T>& c) {
    const Index E = p.embed, H = p.heads, dh = E / H, B = ctx.batch, S = x.cols() / B;
    nn::detail::const_matrix_map<T> Win(p.in_w, 3 * E, E), Wout(p.out_w, E, E);
    const matrix<T>& dy = masked_gradient(dy_in, ctx, c.dy);
    nn::detail::matrix_map<T>(g.out_w, E, E).noalias() += dy * c.attn_t.transpose();
    nn::detail::vector_map<T>(g.out_b, E) += dy.rowwise().sum();
    c.tmp.resize(E, x.cols());
    c.tmp.noalias() = Wout.transpose() * dy;
    to_sample_major(c.tmp, S, B, c.attn);  // attn now holds d(attn), sample-major
    c.dqkv.setZero(3 * E, x.cols());
    const T scale = T(1) / std::sqrt(static_cast<T>(dh));
    for (Index b = 0; b < B; ++b) {
        const Index L = valid_steps(ctx, b), col = b * S;
        for (Index h = 0; h < H; ++h) {
            const auto& P = c.probs[static_cast<std::size_t>(b * H + h)];
            const auto Q = c.qkv.block(h * dh, col, dh, L), K = c.qkv.block(E + h * dh, col, dh, L),
                       V = c.qkv.block(2 * E + h * dh, col, dh, L);
            const auto dO = c.attn.block(h * dh, col, dh, L);
            c.dqkv.block(2 * E + h * dh, col, dh, L).noalias() = dO * P;
            c.dp.resize(L, L);
            c.dp.noalias() = dO.transpose() * V;
            // softmax backward: dS = P o (dP - rowsum(dP o P)), then the 1/sqrt(dh) scaling
            const Eigen::Matrix<T, Eigen::Dynamic, 1> r = (c.dp.array() * P.array()).rowwise().sum().matrix();
            c.dp.array() = P.array() * (c.dp.colwise() - r).array() * scale;
            c.dqkv.block(h * dh, col, dh, L).noalias() = K * c.dp.transpose();
            c.dqkv.block(E + h * dh, col, dh, L).noalias() = Q * c.dp;
        }
    }
    from_sample_major(c.dqkv, S, B, c.dqkv_t);
    nn::detail::matrix_map<T>(g.in_w, 3 * E, E).noalias() += c.dqkv_t * x.transpose();
    nn::detail::vector_map<T>(g.in_b, 3 * E) += c.dqkv_t.rowwise().sum();
    if (dx) {
        dx->resize(E, x.cols());
        dx->noalias() = Win.transpose() * c.dqkv_t;
    }
}

// ---- attention pooling over time: alpha = softmax_t(e_t) over valid steps, y = sum_t alpha_t x_t -------

/// Parameters of the scoring function: additive e_t = v^T tanh(W x_t + b) (W [A, F], b [A], v [A]),
/// or dot e_t = q^T x_t / sqrt(F) (query [F]; w, b, v null).
template <class T>
struct pooling_weights {
    const T* w;
    const T* b;
    const T* v;
    const T* query;
    Index features, attention;
};
template <class T>
struct pooling_grads {
    T *w, *b, *v, *query;
};
template <class T>
struct pooling_cache {
    matrix<T> u;      ///< additive: tanh(W x + b), A x steps*batch
    matrix<T> alpha;  ///< steps x batch (row t, column b): the weights, zero past a sample's length
    matrix<T> de;     ///< backward: d loss / d score, steps x batch
    matrix<T> du;     ///< backward workspace
};

template <class T>
void pooling_forward(const pooling_weights<T>& p, const matrix<T>& x, const nn::chunk_info& ctx, matrix<T>& y,
                     pooling_cache<T>& c) {
    const Index F = p.features, B = ctx.batch, S = x.cols() / B;
    c.alpha.resize(S, B);
    Eigen::Map<row_vector<T>> e(c.alpha.data(), S * B);  // alpha(t, b) is column t * B + b
    if (p.query) {
        e.noalias() = nn::detail::const_vector_map<T>(p.query, F).transpose() * x;
        e *= T(1) / std::sqrt(static_cast<T>(F));
    } else {
        const Index A = p.attention;
        c.u.resize(A, x.cols());
        c.u.noalias() = nn::detail::const_matrix_map<T>(p.w, A, F) * x;
        c.u.colwise() += nn::detail::const_vector_map<T>(p.b, A);
        c.u.array() = c.u.array().tanh();
        e.noalias() = nn::detail::const_vector_map<T>(p.v, A).transpose() * c.u;
    }
    for (Index b = 0; b < B; ++b)
        for (Index t = valid_steps(ctx, b); t < S; ++t) c.alpha(t, b) = -std::numeric_limits<T>::infinity();
    const row_vector<T> m = c.alpha.colwise().maxCoeff();
    c.alpha.array() = (c.alpha.rowwise() - m).array().exp();
    const row_vector<T> s = c.alpha.colwise().sum();
    c.alpha.array().rowwise() /= s.array();
    y.setZero(F, B);
    for (Index t = 0; t < S; ++t) y.array() += x.middleCols(t * B, B).array().rowwise() * c.alpha.row(t).array();
}

template <class T>
void pooling_backward(const pooling_weights<T>& p, const matrix<T>& x, const matrix<T>& dy, const nn::chunk_info& ctx,
                      const pooling_grads<T>& g, matrix<T>* dx, pooling_cache<T>& c) {
    const Index F = p.features, B = ctx.batch, S = x.cols() / B;
    c.de.resize(S, B);
    for (Index t = 0; t < S; ++t) c.de.row(t) = (x.middleCols(t * B, B).array() * dy.array()).colwise().sum().matrix();
    // softmax backward over each sample's steps (alpha = 0 past the length, so de is too)
    const row_vector<T> r = (c.de.array() * c.alpha.array()).colwise().sum().matrix();
    c.de.array() = c.alpha.array() * (c.de.rowwise() - r).array();
    const Eigen::Map<const row_vector<T>> de(c.de.data(), S * B);
    if (dx) {
        dx->resize(F, x.cols());
        for (Index t = 0; t < S; ++t) dx->middleCols(t * B, B).array() = dy.array().rowwise() * c.alpha.row(t).array();
    }
    if (p.query) {
        const T scale = T(1) / std::sqrt(static_cast<T>(F));
        nn::detail::const_vector_map<T> q(p.query, F);
        nn::detail::vector_map<T>(g.query, F).noalias() += scale * (x * de.transpose());
        if (dx) dx->noalias() += (scale * q) * de;
    } else {
        const Index A = p.attention;
        nn::detail::const_vector_map<T> v(p.v, A);
        nn::detail::vector_map<T>(g.v, A).noalias() += c.u * de.transpose();
        c.du.resize(A, x.cols());
        c.du.noalias() = v * de;
        c.du.array() *= T(1) - c.u.array().square();
        nn::detail::matrix_map<T>(g.w, A, F).noalias() += c.du * x.transpose();
        nn::detail::vector_map<T>(g.b, A) += c.du.rowwise().sum();
        if (dx) dx->noalias() += nn::detail::const_matrix_map<T>(p.w, A, F).transpose() * c.du;
    }
}

// ---- positional encodings ---------------------------------------------------------------------------

/// The sinusoidal table of Vaswani et al. (2017, section 3.5), F x S: row 2i is sin(t / 10000^(2i/F)),
/// row 2i+1 cos of the same angle (as the PyTorch tutorial's PositionalEncoding).
template <class T>
void sinusoidal_table(Index F, Index S, matrix<T>& pe) {
    if (pe.rows() == F && pe.cols() == S) return;
    pe.resize(F, S);
    for (Index i = 0; i < F; i += 2) {
        const double freq = std::exp(static_cast<double>(i) * (-std::log(10000.0) / static_cast<double>(F)));
        for (Index t = 0; t < S; ++t) {
            const double a = static_cast<double>(t) * freq;
            pe(i, t) = static_cast<T>(std::sin(a));
            if (i + 1 < F) pe(i + 1, t) = static_cast<T>(std::cos(a));
        }
    }
}

/// y(:, t*B+b) = x(:, t*B+b) + table(:, t) for a table whose column t is step t (zero at padded steps).
template <class T, class Table>
void add_positions(const matrix<T>& x, const Table& table, const nn::chunk_info& ctx, matrix<T>& y) {
    const Index B = ctx.batch, S = x.cols() / B;
    y.resize(x.rows(), x.cols());
    for (Index t = 0; t < S; ++t) y.middleCols(t * B, B) = x.middleCols(t * B, B).colwise() + table.col(t);
    zero_padded(y, ctx);
}

}  // namespace ferrum::backend::attention_cpu
