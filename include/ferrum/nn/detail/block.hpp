// Internal activation layout of the network engine: one chunk of a batch stored feature-major,
// features x (steps * batch) row-major with column t * batch + b, so the input projection of all steps
// is one GEMM and each gate's values for one step are contiguous rows (vectorised gate loops).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "ferrum/core/config.hpp"
#include "ferrum/core/random.hpp"

namespace ferrum::nn {

/// What a forward pass is for. `training` samples dropout masks and keeps what backward needs;
/// `inference` is deterministic (dropout off); `mc_dropout` keeps sampling dropout masks at inference
/// (Monte-Carlo dropout, Gal & Ghahramani 2016) from the layers' seeded generators.
enum class mode {
    inference,
    training,
    mc_dropout
};

/// Activations of one chunk as a layer sees them: features x (steps * batch), row-major, column
/// t * batch + b (tabular data: steps == 1).
template <class T>
using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Shape of what flows along one edge of the model graph (per sample).
struct io_shape {
    Eigen::Index features = 0;
    bool sequence = false;
};

/// \brief Everything a layer needs to know about the chunk of the batch it is processing.
struct chunk_info {
    Eigen::Index steps = 1;
    Eigen::Index batch = 0;                     ///< samples in this chunk
    std::size_t first_sample = 0;               ///< index of the chunk's first sample in the whole batch
    const std::vector<int>* lengths = nullptr;  ///< per-sample valid steps of this chunk; null: all full
    nn::mode run_mode = nn::mode::inference;
    std::uint64_t draw = 0;  ///< random draw of this pass for this layer (what begin_forward returned)
    std::uint64_t node = 0;  ///< the layer's position in its model (mixed into random streams)
    /// Per-sample keys of this chunk's samples (a const predict() given keys, e.g. each star's source_id):
    /// a sampling layer then draws a sample's mask from its key, not from its position in the batch, so a
    /// sample's masks do not depend on which samples share its batch. Null: keyed by position.
    const std::uint64_t* sample_keys = nullptr;
    /// False in a const predict(): no backward pass follows, so a layer may keep nothing for one (its
    /// inference kernels fill no buffer that only backward reads). The outputs are the same bits either way.
    bool needs_backward = true;
    bool masked() const noexcept { return lengths != nullptr; }
};

namespace detail {

template <class T>
constexpr void check_scalar() noexcept {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn layers and models are defined for T = float or T = double only");
}

using nn::matrix;
template <class T>
using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using matrix_map = Eigen::Map<matrix<T>>;
template <class T>
using const_matrix_map = Eigen::Map<const matrix<T>>;
template <class T>
using vector_map = Eigen::Map<vector<T>>;
template <class T>
using const_vector_map = Eigen::Map<const vector<T>>;

/// Activations of one chunk: v is features x (steps * batch); tabular data has steps == 1.
template <class T>
struct block {
    matrix<T> v;
    Eigen::Index steps = 1;
    Eigen::Index batch = 0;
    bool sequence = false;
    Eigen::Index features() const noexcept { return v.rows(); }
};

using nn::io_shape;
using chunk_context = nn::chunk_info;

/// The engine's hash: SplitMix64 (core/random.hpp).
constexpr std::uint64_t mix64(std::uint64_t x) noexcept { return ferrum::splitmix64(x); }

}  // namespace detail
}  // namespace ferrum::nn
