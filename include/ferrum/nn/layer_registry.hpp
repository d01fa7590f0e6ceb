// The registry that model files use to rebuild a layer from its JSON "type", one per scalar type and
// backend (frugally-deep's layer_creators map), and the way a user's layer joins it.
//
// The built-in layers are listed once, in the registry's constructor, and enter a registry the first time
// it is used (`instance()`). Nothing runs at static initialisation, so a translation unit pays for a layer's
// kernels only for the scalar types and backends whose model files it reads or writes: registering every
// layer at namespace scope, as before, instantiated all of them, float and double, in every file that
// included ferrum::nn (18.5 of the 45 s that `ferrum.hpp` took to compile; issue #15). A new built-in layer
// adds its header below and one line to the constructor.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "ferrum/core/error.hpp"
#include "ferrum/nn/activation_layer.hpp"
#include "ferrum/nn/attention_pooling.hpp"
#include "ferrum/nn/batch_norm.hpp"
#include "ferrum/nn/conv1d.hpp"
#include "ferrum/nn/dense.hpp"
#include "ferrum/nn/dropout.hpp"
#include "ferrum/nn/gelu.hpp"
#include "ferrum/nn/gru.hpp"
#include "ferrum/nn/layer.hpp"
#include "ferrum/nn/layer_norm.hpp"
#include "ferrum/nn/lstm.hpp"
#include "ferrum/nn/multi_head_attention.hpp"
#include "ferrum/nn/pooling.hpp"
#include "ferrum/nn/positional_encoding.hpp"
#include "ferrum/nn/transformer_encoder.hpp"

namespace ferrum::nn {

/// \brief Builds layers from their model-file JSON by type name, for one scalar type and backend.
///
/// The registry of one (T, Backend) is created, with every built-in layer in it, on its first use
/// (`instance()`: thread-safe, once); only then are the built-in layers' kernels of that T and Backend
/// instantiated. A user's layer joins with `register_layer<L>()`.
template <class T, class Backend>
class layer_registry {
public:
    using creator = std::function<any_layer<T, Backend>(const nlohmann::json&)>;

    static layer_registry& instance() {
        static layer_registry r{with_builtin_layers{}};
        return r;
    }
    /// Adds (or replaces) the creator of `type_name`.
    void add(const std::string& type_name, creator c) {
        std::lock_guard<std::mutex> lock(mutex_);
        creators_[type_name] = std::move(c);
    }
    bool contains(const std::string& type_name) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return creators_.count(type_name) > 0;
    }
    /// Builds a layer from its JSON object (hyperparameters; weights are filled in by the caller).
    any_layer<T, Backend> create(const std::string& type_name, const nlohmann::json& config) const {
        creator c;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            const auto it = creators_.find(type_name);
            if (it == creators_.end())
                throw value_error("unknown layer type '" + type_name + "' (known: " + known_types() + ")");
            c = it->second;
        }
        return c(config);
    }

    /// The registered type names, "concat" and "add" (the graph's own nodes), for error messages.
    std::string known_types() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string s;
        for (const auto& kv : creators_) s += (s.empty() ? "" : ", ") + kv.first;
        return s + (s.empty() ? "concat, add" : ", concat, add");
    }

private:
    struct with_builtin_layers {};
    explicit layer_registry(with_builtin_layers) {
        add<dense<T, Backend>>();
        add<dropout<T, Backend>>();
        add<gru<T, Backend>>();
        add<lstm<T, Backend>>();
        add<layer_norm<T, Backend>>();
        add<gelu<T, Backend>>();
        add<attention_pooling<T, Backend>>();
        add<multi_head_attention<T, Backend>>();
        add<transformer_encoder_layer<T, Backend>>();
        add<sinusoidal_positional_encoding<T, Backend>>();
        add<learned_positional_encoding<T, Backend>>();
        add<conv1d<T, Backend>>();
        add<batch_norm<T, Backend>>();
        add<max_pool1d<T, Backend>>();
        add<avg_pool1d<T, Backend>>();
        add<global_average_pooling<T, Backend>>();
        add<global_max_pooling<T, Backend>>();
        add<activation_layer<T, Backend>>();
    }
    template <class L>
    void add() {
        creators_[L::type_name] = [](const nlohmann::json& j) -> any_layer<T, Backend> { return L::from_config(j); };
    }

    mutable std::mutex mutex_;
    std::map<std::string, creator> creators_;
};

/// \brief Registers layer type L (its L::type_name and L::from_config) with the model files of its
/// scalar type and backend. Returns true, so a file can register at static initialisation:
/// `inline const bool my_layer_registered = ferrum::nn::register_layer<my_layer<float>>();`
template <class L>
bool register_layer() {
    using T = typename L::value_type;
    using B = typename L::backend_type;
    layer_registry<T, B>::instance().add(L::type_name,
                                         [](const nlohmann::json& j) -> any_layer<T, B> { return L::from_config(j); });
    return true;
}

}  // namespace ferrum::nn

/// Registers a user's layer class template `NAME<T, Backend>` for float and double on the CPU backend (and on
/// the cuDNN backend where ferrum::cudnn is linked), at static initialisation. Use it once, at namespace scope,
/// in one source file of the program. It instantiates all four layers' kernels where it stands: ferrum's own
/// layers do not use it (they are listed in layer_registry's constructor and enter a registry on its first use).
#define FERRUM_NN_REGISTER_LAYER_CPU(NAME)                                                                             \
  namespace ferrum::nn::detail {                                                                                       \
  inline const bool NAME##_registered_cpu = ::ferrum::nn::register_layer<NAME<float, ::ferrum::backend::cpu>>() &&     \
                                            ::ferrum::nn::register_layer<NAME<double, ::ferrum::backend::cpu>>();      \
  }
#define FERRUM_NN_REGISTER_LAYER_CUDNN(NAME)                                                                           \
  namespace ferrum::nn::detail {                                                                                       \
  inline const bool NAME##_registered_cudnn = ::ferrum::nn::register_layer<NAME<float, ::ferrum::backend::cudnn>>() && \
                                              ::ferrum::nn::register_layer<NAME<double, ::ferrum::backend::cudnn>>();  \
  }
#ifdef FERRUM_USE_CUDNN
#  define FERRUM_NN_REGISTER_LAYER(NAME) FERRUM_NN_REGISTER_LAYER_CPU(NAME) FERRUM_NN_REGISTER_LAYER_CUDNN(NAME)
#else
#  define FERRUM_NN_REGISTER_LAYER(NAME) FERRUM_NN_REGISTER_LAYER_CPU(NAME)
#endif
