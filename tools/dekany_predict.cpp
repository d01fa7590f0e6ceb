// Runs a converted Keras model file (tools/convert_keras.py) on variable-length sequences: the ferrum half of
// tools/check_dekany_import.sh. Input: one sample per line, "n v_1 ... v_{n*F}" (n steps of F features,
// row-major); output: one line per sample with the model's outputs. load_model verifies the file's embedded
// PyTorch test vectors before anything is predicted.
//
// usage: dekany_predict MODEL.json INPUTS.txt [float|double] > outputs.txt
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "ferrum/nn.hpp"

template <class T>
int run(const std::string& model_path, const std::string& inputs_path) {
    namespace nn = ferrum::nn;
    auto file = nn::load_model<T>(model_path, /*verify=*/true);
    const auto& inputs = file.model.engine().nodes().front();
    const auto F = static_cast<std::size_t>(inputs.shape.features);
    std::ifstream in(inputs_path);
    if (!in) {
        std::cerr << inputs_path << ": cannot open\n";
        return 1;
    }
    std::vector<std::vector<T>> rows;
    std::vector<std::size_t> lengths;
    std::string line;
    for (std::size_t ln = 1; std::getline(in, line); ++ln) {
        std::istringstream s(line);
        std::size_t n = 0;
        if (!(s >> n) || n == 0) {
            std::cerr << inputs_path << ":" << ln << ": expected a positive step count\n";
            return 1;
        }
        std::vector<T> v(n * F);
        for (auto& e : v)
            if (!(s >> e)) {
                std::cerr << inputs_path << ":" << ln << ": expected " << n * F << " values\n";
                return 1;
            }
        rows.push_back(std::move(v));
        lengths.push_back(n);
    }
    const int digits = std::is_same_v<T, float> ? 9 : 17;  // enough to read the value back exactly
    const std::size_t block = 256;  // samples per call: bounds the memory of the 10-member graph's activations
    for (std::size_t first = 0; first < rows.size(); first += block) {
        const std::size_t B = std::min(block, rows.size() - first);
        const std::vector<std::size_t> len(lengths.begin() + first, lengths.begin() + first + B);
        const std::size_t steps = *std::max_element(len.begin(), len.end());
        xt::xtensor<T, 3> x = xt::zeros<T>({B, steps, F});
        for (std::size_t b = 0; b < B; ++b) std::copy(rows[first + b].begin(), rows[first + b].end(), &x(b, 0, 0));
        const auto y = file.model.predict({nn::input_view<T>(x)}, len);
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t k = 0; k < y.shape()[1]; ++k)
                std::printf(k ? " %.*g" : "%.*g", digits, static_cast<double>(y(b, k)));
            std::printf("\n");
        }
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: dekany_predict MODEL.json INPUTS.txt [float|double]\n";
        return 2;
    }
    try {
        const std::string type = argc > 3 ? argv[3] : "float";
        return type == "double" ? run<double>(argv[1], argv[2]) : run<float>(argv[1], argv[2]);
    } catch (const std::exception& e) {
        std::cerr << "dekany_predict: " << e.what() << "\n";
        return 1;
    }
}
