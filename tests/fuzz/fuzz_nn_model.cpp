// libFuzzer target: the network files of nn/model_io.hpp (load_model: any graph, its test vectors
// re-checked), in float and double.
#include <cstddef>
#include <cstdint>

#include "ferrum/nn/model_io.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".json");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error([](const std::string& p) { (void)ferrum::nn::load_model<float>(p); },
                                               path);
    ferrum::fuzz::expect_value_or_ferrum_error([](const std::string& p) { (void)ferrum::nn::load_model<double>(p); },
                                               path);
    return 0;
}
