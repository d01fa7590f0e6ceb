// CPU (Eigen) kernels of one GRU layer over a chunk, in the cuDNN / PyTorch formulation (Cho et al. 2014
// with the reset gate applied after the recurrent product): r = s(W_ir x + b_ir + W_hr h + b_hr),
// z = s(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1-z) n + z h.
// Forward: one GEMM for the input projection of every step, one small GEMM per step, fused gate loops.
// Backward: exact BPTT; the weight gradients of all steps are two large GEMMs after the time loop.
#pragma once

#include <vector>

#include "ferrum/nn/detail/block.hpp"
#include "ferrum/nn/detail/kernel_traits.hpp"

namespace ferrum::nn::detail {

template <class T>
struct gru_kernels<ferrum::backend::cpu, T> {
    using Index = Eigen::Index;
    using row = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;
    using const_row = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;

    struct weights {
        const T* w_ih;  ///< [3H, in], gate rows r, z, n
        const T* w_hh;  ///< [3H, H]
        const T* b_ih;  ///< [3H]
        const T* b_hh;  ///< [3H]
        Index in, hidden;
    };
    struct grads {
        T* w_ih;
        T* w_hh;
        T* b_ih;
        T* b_hh;
    };
    /// What forward keeps for backward, plus workspaces (kept between calls: no allocation per step).
    struct cache {
        matrix<T> gates;   ///< 3H x (steps*batch): r, z, n after the non-linearities
        matrix<T> ghn;     ///< H x (steps*batch): W_hn h_{t-1} + b_hn
        matrix<T> states;  ///< H x (steps*batch): h_t (carried unchanged past a sample's length)
        matrix<T> gh;      ///< 3H x batch workspace: W_hh h_{t-1}
        matrix<T> h0;      ///< H x batch zeros (initial state)
        matrix<T> dgh;     ///< backward: 3H x (steps*batch) gradients of the recurrent pre-activations
        matrix<T> dgin;    ///< backward: H x (steps*batch) gradient of W_in x + b_in
        matrix<T> dh, dht, dhnext;  ///< backward: H x batch state gradients
    };

    /// out (M x B) = or += A (M x K) X (K x B) for the small per-step products (K, M <= 3H): rows of X and out
    /// are contiguous batch vectors, so each output row is a sum of K scaled rows, vectorised along the
    /// batch, with no packing (which costs more than the product at these sizes).
    template <bool Accumulate, class Coef>
    static void recurrent_product(const Coef& a, Index M, Index K, const T* x, Index ldx, T* out, Index ldo,
                                  Index B) {
        namespace ei = Eigen::internal;
        using packet = typename ei::packet_traits<T>::type;
        constexpr Index P = ei::unpacket_traits<packet>::size;
        Index j0 = 0;
        for (; j0 + 4 * P <= B; j0 += 4 * P)  // four accumulators stay in registers over k
            for (Index i = 0; i < M; ++i) {
                T* o = out + i * ldo + j0;
                packet a0 = Accumulate ? ei::ploadu<packet>(o) : ei::pset1<packet>(T(0));
                packet a1 = Accumulate ? ei::ploadu<packet>(o + P) : ei::pset1<packet>(T(0));
                packet a2 = Accumulate ? ei::ploadu<packet>(o + 2 * P) : ei::pset1<packet>(T(0));
                packet a3 = Accumulate ? ei::ploadu<packet>(o + 3 * P) : ei::pset1<packet>(T(0));
                for (Index k = 0; k < K; ++k) {
                    const packet w = ei::pset1<packet>(a(i, k));
                    const T* xk = x + k * ldx + j0;
                    a0 = ei::pmadd(w, ei::ploadu<packet>(xk), a0);
                    a1 = ei::pmadd(w, ei::ploadu<packet>(xk + P), a1);
                    a2 = ei::pmadd(w, ei::ploadu<packet>(xk + 2 * P), a2);
                    a3 = ei::pmadd(w, ei::ploadu<packet>(xk + 3 * P), a3);
                }
                ei::pstoreu(o, a0);
                ei::pstoreu(o + P, a1);
                ei::pstoreu(o + 2 * P, a2);
                ei::pstoreu(o + 3 * P, a3);
            }
        for (; j0 + P <= B; j0 += P)
            for (Index i = 0; i < M; ++i) {
                T* o = out + i * ldo + j0;
                packet a0 = Accumulate ? ei::ploadu<packet>(o) : ei::pset1<packet>(T(0));
                for (Index k = 0; k < K; ++k) a0 = ei::pmadd(ei::pset1<packet>(a(i, k)), ei::ploadu<packet>(x + k * ldx + j0), a0);
                ei::pstoreu(o, a0);
            }
        for (; j0 < B; ++j0)
            for (Index i = 0; i < M; ++i) {
                T acc = Accumulate ? out[i * ldo + j0] : T(0);
                for (Index k = 0; k < K; ++k) acc = ei::pmadd(a(i, k), x[k * ldx + j0], acc);
                out[i * ldo + j0] = acc;
            }
    }

    /// Runs the layer over x (in x steps*batch). `lengths` (per sample of the chunk) stops a sample's
    /// state at its own last step; null means every sample has all steps.
    static void forward(const weights& p, const matrix<T>& x, const chunk_context& ctx, cache& c) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        const_matrix_map<T> Wih(p.w_ih, 3 * H, p.in), Whh(p.w_hh, 3 * H, H);
        c.gates.resize(3 * H, TB);
        c.ghn.resize(H, TB);
        c.states.resize(H, TB);
        c.gh.resize(3 * H, B);
        c.h0.setZero(H, B);
        c.gates.noalias() = Wih * x;
        // r and z see b_ih + b_hh outside the non-linearity; n's b_hn stays inside r * (.)
        for (Index i = 0; i < 3 * H; ++i)
            c.gates.row(i).array() += p.b_ih[i] + (i < 2 * H ? p.b_hh[i] : T(0));
        for (Index t = 0; t < S; ++t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols((t - 1) * B, B);
            recurrent_product<false>([&](Index i, Index k) { return Whh(i, k); }, 3 * H, H, prev.data(), prev.outerStride(), c.gh.data(),
                                     B, B);
            for (Index i = 0; i < H; ++i) {
                const Index col = t * B;
                row r(&c.gates(i, col), B), z(&c.gates(H + i, col), B), n(&c.gates(2 * H + i, col), B);
                row hn(&c.ghn(i, col), B), h(&c.states(i, col), B);
                const_row hp(prev.row(i).data(), B);
                r = (r + const_row(&c.gh(i, 0), B)).logistic();
                z = (z + const_row(&c.gh(H + i, 0), B)).logistic();
                hn = const_row(&c.gh(2 * H + i, 0), B) + p.b_hh[2 * H + i];
                n = (n + r * hn).tanh();
                h = n + z * (hp - n);
            }
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t)
                        c.states.col(t * B + b) = prev.col(b);
        }
    }

    /// Backpropagation through time. dy: gradient w.r.t. every step's output (H x steps*batch) or null;
    /// dh_last: gradient w.r.t. the last state (H x batch) or null. Accumulates into g; writes dx
    /// (in x steps*batch) when not null.
    static void backward(const weights& p, const matrix<T>& x, const chunk_context& ctx, cache& c,
                         const matrix<T>* dy, const matrix<T>* dh_last, const grads& g, matrix<T>* dx) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        const_matrix_map<T> Wih(p.w_ih, 3 * H, p.in), Whh(p.w_hh, 3 * H, H);
        c.dgh.resize(3 * H, TB);
        c.dgin.resize(H, TB);
        if (dh_last)
            c.dh = *dh_last;
        else
            c.dh.setZero(H, B);
        c.dht.resize(H, B);
        c.dhnext.resize(H, B);
        for (Index t = S - 1; t >= 0; --t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols((t - 1) * B, B);
            const Index col = t * B;
            for (Index i = 0; i < H; ++i) {
                const_row r(&c.gates(i, col), B), z(&c.gates(H + i, col), B), n(&c.gates(2 * H + i, col), B);
                const_row hn(&c.ghn(i, col), B), hp(prev.row(i).data(), B);
                row dar(&c.dgh(i, col), B), daz(&c.dgh(H + i, col), B), dhn(&c.dgh(2 * H + i, col), B);
                row dan(&c.dgin(i, col), B), dht(&c.dht(i, 0), B);
                if (dy)
                    dht = const_row(&c.dh(i, 0), B) + const_row(&(*dy)(i, col), B);
                else
                    dht = const_row(&c.dh(i, 0), B);
                dan = dht * (T(1) - z) * (T(1) - n.square());
                daz = dht * (hp - n) * z * (T(1) - z);
                dar = dan * hn * r * (T(1) - r);
                dhn = dan * r;
                row(&c.dhnext(i, 0), B) = dht * z;
            }
            auto dgh = c.dgh.middleCols(col, B);
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) {
                        // past the end: the state was carried, so no gate saw it and dy there is ignored
                        dgh.col(b).setZero();
                        c.dgin.col(col + b).setZero();
                        c.dhnext.col(b) = c.dh.col(b);
                    }
            recurrent_product<true>([&](Index i, Index k) { return Whh(k, i); }, H, 3 * H, dgh.data(), TB,
                                    c.dhnext.data(), B, B);
            c.dh.swap(c.dhnext);
        }
        // weight gradients of all steps at once; h_{-1} = 0 so step 0 adds nothing to dW_hh
        matrix_map<T> gWih(g.w_ih, 3 * H, p.in), gWhh(g.w_hh, 3 * H, H);
        if (S > 1)
            gWhh.noalias() += c.dgh.rightCols((S - 1) * B) * c.states.leftCols((S - 1) * B).transpose();
        gWih.topRows(2 * H).noalias() += c.dgh.topRows(2 * H) * x.transpose();
        gWih.bottomRows(H).noalias() += c.dgin * x.transpose();
        vector_map<T> gbih(g.b_ih, 3 * H), gbhh(g.b_hh, 3 * H);
        gbih.head(2 * H) += c.dgh.topRows(2 * H).rowwise().sum();
        gbih.tail(H) += c.dgin.rowwise().sum();
        gbhh += c.dgh.rowwise().sum();
        if (dx) {
            dx->resize(p.in, TB);
            dx->noalias() = Wih.topRows(2 * H).transpose() * c.dgh.topRows(2 * H);
            dx->noalias() += Wih.bottomRows(H).transpose() * c.dgin;
        }
    }
};

}  // namespace ferrum::nn::detail
