// Model files: round trips, embedded test vectors re-checked at load, and input_error for truncated files,
// wrong shapes and unknown fields (naming the file and the JSON path); PyTorch export (tagged [slow]).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "ferrum/nn/model_io.hpp"
#include "reference.hpp"

namespace nn = ferrum::nn;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
    const fs::path d = fs::temp_directory_path() / ("ferrum_model_io_" + std::to_string(std::random_device{}()));
    fs::create_directories(d);
    return d;
}
nlohmann::json read_json(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}
void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::trunc);
    out << s;
}
nn::sequential<float> paper_like() {
    nn::sequential<float> m;
    m.add(nn::gru<float>(2, 16, true))
        .add(nn::dropout<float>(0.2))
        .add(nn::gru<float>(16, 8))
        .add(nn::dense<float>(8, 1));
    m.reset_parameters(17);
    return m;
}
std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ferrum::input_error& e) {
        return e.what();
    }
    return "no input_error";
}

}  // namespace

TEST_CASE("a saved model loads back with identical predictions and its preprocessing", "[nn][model_io]") {
    const fs::path dir = temp_dir();
    auto m = paper_like();
    nn::save_options opt;
    opt.preprocessing = {{"n_points", 264}, {"channels", {"phase", "mag"}}, {"mag_mean", 15.2}};
    nn::save_model(dir / "m.json", m, opt);

    const auto j = read_json(dir / "m.json");
    CHECK(j["format"] == "ferrum.model");  // the envelope every ferrum model file shares
    CHECK(j["version"] == 2);
    CHECK(j["kind"] == "nn");
    CHECK(j["architecture"]["layers"][0]["type"] == "gru");
    CHECK_FALSE(j["architecture"]["layers"][0].contains("weight_ih_l0"));  // weights live under "parameters"
    CHECK(j["parameters"]["0.weight_ih_l0"].size() == 48);  // [3H, in], PyTorch's state_dict key and layout
    CHECK(j["parameters"]["0.weight_ih_l0"][0].size() == 2);
    CHECK(j["parameters"]["3.weight"].size() == 1);  // dense [out, in]
    CHECK(j["parameters"]["2.bias_hh_l0"].size() == 24);
    CHECK(j["preprocessing"]["n_points"] == 264);

    auto back = nn::load_sequential<float>(dir / "m.json");  // verifies the test vectors
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({4, 30, 2});
    std::mt19937 g(1);
    std::normal_distribution<float> d;
    for (auto& v : x) v = d(g);
    const auto a = m.predict(x, {30, 12, 1, 29});
    const auto b = back.predict(x, {30, 12, 1, 29});
    CHECK(xt::all(xt::equal(a, b)));

    const auto f = nn::load_model<double>(dir / "m.json");  // float32 file run in float64 still verifies
    CHECK(f.preprocessing["n_points"] == 264);
    CHECK(f.preprocessing["channels"][1] == "mag");
    fs::remove_all(dir);
}

TEST_CASE("a two-input functional model round-trips", "[nn][model_io]") {
    const fs::path dir = temp_dir();
    nn::functional<double> m;
    const auto spec = m.input("spectrum", 6);
    const auto err = m.input("errors", 3);
    const auto z = m.add("z", nn::dense<double>(6, 8, nn::activation::relu, 1), spec);
    const auto e = m.add("e16", nn::dense<double>(3, 16, nn::activation::softplus, 2), err);
    const auto c = m.concat("cat", {z, e});
    m.add("out", nn::dense<double>(24, 1, nn::activation::linear, 3), c);
    nn::save_model(dir / "f.json", m);
    auto back = nn::load_model<double>(dir / "f.json");
    xt::xtensor<double, 2> xs = xt::ones<double>({2, 6}), xe = xt::ones<double>({2, 3});
    CHECK(xt::all(xt::equal(m.predict({xs, xe}), back.model.predict({xs, xe}))));
    CHECK_THROWS_AS(nn::load_sequential<double>(dir / "f.json"), ferrum::input_error);
    fs::remove_all(dir);
}

TEST_CASE("a model embedded in a larger document: model_to_json with real test inputs, model_from_json",
          "[nn][model_io]") {
    nn::functional<float> m;
    const auto x = m.input("x", 3);
    const auto h = m.add("h", nn::dense<float>(3, 4, nn::activation::relu, 5), x);
    m.add("out", nn::dense<float>(4, 2, nn::activation::linear, 6), h);
    xt::xtensor<float, 2> given = {{0.5f, -1.0f, 2.0f}, {1.5f, 0.25f, -0.75f}};
    nn::save_options o;
    o.preprocessing = {{"scale", 2.5}};
    const nlohmann::json doc{{"format", "my-catalogue-model"}, {"net", nn::model_to_json(m, o, {given})}};
    // the test vector holds the given inputs and the model's output on them
    const auto& tv = doc["net"]["self_test"][0];
    CHECK(tv["inputs"][0][1][2].get<double>() == -0.75);
    const auto want = m.predict({given});
    CHECK(tv["output"][1][1].get<double>() == Approx(double(want(1, 1))).epsilon(1e-7));
    auto back = nn::model_from_json<float>(doc["net"], "my.json#net");
    CHECK(back.preprocessing["scale"] == 2.5);
    CHECK(xt::all(xt::equal(back.model.predict({given}), want)));
    // a changed weight fails the embedded test vector, and the error names the document given
    auto bad = doc["net"];
    bad["parameters"]["h.bias"][0] = bad["parameters"]["h.bias"][0].get<double>() + 1.0;
    CHECK_THAT(message_of([&] { nn::model_from_json<float>(bad, "my.json#net"); }), Catch::Contains("my.json#net"));
}

TEST_CASE("broken model files are input_errors naming the file and the JSON path", "[nn][model_io][errors]") {
    const fs::path dir = temp_dir();
    auto m = paper_like();
    nn::save_model(dir / "m.json", m);
    const auto good = read_json(dir / "m.json");
    const std::string text = good.dump(1);

    SECTION("truncated") {
        write_text(dir / "t.json", text.substr(0, text.size() / 2));
        const auto msg = message_of([&] { nn::load_sequential<float>(dir / "t.json"); });
        CHECK_THAT(msg, Catch::Contains("t.json") && Catch::Contains("not valid JSON"));
    }
    SECTION("wrong shape") {
        auto j = good;
        j["parameters"]["2.weight_hh_l0"] = nlohmann::json::array();
        for (int i = 0; i < 48; ++i) j["parameters"]["2.weight_hh_l0"].push_back(std::vector<double>(16, 0.1));
        write_text(dir / "s.json", j.dump());
        const auto msg = message_of([&] { nn::load_sequential<float>(dir / "s.json"); });
        CHECK_THAT(msg, Catch::Contains("s.json") && Catch::Contains("parameters.2.weight_hh_l0") &&
                            Catch::Contains("shape [48,16] expected [24,8]"));
    }
    SECTION("unknown field") {
        auto j = good;
        j["architecture"]["layers"][0]["colour"] = "blue";
        write_text(dir / "u.json", j.dump());
        CHECK_THAT(message_of([&] { nn::load_sequential<float>(dir / "u.json"); }),
                   Catch::Contains("architecture.layers[0].colour") && Catch::Contains("unknown field"));
        j = good;
        j["optimiser"] = "adam";
        write_text(dir / "u.json", j.dump());
        CHECK_THAT(message_of([&] { nn::load_sequential<float>(dir / "u.json"); }), Catch::Contains("optimiser"));
    }
    SECTION("missing weight and bad layer wiring") {
        auto j = good;
        j["parameters"].erase("3.bias");
        write_text(dir / "w.json", j.dump());
        CHECK_THAT(message_of([&] { nn::load_sequential<float>(dir / "w.json"); }), Catch::Contains("parameters.3.bias"));
        j = good;
        j["architecture"]["layers"][3]["in_features"] = 5;
        j["parameters"]["3.weight"] = {std::vector<double>(5, 0.0)};
        write_text(dir / "w.json", j.dump());
        CHECK_THAT(message_of([&] { nn::load_sequential<float>(dir / "w.json"); }),
                   Catch::Contains("layers[3]") && Catch::Contains("expects 5"));
    }
    SECTION("a changed weight fails verification, unless verification is off") {
        auto j = good;
        j["parameters"]["0.bias_ih_l0"][5] = j["parameters"]["0.bias_ih_l0"][5].get<double>() + 0.5;
        write_text(dir / "v.json", j.dump());
        CHECK_THAT(message_of([&] { nn::load_sequential<float>(dir / "v.json"); }),
                   Catch::Contains("self_test[0].output"));
        CHECK_NOTHROW(nn::load_sequential<float>(dir / "v.json", false));
    }
    SECTION("a missing file is an io_error; saving into a missing folder leaves nothing") {
        CHECK_THROWS_AS(nn::load_model<float>(dir / "absent.json"), ferrum::io_error);
        CHECK_THROWS_AS(nn::save_model(dir / "no" / "such" / "m.json", m), ferrum::io_error);
        CHECK_FALSE(fs::exists(dir / "no"));
    }
    fs::remove_all(dir);
}

TEST_CASE("tools/export_pytorch.py output loads and verifies (PyTorch-computed test vectors)", "[nn][model_io][slow]") {
    const fs::path tool = fs::path(FERRUM_TEST_DATA_DIR) / ".." / ".." / "tools" / "export_pytorch.py";
    if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        WARN("python3-torch is not installed: export test skipped");
        return;
    }
    const fs::path dir = temp_dir();
    const std::string cmd = "/usr/bin/python3 " + tool.string() + " --demo " + (dir / "torch.json").string() +
                            " > /dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto f32 = nn::load_sequential<float>(dir / "torch.json");  // verifies against PyTorch's own outputs
    auto f64 = nn::load_model<double>(dir / "torch.json");
    const auto j = read_json(dir / "torch.json");
    CHECK(j["format"] == "ferrum.model");
    CHECK(j["architecture"]["layers"][0]["type"] == "gru");
    CHECK(j["parameters"].contains("0.weight_ih_l0"));
    CHECK(j["metadata"]["exported_by"] == "tools/export_pytorch.py");
    // the Keras (reset_after=True) conversion against Keras' cell equations written out in NumPy
    CHECK(std::system(("/usr/bin/python3 " + tool.string() + " --self-test > /dev/null").c_str()) == 0);
    fs::remove_all(dir);
}

TEST_CASE("hand-written documents: the version-2 envelope and version 1 load; self_test runs for kind nn only",
          "[nn][model_io]") {
    using json = nlohmann::json;
    // dense(2 -> 2, tanh) -> dense(2 -> 1), evaluated here by hand
    const double w1[2][2] = {{0.5, -0.25}, {0.75, 0.125}}, b1[2] = {0.1, -0.2}, w2[2] = {1.5, -0.5}, b2 = 0.25;
    const std::vector<std::vector<double>> x{{1.0, 2.0}, {-0.5, 0.25}};
    std::vector<std::vector<double>> y;
    for (const auto& r : x) {
        const double h0 = std::tanh(w1[0][0] * r[0] + w1[0][1] * r[1] + b1[0]);
        const double h1 = std::tanh(w1[1][0] * r[0] + w1[1][1] * r[1] + b1[1]);
        y.push_back({w2[0] * h0 + w2[1] * h1 + b2});
    }
    const json inputs = json::array({json{{"name", "x"}, {"features", 2}, {"sequence", false}}});
    json hidden{{"name", "h"},      {"type", "dense"},   {"from", json::array({"x"})},
                {"in_features", 2}, {"out_features", 2}, {"activation", "tanh"}};
    json out{{"name", "out"},    {"type", "dense"},   {"from", json::array({"h"})},
             {"in_features", 2}, {"out_features", 1}, {"activation", "linear"}};
    const json hw = json::array({json::array({0.5, -0.25}), json::array({0.75, 0.125})}), hb = json::array({0.1, -0.2});
    const json ow = json::array({json::array({1.5, -0.5})}), ob = json::array({0.25});
    const json vectors = json::array({json{{"inputs", json::array({x})}, {"output", y}, {"tolerance", 1e-12}}});

    json v2{{"format", "ferrum.model"},
            {"version", 2},
            {"kind", "nn"},
            {"architecture",
             {{"dtype", "float64"}, {"inputs", inputs}, {"layers", json::array({hidden, out})}, {"output", "out"}}},
            {"parameters", {{"h.weight", hw}, {"h.bias", hb}, {"out.weight", ow}, {"out.bias", ob}}},
            {"preprocessing", {{"scale", 2}}},
            {"metadata", json::object()},
            {"self_test", vectors}};
    const auto m2 = nn::model_from_json<double>(v2, "v2.json");  // runs the self-test
    CHECK(m2.preprocessing["scale"] == 2);
    const xt::xtensor<double, 2> xx = {{1.0, 2.0}, {-0.5, 0.25}};
    const auto p2 = m2.model.predict({xx});
    CHECK(p2(0, 0) == Approx(y[0][0]).epsilon(1e-14));
    CHECK(p2(1, 0) == Approx(y[1][0]).epsilon(1e-14));

    // version 1: weights inside the layers, "test_vectors"
    hidden["weight"] = hw;
    hidden["bias"] = hb;
    out["weight"] = ow;
    out["bias"] = ob;
    const json v1{
        {"format", "ferrum.nn.model"},          {"version", 1},    {"dtype", "float64"},     {"inputs", inputs},
        {"layers", json::array({hidden, out})}, {"output", "out"}, {"test_vectors", vectors}};
    const auto m1 = nn::model_from_json<double>(v1, "v1.json");
    CHECK(xt::all(xt::equal(m1.model.predict({xx}), p2)));

    // a wrong self-test fails for kind "nn", and is not this reader's to run for another kind
    auto bad = v2;
    bad["self_test"][0]["output"][0][0] = y[0][0] + 1.0;
    CHECK_THAT(message_of([&] { nn::model_from_json<double>(bad, "v2.json"); }),
               Catch::Contains("v2.json") && Catch::Contains("self_test[0].output"));
    bad["kind"] = "giants.colour";
    CHECK_NOTHROW(nn::model_from_json<double>(bad, "v2.json"));

    // errors name the envelope's JSON paths
    auto missing = v2;
    missing["parameters"].erase("out.bias");
    CHECK_THAT(message_of([&] { nn::model_from_json<double>(missing, "v2.json"); }),
               Catch::Contains("parameters.out.bias"));
    auto extra = v2;
    extra["parameters"]["out.gamma"] = json::array({1.0});
    CHECK_THAT(message_of([&] { nn::model_from_json<double>(extra, "v2.json"); }),
               Catch::Contains("parameters.out.gamma") && Catch::Contains("unknown field"));
    auto field = v2;
    field["architecture"]["layers"][0]["colour"] = "blue";
    CHECK_THAT(message_of([&] { nn::model_from_json<double>(field, "v2.json"); }),
               Catch::Contains("architecture.layers[0].colour") && Catch::Contains("unknown field"));
    auto version = v2;
    version["version"] = 3;
    CHECK_THAT(message_of([&] { nn::model_from_json<double>(version, "v2.json"); }), Catch::Contains("version"));
}
