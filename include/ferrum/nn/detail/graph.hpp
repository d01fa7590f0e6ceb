// The execution engine behind nn::sequential and nn::functional: a directed acyclic graph of layers in
// insertion (topological) order, run over fixed chunks of the batch on ferrum's thread pool. Each chunk owns
// its activations, caches and gradient buffers; chunk gradients are summed in chunk order, so results are
// bit-identical for any number of threads. All scratch memory of a run lives in a `pass`: the training API
// (forward, then backward) keeps one in the graph, const predict() makes its own, so one model serves many
// threads. predict() keeps nothing for a backward pass: each worker thread runs one chunk at a time in its
// own reused buffers and writes that chunk's rows of the output, so its memory is the output plus one chunk
// per thread, whatever the batch. Layers are reached through nn::any_layer only: the engine names no
// concrete layer.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xutils.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/nn/detail/block.hpp"
#include "ferrum/nn/layer.hpp"

namespace ferrum::nn {

namespace detail {

/// True for an xtensor expression whose elements lie in memory at fixed strides (containers, `xt::adapt`,
/// strided `xt::view`s): it can be read in place.
template <class E>
constexpr bool strided_xexpression = xt::has_data_interface<E>::value&& xt::has_strides<E>::value;

}  // namespace detail

/// \brief A view of one input batch, (batch, features) or (batch, time, features), read in place through
/// its strides. It is made implicitly from any xtensor expression of 1 to 3 dimensions (a 1-D one is a table
/// of one feature) or any Eigen matrix (a table): containers, `xt::view`s (slices of samples, steps or
/// features, reversed or with a step), `xt::adapt` over the user's memory, `Eigen::Map`s, blocks and
/// column-major matrices are all read where they lie. Only an expression without a memory layout (`x * 2`,
/// `xt::cast<float>(x)`, a view with an index list) is evaluated once into a buffer the view shares
/// (`copied()` is then true). The viewed data must outlive the view.
template <class T>
struct input_view {
    const T* data = nullptr;  ///< element (0, 0, 0)
    std::size_t batch = 0, steps = 1, features = 0;
    bool sequence = false;
    std::ptrdiff_t batch_stride = 0, step_stride = 0, feature_stride = 1;  ///< in elements, possibly negative
    /// When set, sample b of this view is sample rows[b] of the data (a mini-batch read in place; see select()).
    const std::size_t* rows = nullptr;

    input_view() = default;

    template <class E>
    input_view(const xt::xexpression<E>& expression) {  // NOLINT: implicit on purpose
        const E& e = expression.derived_cast();
        static_assert(std::is_same_v<std::decay_t<typename E::value_type>, T>,
                      "ferrum::nn: the input's element type differs from the model's; convert it with "
                      "xt::cast<float>(x) or xt::cast<double>(x) (evaluated once per call)");
        static_assert(xt::static_dimension<typename E::shape_type>::value < 0 ||
                          (xt::static_dimension<typename E::shape_type>::value >= 1 &&
                           xt::static_dimension<typename E::shape_type>::value <= 3),
                      "ferrum::nn: an input is (batch, features) or (batch, time, features); a 1-D input is a "
                      "table of one feature");
        if constexpr (detail::strided_xexpression<E>) {
            set_shape(e.shape(), e.strides());
            data = e.data() + e.data_offset();
        } else {
            auto copy = std::make_shared<const xt::xarray<T, xt::layout_type::row_major>>(e);
            set_shape(copy->shape(), copy->strides());
            data = copy->data();
            owned_ = std::move(copy);
        }
    }

    template <class D>
    input_view(const Eigen::DenseBase<D>& matrix) {  // NOLINT: implicit on purpose
        static_assert(std::is_same_v<typename D::Scalar, T>,
                      "ferrum::nn: the input's element type differs from the model's; convert it with "
                      ".template cast<float>() or .template cast<double>()");
        batch = static_cast<std::size_t>(matrix.rows());
        features = static_cast<std::size_t>(matrix.cols());
        if constexpr (bool(D::Flags & Eigen::DirectAccessBit)) {
            const D& m = matrix.derived();
            data = m.data();
            batch_stride = static_cast<std::ptrdiff_t>(m.rowStride());
            feature_stride = static_cast<std::ptrdiff_t>(m.colStride());
        } else {
            auto copy = std::make_shared<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                matrix.derived());
            data = copy->data();
            batch_stride = static_cast<std::ptrdiff_t>(features);
            owned_ = std::move(copy);
        }
    }

    /// Sample b's first element (its step 0, feature 0).
    const T* sample(std::size_t b) const noexcept {
        return data + static_cast<std::ptrdiff_t>(rows ? rows[b] : b) * batch_stride;
    }
    /// Element (b, t, f); t = 0 for a table.
    const T& operator()(std::size_t b, std::size_t t, std::size_t f) const noexcept {
        return sample(
            b)[static_cast<std::ptrdiff_t>(t) * step_stride + static_cast<std::ptrdiff_t>(f) * feature_stride];
    }
    /// \brief The samples rows[0], ..., rows[n - 1] of this view, still read in place (a shuffled mini-batch
    /// without a copy). `rows` must outlive the result; each entry must be < batch.
    input_view select(const std::size_t* rows_, std::size_t n) const {
        if (rows) throw value_error("input_view::select: this view already selects rows");
        input_view v = *this;
        v.rows = rows_;
        v.batch = n;
        return v;
    }
    /// True when the input had no memory layout and was evaluated into a buffer of this view.
    bool copied() const noexcept { return owned_ != nullptr; }
    /// True when the elements are read without a gather: dense row-major samples, no row selection.
    bool contiguous() const noexcept {
        return !rows && (features <= 1 || feature_stride == 1) &&
               (steps <= 1 || step_stride == static_cast<std::ptrdiff_t>(features)) &&
               (batch <= 1 || batch_stride == static_cast<std::ptrdiff_t>(steps * features));
    }

private:
    template <class Shape, class Strides>
    void set_shape(const Shape& shape, const Strides& strides) {
        const std::size_t dim = shape.size();
        if (dim < 1 || dim > 3)
            throw value_error("ferrum::nn: an input is (batch, features) or (batch, time, features), got " +
                              std::to_string(dim) + " dimensions");
        batch = shape[0];
        batch_stride = static_cast<std::ptrdiff_t>(strides[0]);
        sequence = dim == 3;
        steps = dim == 3 ? shape[1] : 1;
        step_stride = dim == 3 ? static_cast<std::ptrdiff_t>(strides[1]) : 0;
        features = dim == 1 ? 1 : shape[dim - 1];
        feature_stride = dim == 1 ? 1 : static_cast<std::ptrdiff_t>(strides[dim - 1]);
    }
    std::shared_ptr<const void> owned_;  ///< the evaluated input, when it had no memory layout
};

namespace detail {

enum class node_kind {
    input,
    layer,
    concat,
    add  ///< element-wise sum of nodes of one shape (a residual connection)
};

struct node {
    node_kind kind;
    std::string name;
    std::vector<std::size_t> from;
    std::size_t index = 0;  ///< input number or layer number
    io_shape shape;
};

template <class T, class Backend>
class graph {
public:
    using layer_type = any_layer<T, Backend>;

    std::size_t add_input(std::string name, io_shape shape) {
        if (shape.features <= 0) throw value_error("model input '" + name + "' needs a positive feature count");
        check_name(name);
        nodes_.push_back({node_kind::input, std::move(name), {}, num_inputs_++, shape});
        return nodes_.size() - 1;
    }

    std::size_t add_layer(std::string name, layer_type layer, std::size_t from) {
        check_name(name);
        check_node(from);
        const io_shape s = layer.output_shape(nodes_[from].shape);
        layers_.push_back(std::move(layer));
        nodes_.push_back({node_kind::layer, std::move(name), {from}, layers_.size() - 1, s});
        output_ = nodes_.size() - 1;
        return output_;
    }

    /// Concatenates node outputs along features (all sequences of the same length, or all tabular).
    std::size_t add_concat(std::string name, std::vector<std::size_t> from) {
        check_name(name);
        if (from.size() < 2) throw value_error("concat '" + name + "' needs at least two inputs");
        io_shape s{0, nodes_.at(from.front()).shape.sequence};
        for (auto f : from) {
            check_node(f);
            if (nodes_[f].shape.sequence != s.sequence)
                throw value_error("concat '" + name + "': cannot join a sequence with a tabular input");
            s.features += nodes_[f].shape.features;
        }
        nodes_.push_back({node_kind::concat, std::move(name), std::move(from), 0, s});
        output_ = nodes_.size() - 1;
        return output_;
    }

    /// Sums node outputs element-wise (a residual connection): all of one shape (features, and sequence or
    /// tabular; sequences of the same steps). Padded steps stay zero, as every input's are.
    std::size_t add_sum(std::string name, std::vector<std::size_t> from) {
        check_name(name);
        if (from.size() < 2) throw value_error("add '" + name + "' needs at least two inputs");
        for (auto f : from) check_node(f);
        const io_shape s = nodes_[from.front()].shape;
        for (auto f : from)
            if (nodes_[f].shape.sequence != s.sequence || nodes_[f].shape.features != s.features)
                throw value_error("add '" + name + "': its inputs differ in shape (" + describe(nodes_[f].shape) +
                                  " and " + describe(s) + ")");
        nodes_.push_back({node_kind::add, std::move(name), std::move(from), 0, s});
        output_ = nodes_.size() - 1;
        return output_;
    }

    void set_output(std::size_t n) {
        check_node(n);
        output_ = n;
    }

    const std::vector<node>& nodes() const noexcept { return nodes_; }
    std::vector<layer_type>& layers() noexcept { return layers_; }
    const std::vector<layer_type>& layers() const noexcept { return layers_; }
    std::size_t output() const noexcept { return output_; }
    std::size_t num_inputs() const noexcept { return num_inputs_; }
    std::size_t node_of_layer(std::size_t l) const {
        for (std::size_t i = 0; i < nodes_.size(); ++i)
            if (nodes_[i].kind == node_kind::layer && nodes_[i].index == l) return i;
        throw value_error("no such layer");
    }

    /// Parameters of every layer, named "<node name>.<PyTorch name>".
    parameter_list<T> parameters() {
        parameter_list<T> out;
        for (const auto& n : nodes_)
            if (n.kind == node_kind::layer) {
                auto p = layers_[n.index].parameters(n.name + ".");
                out.insert(out.end(), p.begin(), p.end());
            }
        return out;
    }
    void zero_grad() {
        for (auto& l : layers_) l.storage().zero_grad();
    }

    std::size_t chunk_size = 64;  ///< samples per chunk (fixed partition: results do not depend on threads)
    std::size_t num_threads = 0;  ///< 0: the hardware's cores (results do not depend on it)

    /// Runs the graph for training (or any mode) and keeps what backward() needs. All sequence inputs
    /// share `lengths` (empty: every sample uses all steps). Sampling layers (dropout) advance their draws.
    /// `first_sample`: the position of this batch's first sample in a larger batch that is split across
    /// processes (data parallelism), so each sample draws the dropout mask it would draw in the whole batch.
    void forward(const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths, mode m,
                 std::size_t first_sample = 0) {
        prepare(last_, inputs, lengths, m);
        last_.first_sample = first_sample;
        last_.has_forward = false;
        last_.draws.resize(layers_.size());
        for (std::size_t l = 0; l < layers_.size(); ++l) last_.draws[l] = layers_[l].begin_forward(m);
        run(last_, inputs);
        last_.has_forward = true;
    }

    /// \brief Runs the graph without changing it: every buffer lives in this call, so concurrent calls on
    /// one model are safe. Sampling layers (mode::mc_dropout) draw their masks from `dropout_seed` and, with
    /// `sample_keys` (one per sample), from each sample's key instead of its position in the batch, so a
    /// sample's masks do not depend on the other samples of the call (sharded runs, any batch size).
    /// `threads` (0: num_threads) runs this call's chunks; results do not depend on it.
    /// Its memory is the output plus one chunk's buffers per thread (no backward pass follows, so no layer
    /// keeps anything for one and pass-through layers are skipped), whatever the batch size.
    xt::xarray<T> predict(const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths, mode m,
                          std::uint64_t dropout_seed, std::size_t threads = 0,
                          const std::vector<std::uint64_t>& sample_keys = {}) const {
        // A pass from the pool: its per-worker chunk buffers and layer caches were sized by an earlier call,
        // so repeated predictions touch no fresh memory (fresh buffers cost 3x in page faults on the GRU's caches).
        auto p = passes_.take();
        struct give_back {
            pass_pool& pool;
            std::unique_ptr<pass>& p;
            ~give_back() { pool.give(std::move(p)); }
        } back{passes_, p};
        check(*p, inputs, lengths, m);
        p->no_grad = true;
        p->draws.assign(layers_.size(), dropout_seed);
        if (!sample_keys.empty() && sample_keys.size() != p->batch)
            throw value_error("predict: " + std::to_string(sample_keys.size()) + " sample keys for a batch of " +
                              std::to_string(p->batch));
        p->sample_keys = sample_keys.empty() ? nullptr : sample_keys.data();
        xt::xarray<T> out = output_array(*p, output_);
        const std::size_t nchunks = (p->batch + chunk_size - 1) / chunk_size;
        parallel_options o;
        o.threads = static_cast<unsigned>(threads ? threads : num_threads);  // 0: the hardware's cores
        // one chunk workspace per worker, reused for every chunk it takes (the same chunks, hence the same
        // bits, as a training-API forward pass)
        const unsigned workers = worker_count(o.threads, nchunks);
        if (p->chunks.size() < workers) p->chunks.resize(workers);
        std::atomic<std::size_t> next_slot{0};
        parallel_for_each_worker(
            nchunks, o, [&] { return &p->chunks[next_slot++]; },
            [&](chunk* ch, std::size_t c) {
                setup_chunk(*p, *ch, c, lengths);
                forward_chunk(*p, *ch, inputs);
                write_chunk(*p, *ch, output_, *ch->val[output_], out);
            });
        return out;
    }

    /// Backpropagates `grad_output` (the gradient of the loss w.r.t. the output); accumulates parameter
    /// gradients into the layers. With `input_gradients`, returns d loss / d input for every input.
    std::vector<xt::xarray<T>> backward(const T* grad_output, const std::vector<std::size_t>& shape,
                                        bool input_gradients) {
        if (!last_.has_forward) throw value_error("backward() needs a forward() pass first");
        const io_shape os = nodes_[output_].shape;
        const std::vector<std::size_t> expect =
            os.sequence ? std::vector<std::size_t>{last_.batch, last_.node_steps[output_],
                                                   static_cast<std::size_t>(os.features)}
                        : std::vector<std::size_t>{last_.batch, static_cast<std::size_t>(os.features)};
        if (shape != expect) throw value_error("backward: the gradient's shape differs from the model output's");
        last_.want_input_grad = input_gradients;
        parallel(last_.chunks.size(), [&](std::size_t c) { backward_chunk(last_, last_.chunks[c], grad_output); });
        // sum chunk gradients in chunk order: identical for any thread count
        for (std::size_t l = 0; l < layers_.size(); ++l) {
            auto& g = layers_[l].storage().grads();
            for (const auto& ch : last_.chunks)
                for (std::size_t i = 0; i < g.size(); ++i) g[i] += ch.pgrad[l][i];
        }
        std::vector<xt::xarray<T>> out;
        if (input_gradients)
            for (const auto& n : nodes_)
                if (n.kind == node_kind::input)
                    out.push_back(gather(last_, static_cast<std::size_t>(&n - nodes_.data()), true));
        return out;
    }

    /// Advances the sampling layers' draws as a forward pass in mode `m` would, without running one (a
    /// process whose share of a split batch is empty keeps its dropout draws in step with the others).
    void advance_draws(mode m) {
        for (auto& l : layers_) l.begin_forward(m);
    }

    /// Values in one chunk's parameter gradient: every layer's storage, in layer order.
    std::size_t gradient_size() const noexcept {
        std::size_t n = 0;
        for (const auto& l : layers_) n += l.storage().size();
        return n;
    }
    /// The last backward pass's gradient of each chunk, before they were summed: chunk after chunk, each
    /// gradient_size() values (layer after layer). Data parallelism gathers these across processes.
    std::vector<T> chunk_gradients() const {
        std::vector<T> out;
        out.reserve(last_.chunks.size() * gradient_size());
        for (const auto& ch : last_.chunks)
            for (std::size_t l = 0; l < layers_.size(); ++l)
                out.insert(out.end(), ch.pgrad[l].begin(), ch.pgrad[l].end());
        return out;
    }
    /// \brief Sets the parameter gradients to the sum of `chunks` (chunk_gradients() layouts, concatenated)
    /// added in chunk order from zero: the same additions backward() makes after zero_grad(), so the chunks
    /// of a batch split across processes sum to the bits of the whole batch's gradient.
    void set_gradients_from_chunks(const std::vector<T>& chunks) {
        const std::size_t per = gradient_size();
        if (per == 0 || chunks.size() % per != 0)
            throw value_error("set_gradients_from_chunks: " + std::to_string(chunks.size()) +
                              " values are not whole chunks of " + std::to_string(per));
        std::size_t at = 0;
        for (auto& layer : layers_) {
            auto& g = layer.storage().grads();
            std::fill(g.begin(), g.end(), T(0));
            for (std::size_t c = 0; c < chunks.size() / per; ++c)
                for (std::size_t i = 0; i < g.size(); ++i) g[i] += chunks[c * per + at + i];
            at += g.size();
        }
    }

    /// The output of the last forward pass: (batch, features) or (batch, time, features).
    xt::xarray<T> output_tensor() const { return gather(last_, output_, false); }
    io_shape output_shape() const { return nodes_.at(output_).shape; }

private:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    struct chunk {
        std::size_t first = 0, count = 0;
        std::vector<int> lengths;
        std::vector<std::vector<int>> node_lengths;  ///< per node: its samples' valid steps (when masked)
        std::vector<block<T>> out, grad;
        std::vector<const block<T>*> val;  ///< per node: its output (out[i], or the input a pass-through layer handed on)
        std::vector<char> has_grad;
        std::vector<block<T>> scratch;                          ///< per node, so buffers keep their size between calls
        std::vector<std::unique_ptr<layer_cache_base>> caches;  ///< per layer, made by the layer
        std::vector<const void*> cache_owner;                   ///< the layer object each cache was made by
        std::vector<std::vector<T>> pgrad;
    };

    /// The scratch memory and bookkeeping of one run of the graph. Copying a graph does not copy its last
    /// pass (layer caches may hold device memory): a copy needs its own forward() before backward().
    struct pass {
        pass() = default;
        pass(const pass&) noexcept {}
        pass(pass&&) noexcept = default;
        pass& operator=(const pass&) noexcept {
            *this = pass();
            return *this;
        }
        pass& operator=(pass&&) noexcept = default;
        ~pass() = default;

        std::vector<chunk> chunks;
        std::size_t threads = 0;  ///< 0: the graph's num_threads
        std::size_t batch = 0, steps = 0;
        std::vector<std::size_t> node_steps;  ///< per node: its sequence steps (steps, unless a layer changed them)
        std::size_t first_sample = 0;         ///< the batch's offset in a batch split across processes
        const std::uint64_t* sample_keys = nullptr;  ///< predict(): per-sample dropout keys (null: positions)
        bool masked = false, has_forward = false, want_input_grad = false;
        bool no_grad = false;  ///< predict(): no backward pass follows
        mode run_mode = mode::inference;
        std::vector<std::uint64_t> draws;  ///< per layer: chunk_info::draw
    };

    /// Checks the inputs against the graph and splits the batch into chunks.
    void prepare(pass& p, const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths,
                 mode m) const {
        check(p, inputs, lengths, m);
        p.no_grad = false;
        const std::size_t nchunks = (p.batch + chunk_size - 1) / chunk_size;
        p.chunks.resize(nchunks);
        for (std::size_t c = 0; c < nchunks; ++c) setup_chunk(p, p.chunks[c], c, lengths);
    }

    /// Checks the inputs against the graph; sets the pass's batch, steps and every node's steps.
    void check(pass& p, const std::vector<input_view<T>>& inputs, const std::vector<std::size_t>& lengths,
               mode m) const {
        if (output_ == npos) throw value_error("the model has no layers");
        if (inputs.size() != num_inputs_)
            throw value_error("the model takes " + std::to_string(num_inputs_) + " inputs, got " +
                              std::to_string(inputs.size()));
        const std::size_t batch = inputs.front().batch;
        std::size_t steps = 0;
        for (const auto& n : nodes_) {
            if (n.kind != node_kind::input) continue;
            const auto& in = inputs[n.index];
            if (in.batch != batch) throw value_error("all model inputs need the same batch size");
            if (in.sequence != n.shape.sequence || in.features != static_cast<std::size_t>(n.shape.features))
                throw value_error("input '" + n.name + "' expects " + describe(n.shape) + ", got " +
                                  (in.sequence ? "a sequence" : "a table") + " with " + std::to_string(in.features) +
                                  " features");
            if (in.sequence) {
                if (in.steps == 0) throw value_error("input '" + n.name + "' has sequences of zero steps");
                if (steps && steps != in.steps) throw value_error("sequence inputs differ in length");
                steps = in.steps;
            }
        }
        if (batch == 0) throw value_error("empty batch");
        if (steps == 0 && !lengths.empty()) throw value_error("lengths given but no input is a sequence");
        if (!lengths.empty()) {
            if (lengths.size() != batch)
                throw value_error("lengths has " + std::to_string(lengths.size()) + " entries for a batch of " +
                                  std::to_string(batch));
            for (auto l : lengths)
                if (l < 1 || l > steps)
                    throw value_error("sequence length " + std::to_string(l) + " outside [1, " + std::to_string(steps) +
                                      "]");
        }
        if (chunk_size == 0) throw value_error("chunk_size must be positive");
        p.batch = batch;
        p.steps = steps;
        p.masked = !lengths.empty() && std::any_of(lengths.begin(), lengths.end(), [&](auto l) { return l < steps; });
        p.run_mode = m;
        // steps of every node: a layer with output_steps (strided convolution, pooling over time) changes them
        p.node_steps.assign(nodes_.size(), steps);
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            const node& n = nodes_[i];
            if (n.kind == node_kind::input) continue;
            p.node_steps[i] = p.node_steps[n.from[0]];
            if (n.kind == node_kind::concat || n.kind == node_kind::add) {
                for (auto f : n.from)
                    if (nodes_[f].shape.sequence && p.node_steps[f] != p.node_steps[i])
                        throw value_error(std::string(n.kind == node_kind::add ? "add '" : "concat '") + n.name +
                                          "': its sequence inputs have different steps (" +
                                          std::to_string(p.node_steps[f]) + " and " + std::to_string(p.node_steps[i]) +
                                          ")");
            } else if (n.shape.sequence && nodes_[n.from[0]].shape.sequence) {
                p.node_steps[i] = steps_after(n, p.node_steps[i]);
            }
        }
    }

    /// Makes `ch` chunk number c of the pass: its samples and every node's valid steps.
    void setup_chunk(const pass& p, chunk& ch, std::size_t c, const std::vector<std::size_t>& lengths) const {
        ch.first = c * chunk_size;
        ch.count = std::min(chunk_size, p.batch - ch.first);
        ch.lengths.clear();
        if (p.masked)
            for (std::size_t b = 0; b < ch.count; ++b) ch.lengths.push_back(static_cast<int>(lengths[ch.first + b]));
        ch.node_lengths.resize(nodes_.size());
        if (!p.masked) return;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            const node& n = nodes_[i];
            auto& out = ch.node_lengths[i];
            if (n.kind == node_kind::input) {
                out = ch.lengths;
                continue;
            }
            out = ch.node_lengths[n.from[0]];
            if (n.kind == node_kind::layer && n.shape.sequence && nodes_[n.from[0]].shape.sequence &&
                p.node_steps[i] != p.node_steps[n.from[0]])
                for (auto& l : out) l = static_cast<int>(steps_after(n, static_cast<std::size_t>(l)));
        }
    }

    void run(pass& p, const std::vector<input_view<T>>& inputs) const {
        parallel(
            p.chunks.size(), [&](std::size_t c) { forward_chunk(p, p.chunks[c], inputs); }, p.threads);
    }

    static std::string describe(io_shape s) {
        return (s.sequence ? std::string("a sequence") : std::string("a table")) + " with " +
               std::to_string(s.features) + " features";
    }
    void check_name(const std::string& name) const {
        for (const auto& n : nodes_)
            if (n.name == name) throw value_error("two model nodes are named '" + name + "'");
    }
    void check_node(std::size_t n) const {
        if (n >= nodes_.size()) throw value_error("node " + std::to_string(n) + " does not exist (yet)");
    }

    /// Steps out of layer node n for `in` steps in (a sequence too short for the layer is an error).
    std::size_t steps_after(const node& n, std::size_t in) const {
        const std::size_t out = layers_[n.index].erased().output_steps(in);
        if (out == 0)
            throw value_error("layer '" + n.name + "' (" + layers_[n.index].type_name() + "): a sequence of " +
                              std::to_string(in) + " steps is too short for it");
        return out;
    }
    /// The chunk's context at node n: its steps and its samples' valid steps.
    static chunk_info context(const pass& p, const chunk& ch, std::size_t n) noexcept {
        chunk_info ctx;
        ctx.steps = static_cast<Eigen::Index>(p.node_steps[n] ? p.node_steps[n] : 1);
        ctx.batch = static_cast<Eigen::Index>(ch.count);
        ctx.first_sample = p.first_sample + ch.first;
        ctx.sample_keys = p.sample_keys ? p.sample_keys + ch.first : nullptr;
        ctx.lengths = p.masked ? &ch.node_lengths[n] : nullptr;
        ctx.run_mode = p.run_mode;
        ctx.needs_backward = !p.no_grad;
        return ctx;
    }
    /// The chunk's context as layer node i sees it (its draw of this pass and its position).
    chunk_info layer_context(const pass& p, chunk_info ctx, std::size_t i) const noexcept {
        ctx.draw = p.draws[nodes_[i].index];
        ctx.node = i;  // distinct dropout layers draw distinct masks even with equal seeds
        return ctx;
    }
    /// Sets a block's layout fields from the node's shape.
    static void describe_block(block<T>& b, io_shape s, const chunk_info& ctx) noexcept {
        b.steps = s.sequence ? ctx.steps : 1;
        b.batch = ctx.batch;
        b.sequence = s.sequence;
    }

    void forward_chunk(const pass& p, chunk& ch, const std::vector<input_view<T>>& inputs) const {
        const chunk_info ctx0 = context(p, ch, 0);
        ch.out.resize(nodes_.size());
        ch.val.resize(nodes_.size());
        ch.caches.resize(layers_.size());
        ch.cache_owner.resize(layers_.size(), nullptr);
        for (std::size_t l = 0; l < layers_.size(); ++l)
            if (ch.cache_owner[l] != &layers_[l].erased()) {  // new, replaced or copied layers get a fresh cache
                ch.caches[l] = layers_[l].erased().make_cache();
                ch.cache_owner[l] = &layers_[l].erased();
            }
        const Eigen::Index B = ctx0.batch;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            const node& n = nodes_[i];
            block<T>& o = ch.out[i];
            ch.val[i] = &o;
            const chunk_info ctx = context(p, ch, i);
            if (n.kind == node_kind::input) {
                const auto& in = inputs[n.index];
                const Eigen::Index S = in.sequence ? ctx.steps : 1, F = n.shape.features;
                o.v.resize(F, S * B);
                o.steps = S;
                o.batch = B;
                o.sequence = in.sequence;
                const std::ptrdiff_t ts = in.step_stride, fs = in.feature_stride;
                for (Eigen::Index b = 0; b < B; ++b) {
                    const T* src = in.sample(ch.first + static_cast<std::size_t>(b));  // read in place, any strides
                    const Eigen::Index len = ctx.lengths ? (*ctx.lengths)[static_cast<std::size_t>(b)] : S;
                    for (Eigen::Index t = 0; t < S; ++t)
                        for (Eigen::Index f = 0; f < F; ++f)
                            o.v(f, t * B + b) = in.sequence && t >= len ? T(0)
                                                                        : src[t * ts + f * fs];  // padding may be NaN
                }
            } else if (n.kind == node_kind::layer) {
                const auto& layer = layers_[n.index].erased();
                if (p.no_grad && layer.passes_through(p.run_mode)) {
                    ch.val[i] = ch.val[n.from[0]];  // the identity (dropout at inference): no call, no copy
                    continue;
                }
                layer.forward(ch.val[n.from[0]]->v, o.v, *ch.caches[n.index],
                              layer_context(p, context(p, ch, n.from[0]), i));
                describe_block(o, n.shape, ctx);
            } else if (n.kind == node_kind::add) {
                const block<T>& first = *ch.val[n.from[0]];
                o.v = first.v;
                for (std::size_t k = 1; k < n.from.size(); ++k) o.v += ch.val[n.from[k]]->v;
                o.steps = first.steps;
                o.batch = first.batch;
                o.sequence = first.sequence;
            } else {
                const block<T>& first = *ch.val[n.from[0]];
                o.v.resize(n.shape.features, first.v.cols());
                o.steps = first.steps;
                o.batch = first.batch;
                o.sequence = first.sequence;
                Eigen::Index row = 0;
                for (auto f : n.from) {
                    o.v.middleRows(row, ch.val[f]->v.rows()) = ch.val[f]->v;
                    row += ch.val[f]->v.rows();
                }
            }
        }
    }

    static void accumulate(chunk& ch, std::size_t target, block<T>& g) {
        if (ch.has_grad[target]) {
            ch.grad[target].v += g.v;
        } else {
            ch.grad[target].v.swap(g.v);  // both buffers keep their sizes for the next call
            ch.has_grad[target] = 1;
        }
        const block<T>& o = ch.out[target];
        ch.grad[target].steps = o.steps;
        ch.grad[target].batch = o.batch;
        ch.grad[target].sequence = o.sequence;
    }

    bool needs_grad(const pass& p, std::size_t n) const noexcept {
        return nodes_[n].kind != node_kind::input || p.want_input_grad;
    }

    void backward_chunk(const pass& p, chunk& ch, const T* gout) const {
        const chunk_info ctx = context(p, ch, output_);
        ch.grad.resize(nodes_.size());
        ch.has_grad.assign(nodes_.size(), 0);
        ch.scratch.resize(nodes_.size());
        ch.pgrad.resize(layers_.size());
        for (std::size_t l = 0; l < layers_.size(); ++l) ch.pgrad[l].assign(layers_[l].storage().size(), T(0));
        // scatter the output gradient into the chunk layout; steps past a sample's length are ignored
        {
            const block<T>& o = ch.out[output_];
            block<T>& g = ch.grad[output_];
            const Eigen::Index F = o.v.rows(), S = o.steps, B = ctx.batch;
            g.v.resize(F, S * B);
            g.steps = S;
            g.batch = B;
            g.sequence = o.sequence;
            for (Eigen::Index b = 0; b < B; ++b) {
                const T* src = gout + (ch.first + static_cast<std::size_t>(b)) * static_cast<std::size_t>(S * F);
                const Eigen::Index len = o.sequence && ctx.lengths ? (*ctx.lengths)[static_cast<std::size_t>(b)] : S;
                for (Eigen::Index t = 0; t < S; ++t)
                    for (Eigen::Index f = 0; f < F; ++f) g.v(f, t * B + b) = t < len ? src[t * F + f] : T(0);
            }
            ch.has_grad[output_] = 1;
        }
        for (std::size_t i = nodes_.size(); i-- > 0;) {
            if (!ch.has_grad[i]) continue;
            const node& n = nodes_[i];
            if (n.kind == node_kind::layer) {
                const std::size_t src = n.from[0];
                const bool want = needs_grad(p, src);
                const chunk_info src_ctx = context(p, ch, src);
                layers_[n.index].erased().backward(ch.out[src].v, ch.out[i].v, ch.grad[i].v,
                                                   want ? &ch.scratch[i].v : nullptr, ch.pgrad[n.index].data(),
                                                   *ch.caches[n.index], layer_context(p, src_ctx, i));
                if (want) {
                    describe_block(ch.scratch[i], nodes_[src].shape, src_ctx);
                    accumulate(ch, src, ch.scratch[i]);
                }
            } else if (n.kind == node_kind::concat) {
                Eigen::Index row = 0;
                for (auto f : n.from) {
                    const Eigen::Index r = ch.out[f].v.rows();
                    if (needs_grad(p, f)) {
                        if (ch.has_grad[f]) {
                            ch.grad[f].v += ch.grad[i].v.middleRows(row, r);
                        } else {
                            ch.scratch[i].v = ch.grad[i].v.middleRows(row, r);
                            accumulate(ch, f, ch.scratch[i]);
                        }
                    }
                    row += r;
                }
            } else if (n.kind == node_kind::add) {
                for (auto f : n.from) {
                    if (!needs_grad(p, f)) continue;
                    if (ch.has_grad[f]) {
                        ch.grad[f].v += ch.grad[i].v;
                    } else {
                        ch.scratch[i].v = ch.grad[i].v;
                        accumulate(ch, f, ch.scratch[i]);
                    }
                }
            }
        }
    }

    /// Copies node n's chunk blocks (its output, or its gradient) back into a (batch[, time], features) array,
    /// with zeros past each sample's length.
    xt::xarray<T> gather(const pass& p, std::size_t n, bool gradient) const {
        xt::xarray<T> out = output_array(p, n);
        for (const auto& ch : p.chunks) {
            const bool has = gradient ? (n < ch.has_grad.size() && ch.has_grad[n]) : true;
            if (has) write_chunk(p, ch, n, gradient ? ch.grad[n] : ch.out[n], out);
        }
        return out;
    }
    /// A zero (batch[, time], features) array for node n's values.
    xt::xarray<T> output_array(const pass& p, std::size_t n) const {
        const io_shape s = nodes_[n].shape;
        const std::size_t S = s.sequence ? p.node_steps[n] : 1, F = static_cast<std::size_t>(s.features);
        xt::xarray<T> out = s.sequence ? xt::xarray<T>::from_shape({p.batch, S, F})
                                       : xt::xarray<T>::from_shape({p.batch, F});
        out.fill(T(0));
        return out;
    }
    /// Copies block v, node n's values on chunk ch, into that chunk's rows of `out` (steps past each
    /// sample's length are left as they are: zero).
    void write_chunk(const pass& p, const chunk& ch, std::size_t n, const block<T>& blk, xt::xarray<T>& out) const {
        const io_shape s = nodes_[n].shape;
        const std::size_t S = s.sequence ? p.node_steps[n] : 1, F = static_cast<std::size_t>(s.features);
        const matrix<T>& v = blk.v;
        const std::size_t B = ch.count;
        for (std::size_t b = 0; b < B; ++b) {
            const std::size_t len = s.sequence && p.masked ? static_cast<std::size_t>(ch.node_lengths[n][b]) : S;
            T* dst = out.data() + (ch.first + b) * S * F;
            for (std::size_t t = 0; t < len; ++t)
                for (std::size_t f = 0; f < F; ++f)
                    dst[t * F + f] = v(static_cast<Eigen::Index>(f), static_cast<Eigen::Index>(t * B + b));
        }
    }

    /// ferrum's thread pool over the chunks (the partition is fixed, so results do not depend on threads).
    template <class F>
    void parallel(std::size_t n, F&& f, std::size_t threads = 0) const {
        parallel_options o;
        o.threads = static_cast<unsigned>(threads ? threads : num_threads);  // 0: the hardware's cores
        parallel_for(n, o, std::forward<F>(f));
    }

    std::vector<node> nodes_;
    std::vector<layer_type> layers_;
    std::size_t num_inputs_ = 0, output_ = npos;
    /// Passes for const predict(), reused across calls and handed to one call at a time (so concurrent
    /// calls never share one); at most `kept` are kept. Copies and moves of a graph start with an empty pool.
    struct pass_pool {
        static constexpr std::size_t kept = 8;
        std::mutex mutex;
        std::vector<std::unique_ptr<pass>> free;
        pass_pool() = default;
        pass_pool(const pass_pool&) {}
        pass_pool(pass_pool&&) noexcept {}
        pass_pool& operator=(const pass_pool&) { return *this; }
        pass_pool& operator=(pass_pool&&) noexcept { return *this; }
        std::unique_ptr<pass> take() {
            std::lock_guard<std::mutex> lock(mutex);
            if (free.empty()) return std::make_unique<pass>();
            auto p = std::move(free.back());
            free.pop_back();
            return p;
        }
        void give(std::unique_ptr<pass> p) {
            std::lock_guard<std::mutex> lock(mutex);
            if (p && free.size() < kept) free.push_back(std::move(p));
        }
    };
    mutable pass_pool passes_;
    pass last_;  ///< the training API's pass: what forward() leaves for backward() and output_tensor()
};

}  // namespace detail
}  // namespace ferrum::nn
