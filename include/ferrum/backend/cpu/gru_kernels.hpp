// CPU (Eigen) kernels of one GRU layer over a chunk, in the cuDNN / PyTorch formulation (Cho et al. 2014
// with the reset gate applied after the recurrent product): r = s(W_ir x + b_ir + W_hr h + b_hr),
// z = s(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1-z) n + z h.
// Forward: one GEMM for the input projection of every step, one small GEMM per step, fused gate loops.
// Inference (infer: no backward follows) runs the same arithmetic, so the same bits, but keeps no
// W_hn h + b_hn buffer and, for a layer whose output is its last state, only two state columns per sample.
// Backward: exact BPTT; the weight gradients of all steps are two large GEMMs after the time loop.
#pragma once

#include <vector>

#include "ferrum/backend/cpu/panel_product.hpp"
#include "ferrum/backend/kernel_traits.hpp"
#include "ferrum/nn/detail/block.hpp"

namespace ferrum::backend {

template <class T>
struct gru_kernels<ferrum::backend::cpu, T> {
    using Index = Eigen::Index;

    using weights = gru_weights<T>;
    using grads = gru_grads<T>;
    /// What forward keeps for backward, plus workspaces (kept between calls: no allocation per step).
    struct cache {
        nn::matrix<T> gates;            ///< 3H x (steps*batch): r, z, n after the non-linearities
        nn::matrix<T> ghn;              ///< H x (steps*batch): W_hn h_{t-1} + b_hn (not filled by infer)
        nn::matrix<T> states;           ///< H x (steps*batch): h_t (carried unchanged past a sample's length);
                                        ///< infer without sequence: H x (2*batch), the last state on the right
        nn::matrix<T> gh;               ///< 3H x batch workspace: W_hh h_{t-1}
        nn::matrix<T> h0;               ///< H x batch zeros (initial state)
        nn::matrix<T> dgh;              ///< backward: 3H x (steps*batch) gradients of the recurrent pre-activations
        nn::matrix<T> dgin;             ///< backward: H x (steps*batch) gradient of W_in x + b_in
        nn::matrix<T> dh, dht, dhnext;  ///< backward: H x batch state gradients
    };

    /// Runs the layer over x (in x steps*batch). `lengths` (per sample of the chunk) stops a sample's
    /// state at its own last step; null means every sample has all steps.
    static void forward(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c) {
        run<true>(p, x, ctx, c, true);
    }
    /// forward() when no backward pass follows: the same states (bits), without what only backward reads.
    /// `sequence`: keep every step's state (the next layer's input); else c.states.rightCols(batch) is
    /// each sample's last state and the rest is scratch.
    static void infer(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c, bool sequence) {
        run<false>(p, x, ctx, c, sequence);
    }

    /// Backpropagation through time. dy: gradient w.r.t. every step's output (H x steps*batch) or null;
    /// Backpropagation through time. dy: gradient w.r.t. every step's output (H x steps*batch) or null;
    /// dh_last: gradient w.r.t. the last state (H x batch) or null. Accumulates into g; writes dx
    /// (in x steps*batch) when not null.
    static void backward(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c,
                         const nn::matrix<T>* dy, const nn::matrix<T>* dh_last, const grads& g, nn::matrix<T>* dx) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        nn::detail::const_matrix_map<T> Wih(p.w_ih, 3 * H, p.in), Whh(p.w_hh, 3 * H, H);
        c.dgh.resize(3 * H, TB);
        c.dgin.resize(H, TB);
        if (dh_last) c.dh = *dh_last;
        else c.dh.setZero(H, B);
        c.dht.resize(H, B);
        c.dhnext.resize(H, B);
        for (Index t = S - 1; t >= 0; --t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols((t - 1) * B, B);
            const Index col = t * B;
            for (Index i = 0; i < H; ++i) {
                const T *r = &c.gates(i, col), *z = &c.gates(H + i, col), *n = &c.gates(2 * H + i, col);
                const T *hn = &c.ghn(i, col), *hp = prev.row(i).data(), *dyi = dy ? &(*dy)(i, col) : nullptr;
                T *dar = &c.dgh(i, col), *daz = &c.dgh(H + i, col), *dhn = &c.dgh(2 * H + i, col);
                T *dan = &c.dgin(i, col), *dht = &c.dht(i, 0), *dh = &c.dh(i, 0), *dhnext = &c.dhnext(i, 0);
                cpu_detail::for_each_panel<T>(B, [&](Index j, auto w) {
                    auto DHT = cpu_detail::amap(dht + j, w), DAN = cpu_detail::amap(dan + j, w);
                    const auto Z = cpu_detail::amap(z + j, w), N = cpu_detail::amap(n + j, w),
                               R = cpu_detail::amap(r + j, w);
                    if (dyi) DHT = cpu_detail::amap(dh + j, w) + cpu_detail::amap(dyi + j, w);
                    else DHT = cpu_detail::amap(dh + j, w);
                    DAN = DHT * (T(1) - Z) * (T(1) - N.square());
                    cpu_detail::amap(daz + j, w) = DHT * (cpu_detail::amap(hp + j, w) - N) * Z * (T(1) - Z);
                    cpu_detail::amap(dar + j, w) = DAN * cpu_detail::amap(hn + j, w) * R * (T(1) - R);
                    cpu_detail::amap(dhn + j, w) = DAN * R;
                    cpu_detail::amap(dhnext + j, w) = DHT * Z;
                });
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
            cpu_detail::panel_product<T, true>([&](Index i, Index k) { return Whh(k, i); }, H, 3 * H, dgh.data(), TB,
                                               c.dhnext.data(), B, B);
            c.dh.swap(c.dhnext);
        }
        // weight gradients of all steps at once; h_{-1} = 0 so step 0 adds nothing to dW_hh
        nn::detail::matrix_map<T> gWih(g.w_ih, 3 * H, p.in), gWhh(g.w_hh, 3 * H, H);
        if (S > 1) gWhh.noalias() += c.dgh.rightCols((S - 1) * B) * c.states.leftCols((S - 1) * B).transpose();
        gWih.topRows(2 * H).noalias() += c.dgh.topRows(2 * H) * x.transpose();
        gWih.bottomRows(H).noalias() += c.dgin * x.transpose();
        nn::detail::vector_map<T> gbih(g.b_ih, 3 * H), gbhh(g.b_hh, 3 * H);
        gbih.head(2 * H) += c.dgh.topRows(2 * H).rowwise().sum();
        gbih.tail(H) += c.dgin.rowwise().sum();
        gbhh += c.dgh.rowwise().sum();
        if (dx) {
            dx->resize(p.in, TB);
            // dx = W_ih[r,z]^T dgh[r,z] + W_in^T dgin: K = 3H is small, so no GEMM packing
            cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Wih(k, i); }, p.in, 2 * H, c.dgh.data(),
                                                TB, dx->data(), TB, TB);
            cpu_detail::panel_product<T, true>([&](Index i, Index k) { return Wih(2 * H + k, i); }, p.in, H,
                                               c.dgin.data(), TB, dx->data(), TB, TB);
        }
    }

private:
    /// The forward recursion. Keep: fill what backward reads (ghn, every state). Otherwise the states of
    /// every step only when `sequence`, else two alternating columns per sample, the last step's on the right.
    template <bool Keep>
    static void run(const weights& p, const nn::matrix<T>& x, const nn::chunk_info& ctx, cache& c, bool sequence) {
        const Index H = p.hidden, B = ctx.batch, S = ctx.steps, TB = S * B;
        nn::detail::const_matrix_map<T> Wih(p.w_ih, 3 * H, p.in), Whh(p.w_hh, 3 * H, H);
        const bool all = Keep || sequence;
        c.gates.resize(3 * H, TB);
        if (Keep) c.ghn.resize(H, TB);
        c.states.resize(H, all ? TB : 2 * B);
        c.gh.resize(3 * H, B);
        c.h0.setZero(H, B);
        // the state column block of step t (without every step: alternating, step S-1 on the right)
        auto slot = [&](Index t) { return all ? t * B : ((S - 1 - t) % 2 == 0 ? B : 0); };
        cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Wih(i, k); }, 3 * H, p.in, x.data(), TB,
                                            c.gates.data(), TB, TB);
        for (Index t = 0; t < S; ++t) {
            const auto prev = t == 0 ? c.h0.middleCols(0, B) : c.states.middleCols(slot(t - 1), B);
            cpu_detail::panel_product<T, false>([&](Index i, Index k) { return Whh(i, k); }, 3 * H, H, prev.data(),
                                                prev.outerStride(), c.gh.data(), B, B);
            const Index col = t * B, hcol = slot(t);
            for (Index i = 0; i < H; ++i) {
                // r and z see b_ih + b_hh outside the non-linearity; b_hn stays inside r * (.)
                const T br = p.b_ih[i] + p.b_hh[i], bz = p.b_ih[H + i] + p.b_hh[H + i];
                const T bin = p.b_ih[2 * H + i], bhn = p.b_hh[2 * H + i];
                T *r = &c.gates(i, col), *z = &c.gates(H + i, col), *n = &c.gates(2 * H + i, col);
                T* h = &c.states(i, hcol);
                T* hn = Keep ? &c.ghn(i, col) : nullptr;
                static_cast<void>(hn);
                const T *ghr = &c.gh(i, 0), *ghz = &c.gh(H + i, 0), *ghn = &c.gh(2 * H + i, 0);
                const T* hp = prev.row(i).data();
                cpu_detail::for_each_panel<T>(B, [&](Index j, auto w) {
                    auto R = cpu_detail::amap(r + j, w), Z = cpu_detail::amap(z + j, w), N = cpu_detail::amap(n + j, w);
                    R = (R + cpu_detail::amap(ghr + j, w) + br).logistic();
                    Z = (Z + cpu_detail::amap(ghz + j, w) + bz).logistic();
                    if constexpr (Keep) {
                        auto HN = cpu_detail::amap(hn + j, w);
                        HN = cpu_detail::amap(ghn + j, w) + bhn;
                        N = (N + bin + R * HN).tanh();
                    } else {
                        N = (N + bin + R * (cpu_detail::amap(ghn + j, w) + bhn)).tanh();
                    }
                    cpu_detail::amap(h + j, w) = N + Z * (cpu_detail::amap(hp + j, w) - N);
                });
            }
            if (ctx.lengths)
                for (Index b = 0; b < B; ++b)
                    if ((*ctx.lengths)[static_cast<std::size_t>(b)] <= t) c.states.col(hcol + b) = prev.col(b);
        }
    }
};

}  // namespace ferrum::backend
