// The inference path (const predict(): no backward pass follows, one chunk per worker at a time, recurrent
// kernels that keep nothing for backward, dropout handed on uncopied) against PyTorch 1.13
// (tests/data/reference/recurrent_layers.json and tests/data/gru_stack.json) and against the training API's
// forward pass, which keeps everything: the same chunks must give the same bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ferrum/nn/functional.hpp"
#include "ferrum/nn/sequential.hpp"
#include "reference.hpp"

namespace nn_inference {  // the test cases inside it too: the file shares a unity build with test_gru_parity's helpers

using json = nlohmann::json;
namespace nn = ferrum::nn;
using cpu = ferrum::backend::cpu;

using ferrum_test::flat;
template <class A>
std::vector<double> values(const A& a) {
    return {a.begin(), a.end()};
}
/// Bitwise equality (NaN-free arrays): the inference path runs the same arithmetic as the training one.
template <class A, class B>
bool same_bits(const A& a, const B& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

nn::any_layer<double, cpu> recurrent_layer_of(const json& c) {
    std::optional<nn::merge_mode> m;
    if (!c["merge_mode"].is_null()) m = nn::merge_mode_from_string(c["merge_mode"].get<std::string>());
    const auto in = c["input_size"].get<std::size_t>();
    const auto hidden = c["hidden_sizes"].get<std::vector<std::size_t>>();
    const bool seq = c["return_sequences"];
    if (c["type"] == "lstm") return nn::lstm<double, cpu>(in, hidden, seq, 0, m);
    return nn::gru<double, cpu>(in, hidden, seq, 0, m);
}

/// A seeded ragged batch: lengths in [1, steps].
struct ragged_batch {
    xt::xtensor<double, 3> x;
    std::vector<std::size_t> lengths;
    ragged_batch(std::size_t batch, std::size_t steps, std::size_t features, std::uint64_t seed) {
        std::mt19937_64 gen(seed);
        std::normal_distribution<double> n(0.0, 1.0);
        std::uniform_int_distribution<std::size_t> len(1, steps);
        x = xt::xtensor<double, 3>::from_shape({batch, steps, features});
        for (auto& v : x) v = n(gen);
        for (std::size_t b = 0; b < batch; ++b) lengths.push_back(len(gen));
    }
};

TEST_CASE("predict equals PyTorch and the training forward pass bit for bit: LSTM, bidirectional GRU/LSTM",
          "[nn][inference]") {
    const json ref = ferrum_test::load_reference("reference/recurrent_layers.json");
    for (const auto& c : ref["cases"]) {
        INFO(c["name"].get<std::string>());
        nn::sequential<double, cpu> model;
        model.add(recurrent_layer_of(c));
        const auto params = model.parameters();
        REQUIRE(params.size() == c["params"].size());
        for (std::size_t i = 0; i < params.size(); ++i) {
            const auto v = ferrum_test::vec(c["params"][i]["value"]);
            std::copy(v.begin(), v.end(), params[i].value);
        }
        const auto xs = c["x_shape"].get<std::vector<std::size_t>>();
        xt::xtensor<double, 3> x = xt::xtensor<double, 3>::from_shape({xs[0], xs[1], xs[2]});
        const auto xv = ferrum_test::vec(c["x"]);
        std::copy(xv.begin(), xv.end(), x.begin());
        const auto lengths = c["lengths"].get<std::vector<std::size_t>>();
        model.set_chunk_size(2);  // 3 samples: two chunks, one of them ragged
        model.set_num_threads(2);
        const xt::xarray<double> got = model.predict(std::vector<nn::input_view<double>>{x}, lengths);
        CHECK(ferrum_test::max_scaled_error(values(got), ferrum_test::vec(c["y"])) < 1e-10);
        const xt::xarray<double> kept = c["return_sequences"].get<bool>()
                                            ? xt::xarray<double>(model.forward_sequence(x, lengths))
                                            : xt::xarray<double>(model.forward(x, lengths));
        CHECK(same_bits(got, kept));
    }
}

TEST_CASE("predict equals PyTorch's GRU stack with dropout layers off at inference", "[nn][inference]") {
    const json ref = ferrum_test::load_reference("gru_stack.json");
    const auto& layers = ref["gru"];
    nn::sequential<double, cpu> model;
    std::vector<std::size_t> owner;  // model layer -> oracle layer (npos: dropout)
    for (std::size_t k = 0; k < layers.size(); ++k) {
        const std::size_t wih = flat(layers[k]["weight_ih_l0"]["value"]).size(),
                          whh = flat(layers[k]["weight_hh_l0"]["value"]).size();
        const auto H = static_cast<std::size_t>(std::lround(std::sqrt(double(whh) / 3.0)));
        model.add(nn::gru<double, cpu>(wih / (3 * H), H, k + 1 < layers.size()));
        model.add(nn::dropout<double, cpu>(0.3, 7 + k));
    }
    const auto head = flat(ref["head"]["weight"]["value"]);
    model.add(nn::dense<double, cpu>(head.size(), 1));
    for (auto& p : model.parameters()) {
        const auto dot = p.name.find('.');
        const std::size_t idx = std::stoul(p.name.substr(0, dot)), k = idx / 2;
        const json& src = k < layers.size() ? layers[k][p.name.substr(dot + 1)] : ref["head"][p.name.substr(dot + 1)];
        const auto v = flat(src["value"]);
        REQUIRE(v.size() == p.size());
        std::copy(v.begin(), v.end(), p.value);
    }
    const auto xv = flat(ref["x"]);
    const std::size_t B = ref["x"].size(), S = ref["x"][0].size(), F = ref["x"][0][0].size();
    xt::xtensor<double, 3> x = xt::xtensor<double, 3>::from_shape({B, S, F});
    std::copy(xv.begin(), xv.end(), x.begin());
    model.set_chunk_size(2);
    const auto got = model.predict(x);
    CHECK(ferrum_test::max_scaled_error(values(got), flat(ref["yhat"])) < 1e-10);
    CHECK(same_bits(got, model.forward(x)));
}

TEST_CASE("predict streams many chunks through reused workspaces: ragged lengths across chunk edges",
          "[nn][inference]") {
    // 203 ragged samples in chunks of 4 on 3 threads: each worker reuses its workspace for ~17 chunks
    nn::sequential<double, cpu> model;
    model.add(nn::gru<double, cpu>(3, std::vector<std::size_t>{9, 5}, true, 11))
        .add(nn::dropout<double, cpu>(0.25, 3))
        .add(nn::lstm<double, cpu>(5, std::vector<std::size_t>{4}, false, 12, nn::merge_mode::concat))
        .add(nn::dropout<double, cpu>(0.25, 4))
        .add(nn::dense<double, cpu>(8, 2, nn::activation::linear, 13));
    const ragged_batch big(203, 13, 3, 99);
    model.set_chunk_size(4);
    const auto got = model.predict(big.x, big.lengths, nn::mode::inference, 0, 3);
    CHECK(same_bits(got, model.forward(big.x, big.lengths)));  // the same chunks, everything kept
    // one chunk for the whole batch: other panel widths, the same per-sample sums
    model.set_chunk_size(256);
    const auto one = model.forward(big.x, big.lengths);
    CHECK(ferrum_test::max_scaled_error(values(got), values(one)) < 1e-12);
    // Monte-Carlo dropout: predict's masks are those of a training-API pass with draw = dropout_seed
    model.set_chunk_size(4);
    const auto mc = model.predict(big.x, big.lengths, nn::mode::mc_dropout, 5, 3);
    for (std::size_t l : {1u, 3u}) nn::get<nn::dropout<double, cpu>>(model.layer(l)).set_draw(5);
    CHECK(same_bits(mc, model.forward(big.x, big.lengths, nn::mode::mc_dropout)));
    CHECK_FALSE(same_bits(mc, got));
    // a second, smaller call reuses the pooled workspaces sized by the first
    const ragged_batch small(6, 13, 3, 100);
    CHECK(same_bits(model.predict(small.x, small.lengths, nn::mode::inference, 0, 3),
                    model.forward(small.x, small.lengths)));
}

TEST_CASE("predict of an averaging ensemble graph equals its training forward pass", "[nn][inference]") {
    // two GRU members on one input, their outputs averaged by a fixed dense layer: the functional graph
    // runs every member per chunk, so its memory does not grow with the batch either
    nn::functional<double, cpu> g;
    const auto in = g.input("x", 2, true);
    const auto a = g.add("a_out", nn::dense<double, cpu>(6, 1, nn::activation::linear, 1), g.add("a_drop", nn::dropout<double, cpu>(0.2, 1),
                                                                        g.add("a", nn::gru<double, cpu>(2, 6, false, 2), in)));
    const auto b = g.add("b_out", nn::dense<double, cpu>(4, 1, nn::activation::linear, 3), g.add("b", nn::gru<double, cpu>(2, 4, false, 4), in));
    g.add("mean", nn::dense<double, cpu>(2, 1, nn::activation::linear, 5), g.concat("members", {a, b}));
    for (auto& p : g.parameters())
        if (p.name == "mean.weight") std::fill(p.value, p.value + p.size(), 0.5);
        else if (p.name == "mean.bias") p.value[0] = 0.0;
    const ragged_batch batch(150, 9, 2, 7);
    g.set_chunk_size(8);
    const auto got = g.predict({nn::input_view<double>(batch.x)}, batch.lengths, nn::mode::inference, 0, 2);
    CHECK(same_bits(got, g.forward({nn::input_view<double>(batch.x)}, batch.lengths)));
}

}  // namespace nn_inference
