// Keras import: a 2-member ensemble of Dekany & Grebel-shaped Keras models (Bidirectional(LSTM) -> Dropout ->
// Bidirectional(LSTM) -> Dense, masked by the tf.math.not_equal idiom), written in Keras' layout by
// tools/make_keras_reference.py (seeded) and converted by tools/convert_keras.py into tests/data/keras_bilstm.json
// with PyTorch test vectors. The oracle is keras_bilstm_expected.json: the Keras model run by a NumPy transcription
// of Keras' LSTMCell and masking on other inputs (their padding holds the mask value, as Keras receives it).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "expect_error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/nn/model_io.hpp"

namespace nn = ferrum::nn;

namespace keras_import_test {

const std::string data_dir = FERRUM_TEST_DATA_DIR;

nlohmann::json read(const std::string& name) { return ferrum::read_json_file(data_dir + "/" + name, "test data"); }

struct oracle {
    xt::xtensor<double, 3> x;
    std::vector<std::size_t> lengths;
    std::vector<std::vector<double>> members;  // [member][sample]
    std::vector<double> mean;
};

oracle read_oracle() {
    const auto j = read("keras_bilstm_expected.json");
    oracle o;
    const auto& in = j.at("inputs");
    o.x = xt::xtensor<double, 3>::from_shape({in.size(), in[0].size(), in[0][0].size()});
    for (std::size_t b = 0; b < in.size(); ++b)
        for (std::size_t t = 0; t < in[b].size(); ++t)
            for (std::size_t f = 0; f < in[b][t].size(); ++f) o.x(b, t, f) = in[b][t][f].get<double>();
    o.lengths = j.at("lengths").get<std::vector<std::size_t>>();
    o.members = j.at("members").get<std::vector<std::vector<double>>>();
    o.mean = j.at("mean").get<std::vector<double>>();
    return o;
}

/// The document with the members' outputs side by side instead of their mean (convert_keras.py --members).
nlohmann::json members_output(nlohmann::json doc) {
    auto& layers = doc["architecture"]["layers"];
    layers.erase(layers.size() - 1);  // the fixed averaging layer "mean"
    doc["architecture"]["output"] = "members";
    doc["parameters"].erase("mean.weight");
    doc["parameters"].erase("mean.bias");
    doc.erase("self_test");
    return doc;
}

}  // namespace keras_import_test

TEMPLATE_TEST_CASE("a converted Keras BiLSTM ensemble verifies its PyTorch vectors and equals Keras' equations",
                   "[nn][keras]", float, double) {
    using namespace keras_import_test;
    using T = TestType;
    const double tol = std::is_same_v<T, double> ? 1e-12 : 2e-5;
    const auto file = nn::load_model<T>(data_dir + "/keras_bilstm.json", /*verify=*/true);
    const nlohmann::json preprocessing = file.preprocessing, metadata = file.metadata;
    CHECK(preprocessing.at("mask_value").get<double>() == -1.0);
    CHECK(metadata.at("members").get<int>() == 2);
    const auto o = read_oracle();
    const xt::xtensor<T, 3> x = xt::cast<T>(o.x);
    const auto y = file.model.predict({nn::input_view<T>(x)}, o.lengths);  // padding (-1) is never read
    REQUIRE(y.shape()[0] == o.mean.size());
    REQUIRE(y.shape()[1] == 1);
    for (std::size_t b = 0; b < o.mean.size(); ++b) CHECK(std::abs(double(y(b, 0)) - o.mean[b]) <= tol);

    // every member on its own, against Keras' equations
    const auto each = nn::model_from_json<T>(members_output(read("keras_bilstm.json")), "members", false);
    const auto ym = each.model.predict({nn::input_view<T>(x)}, o.lengths);
    REQUIRE(ym.shape()[1] == o.members.size());
    for (std::size_t m = 0; m < o.members.size(); ++m)
        for (std::size_t b = 0; b < o.mean.size(); ++b) CHECK(std::abs(double(ym(b, m)) - o.members[m][b]) <= tol);
    // the two members differ: the ensemble mean is not one member's output
    CHECK(std::abs(o.members[0][0] - o.members[1][0]) > 1e-3);
}

TEST_CASE("a converted Keras file that was altered is refused, naming the field", "[nn][keras]") {
    using namespace keras_import_test;
    const auto good = read("keras_bilstm.json");
    auto load = [](const nlohmann::json& d) { nn::model_from_json<double>(d, "keras_bilstm.json"); };
    auto weight = good["parameters"]["m1_2.weight_hh_l0_reverse"];
    weight[0][0] = weight[0][0].get<double>() + 0.05;  // one recurrent weight of member 2's reverse direction
    auto bad_shape = good["parameters"]["m0_0.weight_ih_l0"];
    bad_shape.erase(bad_shape.size() - 1);
    ferrum_test::expect_edits_refused(
        good,
        {{"/parameters/m1_2.weight_hh_l0_reverse", weight, "self_test[0].output"},
         {"/parameters/m0_0.weight_ih_l0", bad_shape, "parameters.m0_0.weight_ih_l0"},
         {"/architecture/layers/4/merge_mode", "max", "architecture.layers[4]"},
         {"/architecture/layers/0/type", "keras_masking", "architecture.layers[0].type"}},
        "keras_bilstm.json", load);
}

TEMPLATE_TEST_CASE("a converted Keras Conv1D / BatchNormalization / pooling / LayerNormalization / MultiHeadAttention "
                   "model equals Keras' equations",
                   "[nn][keras]", float, double) {
    using namespace keras_import_test;
    using T = TestType;
    const double tol = std::is_same_v<T, double> ? 1e-12 : 2e-5;
    const auto file = nn::load_model<T>(data_dir + "/keras_conv.json", /*verify=*/true);
    const auto j = read("keras_conv_expected.json");
    const auto& in = j.at("inputs");
    xt::xtensor<T, 3> x = xt::xtensor<T, 3>::from_shape({in.size(), in[0].size(), in[0][0].size()});
    for (std::size_t b = 0; b < in.size(); ++b)
        for (std::size_t t = 0; t < in[b].size(); ++t)
            for (std::size_t f = 0; f < in[b][t].size(); ++f) x(b, t, f) = static_cast<T>(in[b][t][f].get<double>());
    const auto lengths = j.at("lengths").get<std::vector<std::size_t>>();
    const auto want = j.at("output").get<std::vector<std::vector<double>>>();
    const auto y = file.model.predict({nn::input_view<T>(x)}, lengths);  // each curve at its own length
    REQUIRE(y.shape()[0] == want.size());
    REQUIRE(y.shape()[1] == 1);
    for (std::size_t b = 0; b < want.size(); ++b) CHECK(std::abs(double(y(b, 0)) - want[b][0]) <= tol);
    CHECK(std::abs(want[0][0] - want[2][0]) > 1e-3);  // the lengths matter
}

TEST_CASE("a converted Keras attention model that was altered is refused", "[nn][keras]") {
    using namespace keras_import_test;
    const auto good = read("keras_conv.json");
    auto load = [](const nlohmann::json& d) { nn::model_from_json<double>(d, "keras_conv.json"); };
    auto w = good["parameters"]["7.in_proj_weight"];
    w[7][1] = w[7][1].get<double>() + 0.05;  // a key-projection weight of the attention layer
    auto var = good["architecture"]["layers"][2]["running_var"];
    var[3] = var[3].get<double>() * 1.1;  // a batch norm moving variance
    ferrum_test::expect_edits_refused(good,
                                      {{"/parameters/7.in_proj_weight", w, "self_test[0].output"},
                                       {"/architecture/layers/2/running_var", var, "self_test[0].output"}},
                                      "keras_conv.json", load);
}
