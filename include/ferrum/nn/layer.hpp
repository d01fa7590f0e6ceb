// The layer seam of ferrum::nn: what a layer type provides, the type-erased handle the engine stores
// (nn::any_layer); the registry that model files use to rebuild a layer from its JSON type name is in
// layer_registry.hpp. A layer -- built in or a user's -- lives in one file; the engine and the model files
// name no concrete layer.
//
// A layer type L (see dense.hpp for a complete one) provides:
//   static constexpr const char* type_name;                 // "dense": its "type" in model files
//   io_shape output_shape(io_shape in) const;               // throws value_error for an unfit input
//   nlohmann::json config() const;                          // hyperparameters (weights are written apart)
//   static L from_config(const nlohmann::json& j);          // the inverse (use nn::config_field)
//   parameter_storage<T>& storage(); const version;         // declared parameters (may be empty)
//   void reset_parameters(std::uint64_t seed);              // re-initialise from a seed
//   struct cache;                                           // per-chunk scratch memory (default-constructible)
//   void forward(const matrix<T>& x, matrix<T>& y, cache&, const chunk_info&) const;
//   void backward(const matrix<T>& x, const matrix<T>& y, const matrix<T>& dy, matrix<T>* dx, T* grad,
//                 cache&, const chunk_info&) const;        // grad: += into a buffer shaped as storage()
// and optionally io_shape input_shape() const (lets it start an nn::sequential),
// std::uint64_t begin_forward(mode) (called once per training-API forward pass; its result reaches the
// chunks as chunk_info::draw; const predict() passes its dropout_seed instead),
// bool passes_through(mode m) const (true: in mode m the layer is the identity, as dropout at inference;
// a const predict() then hands the layer's input on without calling forward or copying it) and
// std::size_t output_steps(std::size_t steps) const (a sequence-to-sequence layer that changes the number of
// steps, as a strided convolution or pooling over time: the steps out of `steps` steps in, also applied to
// each sample's valid length; 0 = too short. Such a layer gets its input's steps and lengths in chunk_info
// and writes features x (output_steps(steps) * batch); the layers after it see the new steps and lengths).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/nn/detail/block.hpp"
#include "ferrum/nn/detail/parameter_storage.hpp"
#include "ferrum/nn/parameter.hpp"

namespace ferrum::nn {

/// The flat parameter and gradient buffers of one layer (declare() tensors in its constructor).
template <class T>
using parameter_storage = detail::parameter_storage<T>;

/// \brief Reads field `key` of a layer's JSON object as V; throws value_error naming the field when it is
/// missing or has the wrong type (model files report it with the file and the JSON path).
template <class V>
V config_field(const nlohmann::json& j, const std::string& key) {
    if (!j.is_object() || !j.contains(key)) throw value_error("field '" + key + "' is missing");
    try {
        return j.at(key).get<V>();
    } catch (const nlohmann::json::exception&) {
        throw value_error("field '" + key + "' has the wrong type (" + std::string(j.at(key).type_name()) + ")");
    }
}

namespace detail {

template <class L, class = void>
struct has_input_shape : std::false_type {};
template <class L>
struct has_input_shape<L, std::void_t<decltype(std::declval<const L&>().input_shape())>> : std::true_type {};
template <class L, class = void>
struct has_output_steps : std::false_type {};
template <class L>
struct has_output_steps<L, std::void_t<decltype(std::declval<const L&>().output_steps(std::size_t(1)))>>
    : std::true_type {};
template <class L, class = void>
struct has_passes_through : std::false_type {};
template <class L>
struct has_passes_through<L, std::void_t<decltype(std::declval<const L&>().passes_through(mode::inference))>>
    : std::true_type {};
template <class L, class = void>
struct has_begin_forward : std::false_type {};
template <class L>
struct has_begin_forward<L, std::void_t<decltype(std::declval<L&>().begin_forward(mode::inference))>> : std::true_type {
};

/// Per-chunk scratch memory of one layer, type-erased.
struct layer_cache_base {
    virtual ~layer_cache_base() = default;
};
template <class C>
struct layer_cache_holder final : layer_cache_base {
    C value;
};

/// The virtual interface behind any_layer (one implementation per layer type).
template <class T>
struct layer_concept {
    virtual ~layer_concept() = default;
    virtual std::unique_ptr<layer_concept> clone() const = 0;
    virtual const void* target(const std::type_info& t) const noexcept = 0;
    virtual std::string type_name() const = 0;
    virtual nlohmann::json config() const = 0;
    virtual io_shape output_shape(io_shape in) const = 0;
    virtual io_shape input_shape() const = 0;                       ///< features 0: the layer does not fix its input
    virtual std::size_t output_steps(std::size_t steps) const = 0;  ///< steps out of a sequence of `steps`
    virtual parameter_storage<T>& storage() noexcept = 0;
    virtual const parameter_storage<T>& storage() const noexcept = 0;
    virtual void reset_parameters(std::uint64_t seed) = 0;
    virtual std::uint64_t begin_forward(mode m) = 0;
    virtual bool passes_through(mode m) const noexcept = 0;  ///< the identity in mode m (predict skips it)
    virtual std::unique_ptr<layer_cache_base> make_cache() const = 0;
    virtual void forward(const matrix<T>& x, matrix<T>& y, layer_cache_base& c, const chunk_info& ctx) const = 0;
    virtual void backward(const matrix<T>& x, const matrix<T>& y, const matrix<T>& dy, matrix<T>* dx, T* grad,
                          layer_cache_base& c, const chunk_info& ctx) const = 0;
};

/// The erased interface over a layer L: held by value (Ref = false) or referenced (Ref = true).
template <class T, class L, bool Ref>
struct layer_model_impl final : layer_concept<T> {
    using cache_type = typename L::cache;
    std::conditional_t<Ref, L&, L> layer;
    explicit layer_model_impl(L l) : layer(std::move(l)) {}
    explicit layer_model_impl(L* l) : layer(*l) {}
    std::unique_ptr<layer_concept<T>> clone() const override {
        if constexpr (Ref) return nullptr;  // any_layer re-binds a referenced layer after copying it
        else return std::make_unique<layer_model_impl>(layer);
    }
    const void* target(const std::type_info& t) const noexcept override { return t == typeid(L) ? &layer : nullptr; }
    std::string type_name() const override { return L::type_name; }
    nlohmann::json config() const override { return layer.config(); }
    io_shape output_shape(io_shape in) const override { return layer.output_shape(in); }
    io_shape input_shape() const override {
        if constexpr (has_input_shape<L>::value) return layer.input_shape();
        else return {};
    }
    std::size_t output_steps(std::size_t steps) const override {
        if constexpr (has_output_steps<L>::value) return layer.output_steps(steps);
        else return steps;
    }
    parameter_storage<T>& storage() noexcept override { return layer.storage(); }
    const parameter_storage<T>& storage() const noexcept override { return layer.storage(); }
    void reset_parameters(std::uint64_t seed) override { layer.reset_parameters(seed); }
    std::uint64_t begin_forward(mode m) override {
        if constexpr (has_begin_forward<L>::value) return layer.begin_forward(m);
        else return 0;
    }
    bool passes_through(mode m) const noexcept override {
        if constexpr (has_passes_through<L>::value) return layer.passes_through(m);
        else return false;
    }
    std::unique_ptr<layer_cache_base> make_cache() const override {
        return std::make_unique<layer_cache_holder<cache_type>>();
    }
    void forward(const matrix<T>& x, matrix<T>& y, layer_cache_base& c, const chunk_info& ctx) const override {
        layer.forward(x, y, static_cast<layer_cache_holder<cache_type>&>(c).value, ctx);
    }
    void backward(const matrix<T>& x, const matrix<T>& y, const matrix<T>& dy, matrix<T>* dx, T* grad,
                  layer_cache_base& c, const chunk_info& ctx) const override {
        layer.backward(x, y, dy, dx, grad, static_cast<layer_cache_holder<cache_type>&>(c).value, ctx);
    }
};
template <class T, class L>
using layer_model = layer_model_impl<T, L, false>;

}  // namespace detail

namespace detail {
/// Source compatibility with the former closed std::variant of layers: the one layer type named here per
/// (T, Backend) (a layer's own header may specialise this; ferrum's dropout.hpp does) is also stored in a
/// std::variant base of any_layer, so `std::get_if<L>(&model.layer(i))` keeps working for it.
struct no_variant_layer {};
template <class T, class Backend>
struct variant_compatible_layer {
    using type = no_variant_layer;
};
template <class T, class Backend>
using variant_base = std::variant<std::monostate, typename variant_compatible_layer<T, Backend>::type>;

/// The erased interface over a layer stored elsewhere (in any_layer's variant base).
template <class T, class L>
using layer_ref_model = layer_model_impl<T, L, true>;
}  // namespace detail

/// \brief Any layer a model can hold: a value-semantic, type-erased handle (copying copies the layer).
/// Get the concrete layer back with nn::get_if<L>(&handle) or nn::get<L>(handle).
/// \tparam T float or double. \tparam Backend the ferrum::backend tag of the model.
template <class T, class Backend>
class any_layer : public detail::variant_base<T, Backend> {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ferrum::nn layers are defined for T = float or T = double only");
    using base = detail::variant_base<T, Backend>;
    using compat = typename detail::variant_compatible_layer<T, Backend>::type;

public:
    template <class L, class = std::enable_if_t<!std::is_same_v<std::decay_t<L>, any_layer>>>
    any_layer(L layer)  // NOLINT: implicit on purpose, as std::variant's converting constructor
    {
        static_assert(std::is_same_v<typename L::value_type, T>,
                      "ferrum::nn: the layer's scalar type differs from the model's");
        static_assert(std::is_same_v<typename L::backend_type, Backend>,
                      "ferrum::nn: the layer's backend differs from the model's");
        if constexpr (std::is_same_v<L, compat>) {
            base::template emplace<1>(std::move(layer));
            rebind();
        } else {
            impl_ = std::make_unique<detail::layer_model<T, L>>(std::move(layer));
        }
    }
    any_layer(const any_layer& o) : base(static_cast<const base&>(o)) {
        if (base::index() == 1) rebind();
        else impl_ = o.impl_->clone();
    }
    any_layer(any_layer&& o) : base(static_cast<base&&>(o)), impl_(std::move(o.impl_)) {
        if (base::index() == 1) rebind();
    }
    any_layer& operator=(const any_layer& o) {
        if (this != &o) *this = any_layer(o);
        return *this;
    }
    any_layer& operator=(any_layer&& o) {
        if (this != &o) {
            base::operator=(static_cast<base&&>(o));
            impl_ = std::move(o.impl_);
            if (base::index() == 1) rebind();
        }
        return *this;
    }
    ~any_layer() = default;

    /// The layer as L, or null when it is another type.
    template <class L>
    L* get_if() noexcept {
        return const_cast<L*>(static_cast<const L*>(impl_->target(typeid(L))));
    }
    template <class L>
    const L* get_if() const noexcept {
        return static_cast<const L*>(impl_->target(typeid(L)));
    }

    std::string type_name() const { return impl_->type_name(); }
    nlohmann::json config() const { return impl_->config(); }
    io_shape output_shape(io_shape in) const { return impl_->output_shape(in); }
    io_shape input_shape() const { return impl_->input_shape(); }
    parameter_storage<T>& storage() noexcept { return impl_->storage(); }
    const parameter_storage<T>& storage() const noexcept { return impl_->storage(); }
    parameter_list<T> parameters(const std::string& prefix = {}) { return storage().refs(prefix); }
    void reset_parameters(std::uint64_t seed) { impl_->reset_parameters(seed); }
    std::uint64_t begin_forward(mode m) { return impl_->begin_forward(m); }

    /// The engine's entry points (per-chunk caches are owned by the caller's pass).
    const detail::layer_concept<T>& erased() const noexcept { return *impl_; }

private:
    void rebind() {
        if constexpr (!std::is_same_v<compat, detail::no_variant_layer>)
            impl_ = std::make_unique<detail::layer_ref_model<T, compat>>(&std::get<1>(static_cast<base&>(*this)));
    }
    std::unique_ptr<detail::layer_concept<T>> impl_;
};

/// \brief The layer held by `h` as L, or null (as std::get_if on the former std::variant).
template <class L, class T, class Backend>
L* get_if(any_layer<T, Backend>* h) noexcept {
    return h ? h->template get_if<L>() : nullptr;
}
template <class L, class T, class Backend>
const L* get_if(const any_layer<T, Backend>* h) noexcept {
    return h ? h->template get_if<L>() : nullptr;
}
/// \brief The layer held by `h` as L; throws value_error when it is another type.
template <class L, class T, class Backend>
L& get(any_layer<T, Backend>& h) {
    if (L* l = h.template get_if<L>()) return *l;
    throw value_error("the layer is a '" + h.type_name() + "', not a '" + L::type_name + "'");
}

}  // namespace ferrum::nn

// dropout.hpp names the one layer of the source-compatibility variant base (variant_compatible_layer);
// including it here makes that declaration precede every use of any_layer, whatever the include order.
#include "ferrum/nn/dropout.hpp"
