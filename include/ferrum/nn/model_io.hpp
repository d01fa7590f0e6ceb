// Model files: one JSON document with the architecture, every weight under its PyTorch name and shape,
// the preprocessing the model expects, and a few input/output test vectors re-run when the file is loaded
// (as frugally-deep's load_model(path, verify=true)), so a model trained elsewhere proves itself here.
// save_model / model_to_json write the envelope every ferrum model file shares, "ferrum.model" version 2
// {"kind": "nn", "architecture", "parameters" (keyed "<node>.<tensor>"), "preprocessing", "metadata",
// "self_test"}; its self-test is re-run only for kind "nn" (other kinds embed a network and keep their own
// raw-input self-tests). Files of earlier builds, "ferrum.nn.model" version 1 (weights inside each layer,
// "test_vectors"), are still read; saving them again writes version 2.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/model_reader.hpp"
#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/layer_registry.hpp"
#include "ferrum/nn/sequential.hpp"

namespace ferrum::nn {

/// What save_model writes besides the network.
struct save_options {
    nlohmann::json preprocessing = nlohmann::json::object();  ///< free-form: N points, channels, scaling...
    nlohmann::json metadata = nlohmann::json::object();       ///< free-form: data set, paper, date...
    std::size_t test_batch = 3;                               ///< samples in the generated test vectors
    std::size_t test_steps = 16;     ///< steps of generated test sequences (if the model takes sequences)
    std::uint64_t test_seed = 2026;  ///< generator of the test inputs
};

/// A loaded model: the network (as a graph; a chain of layers is also loadable as nn::sequential) and the
/// preprocessing object stored with it.
template <class T = float, class Backend = ferrum::default_backend>
struct model_file {
    functional<T, Backend> model;
    nlohmann::json preprocessing;
    nlohmann::json metadata;
};

namespace detail {

using ferrum::detail::is_model_envelope;
using ferrum::detail::join_path;
using ferrum::detail::model_reader;  // core/model_reader.hpp: every model file is read with it
using ferrum::detail::shape_string;

template <class T>
nlohmann::json nest(const T* data, const std::vector<std::size_t>& shape, std::size_t dim = 0) {
    if (dim == shape.size()) return static_cast<double>(*data);
    nlohmann::json a = nlohmann::json::array();
    std::size_t stride = 1;
    for (std::size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
    for (std::size_t i = 0; i < shape[dim]; ++i) a.push_back(nest(data + i * stride, shape, dim + 1));
    return a;
}

template <class T>
nlohmann::json tensor_json(const xt::xarray<T>& a) {
    std::vector<std::size_t> shape(a.shape().begin(), a.shape().end());
    return nest(a.data(), shape);
}

/// Builds a layer from its JSON object through the layer registry, reporting errors at `path`. Its weights
/// are fields of the object (version 1) or, with `parameters` (version 2), entries "<node>.<tensor>" of it.
/// Allowed fields: name, type, from, the layer's config() fields (and its weights in version 1).
template <class T, class Backend>
any_layer<T, Backend> layer_from_json(const nlohmann::json& j, const std::string& path, const model_reader& r,
                                      const nlohmann::json* parameters = nullptr, const std::string& node = {},
                                      std::set<std::string>* used = nullptr) {
    const std::string type = r.get<std::string>(j, "type", path);
    const auto& registry = layer_registry<T, Backend>::instance();
    if (!registry.contains(type))
        r.fail(path + ".type", "unknown layer type '" + type + "' (known: " + registry.known_types() + ")");
    try {
        any_layer<T, Backend> layer = registry.create(type, j);
        std::set<std::string> keys{"name", "type", "from"};
        const auto config = layer.config();
        for (auto it = config.begin(); it != config.end(); ++it) keys.insert(it.key());
        auto& st = layer.storage();
        if (!parameters)
            for (const auto& s : st.specs()) keys.insert(s.name);
        r.allow_only(j, keys, path);
        for (const auto& s : st.specs()) {
            const std::string key = node + "." + s.name;
            const auto v = parameters ? r.tensor<T>(r.at(*parameters, key, "parameters"), s.shape, "parameters." + key)
                                      : r.tensor<T>(r.at(j, s.name, path), s.shape, path + "." + s.name);
            if (used) used->insert(key);
            std::copy(v.begin(), v.end(), st.values().begin() + static_cast<std::ptrdiff_t>(s.offset));
        }
        return layer;
    } catch (const value_error& e) {
        r.fail(path, e.what());
    }
}

/// The architecture of a version-2 document: dtype, inputs, the layers (type, name, inputs, config; no
/// weights) and the output node.
template <class T, class Backend>
nlohmann::json architecture_json(const graph<T, Backend>& g) {
    nlohmann::json j;
    j["dtype"] = std::is_same_v<T, float> ? "float32" : "float64";
    j["inputs"] = nlohmann::json::array();
    j["layers"] = nlohmann::json::array();
    for (const auto& n : g.nodes()) {
        if (n.kind == node_kind::input) {
            j["inputs"].push_back({{"name", n.name}, {"features", n.shape.features}, {"sequence", n.shape.sequence}});
            continue;
        }
        nlohmann::json l;
        if (n.kind == node_kind::layer) {
            const auto& layer = g.layers()[n.index];
            l = layer.config();
            l["type"] = layer.type_name();
        } else {
            l = {{"type", n.kind == node_kind::add ? "add" : "concat"}};
        }
        l["name"] = n.name;
        l["from"] = nlohmann::json::array();
        for (auto f : n.from) l["from"].push_back(g.nodes()[f].name);
        j["layers"].push_back(std::move(l));
    }
    j["output"] = g.nodes()[g.output()].name;
    return j;
}

/// Every weight of the graph under "<node>.<PyTorch name>" (PyTorch's state_dict keys and layouts).
template <class T, class Backend>
nlohmann::json parameters_json(const graph<T, Backend>& g) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& n : g.nodes()) {
        if (n.kind != node_kind::layer) continue;
        const auto& st = g.layers()[n.index].storage();
        for (const auto& s : st.specs()) j[n.name + "." + s.name] = nest(st.values().data() + s.offset, s.shape);
    }
    return j;
}

/// Is `j` a version-2 envelope ("ferrum.model")? Version 1 documents are "ferrum.nn.model".
inline bool is_envelope(const nlohmann::json& j) { return is_model_envelope(j); }
/// The architecture part of a document (the whole document in version 1) and its JSON path.
inline const nlohmann::json& architecture_of(const nlohmann::json& j) {
    return is_envelope(j) ? j.at("architecture") : j;
}
/// The self-test vectors a loader re-runs and their JSON path: version 1 "test_vectors"; version 2
/// "self_test" of kind "nn" only. Null when there are none to run.
inline const nlohmann::json* self_test_of(const nlohmann::json& j, std::string& path) {
    if (is_envelope(j)) {
        if (j.value("kind", "") != "nn" || !j.contains("self_test")) return nullptr;
        path = "self_test";
        return &j["self_test"];
    }
    if (!j.contains("test_vectors")) return nullptr;
    path = "test_vectors";
    return &j["test_vectors"];
}

/// Fills an empty graph from the network part (dtype, inputs, layers, output) at JSON path `at`.
template <class T, class Backend>
void network_from_json(graph<T, Backend>& g, const nlohmann::json& j, const std::string& at, const model_reader& r,
                       const nlohmann::json* parameters) {
    const auto dtype = r.get<std::string>(j, "dtype", at);
    if (dtype != "float32" && dtype != "float64") r.fail(join_path(at, "dtype"), "must be float32 or float64");
    const auto& inputs = r.at(j, "inputs", at);
    if (!inputs.is_array() || inputs.empty()) r.fail(join_path(at, "inputs"), "needs at least one input");
    std::map<std::string, std::size_t> ids;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const std::string p = join_path(at, "inputs[" + std::to_string(i) + "]");
        r.allow_only(inputs[i], {"name", "features", "sequence"}, p);
        const auto name = r.get<std::string>(inputs[i], "name", p);
        try {
            ids[name] = g.add_input(
                name, {r.get<Eigen::Index>(inputs[i], "features", p), r.get<bool>(inputs[i], "sequence", p)});
        } catch (const value_error& e) {
            r.fail(p, e.what());
        }
    }
    const auto& layers = r.at(j, "layers", at);
    if (!layers.is_array() || layers.empty()) r.fail(join_path(at, "layers"), "needs at least one layer");
    std::set<std::string> used;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::string p = join_path(at, "layers[" + std::to_string(i) + "]");
        const auto& lj = layers[i];
        const auto name = r.get<std::string>(lj, "name", p);
        std::vector<std::size_t> from;
        for (const auto& f : r.get<std::vector<std::string>>(lj, "from", p)) {
            const auto it = ids.find(f);
            if (it == ids.end()) r.fail(p + ".from", "refers to '" + f + "', which is not an earlier node");
            from.push_back(it->second);
        }
        try {
            const auto type = r.get<std::string>(lj, "type", p);
            if (type == "concat" || type == "add") {
                r.allow_only(lj, {"name", "type", "from"}, p);
                ids[name] = type == "add" ? g.add_sum(name, from) : g.add_concat(name, from);
            } else {
                if (from.size() != 1) r.fail(p + ".from", "a layer reads exactly one node");
                ids[name] = g.add_layer(name, layer_from_json<T, Backend>(lj, p, r, parameters, name, &used), from[0]);
            }
        } catch (const value_error& e) {
            r.fail(p, e.what());
        }
    }
    const auto out = r.get<std::string>(j, "output", at);
    if (!ids.count(out)) r.fail(join_path(at, "output"), "names no node ('" + out + "')");
    g.set_output(ids[out]);
    if (parameters) r.allow_only(*parameters, used, "parameters");  // no tensor the network does not have
}

/// Fills an empty graph from a parsed model document (version 1 or the version-2 envelope).
template <class T, class Backend>
void graph_from_json(graph<T, Backend>& g, const nlohmann::json& j, const model_reader& r) {
    if (!j.is_object()) r.fail("", "a model file holds one JSON object");
    const auto format = r.get<std::string>(j, "format", "");
    if (format == "ferrum.model") {
        r.allow_only(
            j, {"format", "version", "kind", "architecture", "parameters", "preprocessing", "metadata", "self_test"},
            "");
        if (r.get<int>(j, "version", "") != 2)
            r.fail("version", "unsupported version (this reader knows 2 for ferrum.model)");
        r.get<std::string>(j, "kind", "");
        const auto& arch = r.at(j, "architecture", "");
        r.allow_only(arch, {"dtype", "inputs", "layers", "output"}, "architecture");
        const auto& params = r.at(j, "parameters", "");
        if (!params.is_object()) r.fail("parameters", "expected an object");
        network_from_json(g, arch, "architecture", r, &params);
    } else if (format == "ferrum.nn.model") {
        r.allow_only(
            j,
            {"format", "version", "dtype", "inputs", "layers", "output", "preprocessing", "metadata", "test_vectors"},
            "");
        if (r.get<int>(j, "version", "") != 1)
            r.fail("version", "unsupported version (this reader knows 1 for ferrum.nn.model)");
        network_from_json(g, j, "", r, nullptr);
    } else {
        r.fail("format", "is not 'ferrum.model' (version 2) or 'ferrum.nn.model' (version 1)");
    }
}

/// Re-runs the embedded test vectors; throws input_error when an output differs by more than its tolerance.
template <class T, class Backend>
void verify_test_vectors(const graph<T, Backend>& g, const nlohmann::json& j, const model_reader& r) {
    std::string at;
    const nlohmann::json* vectors = self_test_of(j, at);
    if (!vectors) return;
    const bool file_is_double = architecture_of(j).value("dtype", "") == "float64";
    const auto& tv = *vectors;
    if (!tv.is_array()) r.fail(at, "must be an array");
    for (std::size_t k = 0; k < tv.size(); ++k) {
        const std::string p = at + "[" + std::to_string(k) + "]";
        r.allow_only(tv[k], {"inputs", "lengths", "output", "tolerance"}, p);
        const auto& ins = r.at(tv[k], "inputs", p);
        std::vector<xt::xtensor<T, 2>> tabs;
        std::vector<xt::xtensor<T, 3>> seqs;
        tabs.reserve(g.num_inputs());
        seqs.reserve(g.num_inputs());
        std::vector<input_view<T>> views;
        std::size_t batch = 0, steps = 0;
        if (!ins.is_array() || ins.size() != g.num_inputs()) r.fail(p + ".inputs", "needs one entry per model input");
        std::size_t i = 0;
        for (const auto& n : g.nodes()) {
            if (n.kind != node_kind::input) continue;
            const std::string ip = p + ".inputs[" + std::to_string(i) + "]";
            const auto& a = ins[i++];
            batch = a.is_array() ? a.size() : 0;
            const auto F = static_cast<std::size_t>(n.shape.features);
            if (n.shape.sequence) {
                steps = a.is_array() && !a.empty() && a[0].is_array() ? a[0].size() : 0;
                const auto v = r.tensor<T>(a, {batch, steps, F}, ip);
                seqs.push_back(xt::xtensor<T, 3>::from_shape({batch, steps, F}));
                std::copy(v.begin(), v.end(), seqs.back().begin());
                views.emplace_back(seqs.back());
            } else {
                const auto v = r.tensor<T>(a, {batch, F}, ip);
                tabs.push_back(xt::xtensor<T, 2>::from_shape({batch, F}));
                std::copy(v.begin(), v.end(), tabs.back().begin());
                views.emplace_back(tabs.back());
            }
        }
        std::vector<std::size_t> lengths;
        if (tv[k].contains("lengths")) lengths = r.get<std::vector<std::size_t>>(tv[k], "lengths", p);
        xt::xarray<T> got;
        try {
            got = g.predict(views, lengths, mode::inference, 0);
        } catch (const value_error& e) {
            r.fail(p, e.what());
        }
        const std::vector<std::size_t> shape(got.shape().begin(), got.shape().end());
        const auto want = r.tensor<double>(r.at(tv[k], "output", p), shape, p + ".output");
        double tol = tv[k].contains("tolerance") ? r.get<double>(tv[k], "tolerance", p) : 1e-5;
        if (std::is_same_v<T, float> && file_is_double) tol = std::max(tol, 1e-4);  // float64 file run in float32
        double scale = 1.0;
        for (double w : want) scale = std::max(scale, std::abs(w));
        for (std::size_t e = 0; e < want.size(); ++e) {
            const double d = std::abs(static_cast<double>(got.data()[e]) - want[e]);
            if (!(d <= tol * scale))
                r.fail(p + ".output", "the model gives " + std::to_string(static_cast<double>(got.data()[e])) +
                                          " at element " + std::to_string(e) + ", the file says " +
                                          std::to_string(want[e]) + " (tolerance " + std::to_string(tol) +
                                          "): weights, architecture or backend differ from the saving run");
        }
    }
}

template <class T>
nlohmann::json view_json(const input_view<T>& v) {
    std::vector<T> a;  // the view's elements in row-major order, whatever its strides
    a.reserve(v.batch * v.steps * v.features);
    for (std::size_t b = 0; b < v.batch; ++b)
        for (std::size_t t = 0; t < v.steps; ++t)
            for (std::size_t f = 0; f < v.features; ++f) a.push_back(v(b, t, f));
    return v.sequence ? nest(a.data(), {v.batch, v.steps, v.features}) : nest(a.data(), {v.batch, v.features});
}

/// The model document: architecture, weights, options' preprocessing and metadata, and one test vector --
/// `test_inputs` (with `test_lengths`) when given, else seeded random inputs -- run through the model.
template <class T, class Backend>
nlohmann::json graph_document(const graph<T, Backend>& g, const save_options& opt,
                              const std::vector<input_view<T>>& test_inputs,
                              const std::vector<std::size_t>& test_lengths) {
    nlohmann::json j{{"format", "ferrum.model"},
                     {"version", 2},
                     {"kind", "nn"},
                     {"architecture", architecture_json(g)},
                     {"parameters", parameters_json(g)},
                     {"preprocessing", opt.preprocessing},
                     {"metadata", opt.metadata}};
    std::vector<xt::xtensor<T, 2>> tabs;
    std::vector<xt::xtensor<T, 3>> seqs;
    tabs.reserve(g.num_inputs());
    seqs.reserve(g.num_inputs());
    std::vector<input_view<T>> views = test_inputs;
    std::vector<std::size_t> lengths = test_lengths;
    if (views.empty()) {
        std::mt19937_64 gen(opt.test_seed);
        std::normal_distribution<double> d(0.0, 1.0);
        const std::size_t B = std::max<std::size_t>(1, opt.test_batch), S = std::max<std::size_t>(1, opt.test_steps);
        for (const auto& n : g.nodes()) {
            if (n.kind != node_kind::input) continue;
            const auto F = static_cast<std::size_t>(n.shape.features);
            if (n.shape.sequence) {
                seqs.push_back(xt::xtensor<T, 3>::from_shape({B, S, F}));
                for (auto& v : seqs.back()) v = static_cast<T>(d(gen));
                views.emplace_back(seqs.back());
            } else {
                tabs.push_back(xt::xtensor<T, 2>::from_shape({B, F}));
                for (auto& v : tabs.back()) v = static_cast<T>(d(gen));
                views.emplace_back(tabs.back());
            }
        }
        if (!seqs.empty() && B > 1 && S > 1)  // exercise variable lengths too
            for (std::size_t b = 0; b < B; ++b) lengths.push_back(S - (b * (S - 1)) / B);
    }
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& v : views) inputs.push_back(view_json(v));
    nlohmann::json t{{"inputs", inputs}};
    if (!lengths.empty()) t["lengths"] = lengths;
    t["output"] = tensor_json<T>(g.predict(views, lengths, mode::inference, 0));
    t["tolerance"] = std::is_same_v<T, float> ? 1e-5 : 1e-12;
    j["self_test"] = nlohmann::json::array({t});
    return j;
}

template <class T, class Backend>
void save_graph(const std::filesystem::path& path, const graph<T, Backend>& g, const save_options& opt) {
    write_file_atomically(path, graph_document(g, opt, {}, {}).dump(1));
}

template <class Dummy = void>  // a template: nlohmann's parser is compiled only where a model is read
nlohmann::json read_model_document(const std::filesystem::path& path) {
    return read_json_file(path.string(), "model file");
}

}  // namespace detail

/// \brief Writes `model` (weights, architecture, options.preprocessing and generated test vectors) to
/// `path` atomically.
template <class T, class Backend>
void save_model(const std::filesystem::path& path, const sequential<T, Backend>& model,
                const save_options& options = {}) {
    detail::save_graph(path, model.engine(), options);
}
template <class T, class Backend>
void save_model(const std::filesystem::path& path, const functional<T, Backend>& model,
                const save_options& options = {}) {
    detail::save_graph(path, model.engine(), options);
}

/// \brief The model file's document as JSON, for embedding a network in a larger file (the giant-star
/// models do). The test vector is `test_inputs` (e.g. real, preprocessed inputs; `test_lengths` for
/// ragged sequences) run through the model in inference mode, or seeded random inputs when empty.
template <class T, class Backend>
nlohmann::json model_to_json(const functional<T, Backend>& model, const save_options& options = {},
                             const std::vector<input_view<T>>& test_inputs = {},
                             const std::vector<std::size_t>& test_lengths = {}) {
    return detail::graph_document(model.engine(), options, test_inputs, test_lengths);
}
template <class T, class Backend>
nlohmann::json model_to_json(const sequential<T, Backend>& model, const save_options& options = {},
                             const std::vector<input_view<T>>& test_inputs = {},
                             const std::vector<std::size_t>& test_lengths = {}) {
    return detail::graph_document(model.engine(), options, test_inputs, test_lengths);
}

/// \brief Reads a document of model_to_json() (or a whole parsed model file; "ferrum.nn.model" version 1 or
/// the "ferrum.model" version-2 envelope); `where` names it in errors. With `verify`, re-runs the embedded
/// test vectors ("self_test" of a version-2 document only when its kind is "nn") and throws
/// ferrum::input_error if the outputs differ.
/// Every malformed part is an input_error naming `where` and the JSON path (e.g.
/// "layers[1].weight_hh_l0: shape [48,16] expected [48,8]").
template <class T = float, class Backend = ferrum::default_backend>
model_file<T, Backend> model_from_json(const nlohmann::json& j, const std::string& where, bool verify = true) {
    const detail::model_reader r(where);
    model_file<T, Backend> out;
    detail::graph_from_json(out.model.engine(), j, r);
    if (verify) detail::verify_test_vectors(out.model.engine(), j, r);
    out.preprocessing = j.contains("preprocessing") ? j["preprocessing"] : nlohmann::json::object();
    out.metadata = j.contains("metadata") ? j["metadata"] : nlohmann::json::object();
    return out;
}

/// \brief Loads a model file into a graph model: model_from_json on the file (io_error if it cannot be
/// opened, input_error with the line if it is not JSON).
template <class T = float, class Backend = ferrum::default_backend>
model_file<T, Backend> load_model(const std::filesystem::path& path, bool verify = true) {
    return model_from_json<T, Backend>(detail::read_model_document(path), path.string(), verify);
}

/// \brief Loads a model file whose layers form a chain from one input (as written for nn::sequential).
template <class T = float, class Backend = ferrum::default_backend>
sequential<T, Backend> load_sequential(const std::filesystem::path& path, bool verify = true) {
    const nlohmann::json j = detail::read_model_document(path);
    const detail::model_reader r(path.string());
    sequential<T, Backend> out;
    detail::graph_from_json(out.engine(), j, r);
    const auto& nodes = out.engine().nodes();
    for (std::size_t i = 1; i < nodes.size(); ++i)
        if (nodes[i].kind != detail::node_kind::layer || nodes[i].from != std::vector<std::size_t>{i - 1} ||
            nodes[i].name != std::to_string(i - 1))
            r.fail("layers[" + std::to_string(i - 1) + "]",
                   "not a chain of layers named 0, 1, ...: load it with load_model()");
    if (nodes[0].kind != detail::node_kind::input || out.engine().output() != nodes.size() - 1)
        r.fail("output", "a sequential model returns its last layer");
    if (verify) detail::verify_test_vectors(out.engine(), j, r);
    return out;
}

}  // namespace ferrum::nn
