// Small-K matrix products out (M x N) = or += A (M x K) X (K x N) with X and out row-major (N contiguous):
// each output row is a sum of K scaled rows of X, computed in panels of four SIMD registers that stay in
// registers over k. For the K <= 3H of GRU layers this beats a packed GEMM, which spends more on packing
// and zero-filling than on arithmetic; the summation order is fixed (k ascending), so results do not
// depend on how the columns are split between threads.
#pragma once

#include <type_traits>

#include <Eigen/Core>

namespace ferrum::backend::cpu_detail {

/// Calls f(j, width) over [0, B) in SIMD-packet-wide pieces: width is a compile-time constant for full
/// packets (so element-wise Eigen expressions on amap() compile to single packet operations, with no
/// per-expression loop overhead) and a run-time count for the tail.
template <class T, class F>
void for_each_panel(Eigen::Index B, F&& f) {
    constexpr Eigen::Index P = Eigen::internal::packet_traits<T>::size;
    Eigen::Index j = 0;
    for (; j + P <= B; j += P) f(j, std::integral_constant<Eigen::Index, P>{});
    if (j < B) f(j, B - j);
}

template <class T, Eigen::Index N>
Eigen::Map<Eigen::Array<T, N, 1>> amap(T* p, std::integral_constant<Eigen::Index, N>) noexcept {
    return Eigen::Map<Eigen::Array<T, N, 1>>(p);
}
template <class T, Eigen::Index N>
Eigen::Map<const Eigen::Array<T, N, 1>> amap(const T* p, std::integral_constant<Eigen::Index, N>) noexcept {
    return Eigen::Map<const Eigen::Array<T, N, 1>>(p);
}
template <class T>
Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> amap(T* p, Eigen::Index n) noexcept {
    return Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(p, n);
}
template <class T>
Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> amap(const T* p, Eigen::Index n) noexcept {
    return Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(p, n);
}

/// out (M x B) = or += A (M x K) X (K x B) for the small per-step products (K, M <= 3H): rows of X and out
/// are contiguous batch vectors, so each output row is a sum of K scaled rows, vectorised along the
/// batch, with no packing (which costs more than the product at these sizes).
template <class T, bool Accumulate, class Coef>
void panel_product(const Coef& a, Eigen::Index M, Eigen::Index K, const T* x, Eigen::Index ldx, T* out,
                   Eigen::Index ldo, Eigen::Index B) {
    namespace ei = Eigen::internal;
    using packet = typename ei::packet_traits<T>::type;
    constexpr Eigen::Index P = ei::packet_traits<T>::size;
    Eigen::Index j0 = 0;
    for (; j0 + 4 * P <= B; j0 += 4 * P)  // four accumulators stay in registers over k
        for (Eigen::Index i = 0; i < M; ++i) {
            T* o = out + i * ldo + j0;
            packet a0 = Accumulate ? ei::ploadu<packet>(o) : ei::pset1<packet>(T(0));
            packet a1 = Accumulate ? ei::ploadu<packet>(o + P) : ei::pset1<packet>(T(0));
            packet a2 = Accumulate ? ei::ploadu<packet>(o + 2 * P) : ei::pset1<packet>(T(0));
            packet a3 = Accumulate ? ei::ploadu<packet>(o + 3 * P) : ei::pset1<packet>(T(0));
            for (Eigen::Index k = 0; k < K; ++k) {
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
        for (Eigen::Index i = 0; i < M; ++i) {
            T* o = out + i * ldo + j0;
            packet a0 = Accumulate ? ei::ploadu<packet>(o) : ei::pset1<packet>(T(0));
            for (Eigen::Index k = 0; k < K; ++k)
                a0 = ei::pmadd(ei::pset1<packet>(a(i, k)), ei::ploadu<packet>(x + k * ldx + j0), a0);
            ei::pstoreu(o, a0);
        }
    for (; j0 < B; ++j0)
        for (Eigen::Index i = 0; i < M; ++i) {
            T acc = Accumulate ? out[i * ldo + j0] : T(0);
            for (Eigen::Index k = 0; k < K; ++k) acc = ei::pmadd(a(i, k), x[k * ldx + j0], acc);
            out[i * ldo + j0] = acc;
        }
}

}  // namespace ferrum::backend::cpu_detail
