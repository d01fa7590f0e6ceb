// Attention layers against PyTorch 1.13 (tests/data/reference/attention_layers.json, made by
// tools/make_attention_reference.py): layer_norm, gelu, attention pooling (additive, dot),
// multi_head_attention, positional encodings and transformer_encoder_layer (post-norm relu, pre-norm gelu)
// on a ragged batch; output, dx and every parameter gradient to 1e-10 (double) and 2e-5 (float) of the
// largest value. Plus finite differences, padding independence, dropout modes and a model-file round trip.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "ferrum/nn.hpp"
#include "finite_differences.hpp"
#include "layer_oracle_case.hpp"
#include "reference.hpp"

TEMPLATE_TEST_CASE("attention layers equal PyTorch: output, dx and every parameter gradient", "[nn][attention]", float,
                   double) {
    const auto ref = ferrum_test::load_reference("reference/attention_layers.json");
    const double tol = std::is_same_v<TestType, double> ? 1e-10 : 2e-5;
    REQUIRE(ref["cases"].size() >= 9);
    for (const auto& c : ref["cases"]) {
        ferrum_test::layer_oracle_case<TestType> t(c);  // tests/support/layer_oracle_case.hpp
        t.check(tol);
    }
}

TEST_CASE("transformer_encoder_layer gradients match finite differences", "[nn][attention]") {
    namespace nn = ferrum::nn;
    nn::functional<double> m;
    const auto in = m.input("x", 8, true);
    const auto h = m.add(
        "enc", nn::transformer_encoder_layer<double>(8, 2, 12, 0.0, nn::transformer_activation::gelu, true, 11), in);
    m.add("pool", nn::attention_pooling<double>(8, nn::attention_score::additive, 4, 12), h);
    const std::vector<std::size_t> lengths{5, 2};
    xt::xtensor<double, 3> x = xt::xtensor<double, 3>::from_shape({2, 5, 8});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.7 * static_cast<double>(i) + 0.3);
    xt::xarray<double> g = xt::xarray<double>::from_shape({2, 8});
    for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] = std::cos(1.3 * static_cast<double>(i));
    CHECK(ferrum_test::check_finite_differences(m, x, lengths, g, nn::mode::inference, 7, 5) > 50);
}

TEST_CASE("attention models: padded steps do not matter, dropout modes, model files round-trip", "[nn][attention]") {
    namespace nn = ferrum::nn;
    nn::functional<float> m;
    const auto in = m.input("x", 2, true);
    auto h = m.add("proj", nn::dense<float>(2, 8, nn::activation::linear, 1), in);
    h = m.add("pos", nn::sinusoidal_positional_encoding<float>(8), h);
    h = m.add("enc", nn::transformer_encoder_layer<float>(8, 2, 16, 0.3, nn::transformer_activation::relu, false, 2),
              h);
    h = m.add("lpos", nn::learned_positional_encoding<float>(32, 8, 3), h);
    h = m.add("mha", nn::multi_head_attention<float>(8, 4, 4), h);
    h = m.add("norm", nn::layer_norm<float>(8), h);
    h = m.add("act", nn::gelu<float>(), h);
    h = m.add("pool", nn::attention_pooling<float>(8, nn::attention_score::dot, 0, 5), h);
    m.add("out", nn::dense<float>(8, 1, nn::activation::linear, 6), h);
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({3, 10, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * static_cast<float>(i));
    const std::vector<std::size_t> lengths{10, 6, 3};
    const auto y = m.predict({x}, lengths);
    // what lies past a sample's length changes nothing
    auto x2 = x;
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t t = lengths[b]; t < 10; ++t) x2(b, t, 0) = 1e3f;
    CHECK(xt::all(xt::equal(m.predict({x2}, lengths), y)));
    // sample 2 alone (at its own length) gives its batch result
    xt::xtensor<float, 3> x3 = xt::view(x, xt::range(2, 3), xt::range(0, 3), xt::all());
    CHECK(m.predict({x3})(0, 0) == Approx(y(2, 0)).epsilon(1e-5));
    // MC dropout: seeded, reproducible, different from inference; inference is deterministic
    const auto mc1 = m.predict({x}, lengths, nn::mode::mc_dropout, 7);
    CHECK(xt::all(xt::equal(m.predict({x}, lengths, nn::mode::mc_dropout, 7), mc1)));
    CHECK_FALSE(xt::all(xt::equal(mc1, y)));
    CHECK(xt::all(xt::equal(m.predict({x}, lengths), y)));
    // the model file (with its self-test vectors) round-trips every layer's configuration and weights
    const auto doc = nn::model_to_json(m);
    auto back = nn::model_from_json<float>(doc, "attention.json");
    CHECK(xt::all(xt::equal(back.model.predict({x}, lengths), y)));
    CHECK(xt::all(xt::equal(back.model.predict({x}, lengths, nn::mode::mc_dropout, 7), mc1)));
    // bad configurations are value_errors with a sentence
    CHECK_THROWS_AS(nn::multi_head_attention<float>(6, 4), ferrum::value_error);
    CHECK_THROWS_AS(nn::attention_pooling<float>(0), ferrum::value_error);
    nn::functional<float> longer;
    const auto li = longer.input("x", 8, true);
    longer.add("lpos", nn::learned_positional_encoding<float>(4, 8), li);
    CHECK_THROWS_AS(longer.predict({xt::xtensor<float, 3>(xt::zeros<float>({1, 5, 8}))}), ferrum::value_error);
}
