// PyTorch import: five seeded PyTorch models saved as a user saves them (a pickled nn.Sequential of conv, batch
// norm and pooling layers; a TorchScript nn.Sequential; a pickled transformer nn.Sequential returning a sequence;
// a custom module's state_dict with an architecture JSON: attention, bidirectional LSTM and GRU; a convolutional
// graph's state_dict with named nodes: an inception module and a residual sum), converted by
// tools/convert_pytorch.py into tests/data/pt_*.json with PyTorch test vectors. The oracle is
// pytorch_import_expected.json: each model's own forward pass (PyTorch 1.13, float64) on other ragged inputs,
// each sample run alone and cut at its length; the padding holds random values that must not be read.
// Regenerate with /usr/bin/python3 tools/make_pytorch_import_reference.py.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "expect_error.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/nn/model_io.hpp"

namespace pytorch_import_test {

namespace nn = ferrum::nn;

const std::string data_dir = FERRUM_TEST_DATA_DIR;

nlohmann::json read(const std::string& name) { return ferrum::read_json_file(data_dir + "/" + name, "test data"); }

/// The numbers of a nested JSON array in row-major order, and its shape.
void flatten(const nlohmann::json& a, std::vector<double>& out, std::vector<std::size_t>& shape, std::size_t depth) {
    if (!a.is_array()) {
        out.push_back(a.get<double>());
        return;
    }
    if (shape.size() == depth) shape.push_back(a.size());
    for (const auto& v : a) flatten(v, out, shape, depth + 1);
}

template <class T>
void check_case(const std::string& name, const nlohmann::json& expected, double tol) {
    INFO("model " << name);
    const auto file = nn::load_model<T>(data_dir + "/" + name + ".json", /*verify=*/true);
    const auto& c = expected.at("cases").at(name);
    std::vector<double> xin, want;
    std::vector<std::size_t> xshape, yshape;
    flatten(c.at("inputs"), xin, xshape, 0);
    flatten(c.at("output"), want, yshape, 0);
    REQUIRE(xshape.size() == 3);
    xt::xtensor<T, 3> x = xt::xtensor<T, 3>::from_shape({xshape[0], xshape[1], xshape[2]});
    std::transform(xin.begin(), xin.end(), x.begin(), [](double v) { return static_cast<T>(v); });
    const auto lengths = c.at("lengths").get<std::vector<std::size_t>>();
    const auto y = file.model.predict({nn::input_view<T>(x)}, lengths);
    REQUIRE(std::vector<std::size_t>(y.shape().begin(), y.shape().end()) == yshape);
    double scale = 1e-300;
    for (double w : want) scale = std::max(scale, std::abs(w));
    double worst = 0;
    for (std::size_t e = 0; e < want.size(); ++e)
        worst = std::max(worst, std::abs(static_cast<double>(y.data()[e]) - want[e]) / scale);
    CHECK(worst <= tol);
    // the outputs are not trivial: they vary between samples
    CHECK(std::abs(want.front() - want[want.size() / 2]) > 1e-3 * scale);
}

}  // namespace pytorch_import_test

TEMPLATE_TEST_CASE("converted PyTorch models verify their vectors and equal the models' own outputs",
                   "[nn][pytorch]", float, double) {
    using T = TestType;
    const double tol = std::is_same_v<T, double> ? 1e-10 : 2e-5;
    const auto expected = pytorch_import_test::read("pytorch_import_expected.json");
    for (const char* name : {"pt_conv", "pt_script", "pt_transformer", "pt_recurrent", "pt_resnet"})
        pytorch_import_test::check_case<T>(name, expected, tol);
}

TEST_CASE("a converted PyTorch file that was altered is refused, naming the field", "[nn][pytorch]") {
    namespace nn = ferrum::nn;
    const auto conv = pytorch_import_test::read("pt_conv.json");
    auto load = [](const nlohmann::json& d) { nn::model_from_json<double>(d, "pt_conv.json"); };
    auto mean = conv["architecture"]["layers"][1]["running_mean"];
    mean[0] = mean[0].get<double>() + 0.05;  // one running statistic of the batch norm
    auto w = conv["parameters"]["0.weight"];
    w[0][0][0] = w[0][0][0].get<double>() - 0.05;
    ferrum_test::expect_edits_refused(conv,
                                      {{"/architecture/layers/1/running_mean", mean, "self_test[0].output"},
                                       {"/parameters/0.weight", w, "self_test[0].output"},
                                       {"/architecture/layers/0/padding", "full", "architecture.layers[0]"},
                                       {"/architecture/layers/3/type", "max_pool2d", "architecture.layers[3].type"}},
                                      "pt_conv.json", load);
    const auto rec = pytorch_import_test::read("pt_recurrent.json");
    auto load_rec = [](const nlohmann::json& d) { nn::model_from_json<double>(d, "pt_recurrent.json"); };
    auto bias = rec["parameters"]["5.bias_hh_l0_reverse"];
    bias[7] = bias[7].get<double>() + 0.05;  // the reverse GRU's recurrent bias of its new-gate block
    ferrum_test::expect_edits_refused(rec, {{"/parameters/5.bias_hh_l0_reverse", bias, "self_test[0].output"}},
                                      "pt_recurrent.json", load_rec);
}
