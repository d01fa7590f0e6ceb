// libFuzzer target: the linear relation model files of ferrum-relations (relations/model_io.hpp
// load_linear_relation), verified on load.
#include <cstddef>
#include <cstdint>

#include "ferrum/relations/model_io.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".json");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error([](const std::string& p) { (void)ferrum::load_linear_relation(p); },
                                               path);
    return 0;
}
