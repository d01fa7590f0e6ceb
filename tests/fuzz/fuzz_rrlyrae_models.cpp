// libFuzzer target: RR Lyrae model files, one model or a set (models/rrlyrae_model_set.hpp
// load_rrlyrae_models, which ferrum-rrl predict uses), with the self-test vectors re-checked.
#include <cstddef>
#include <cstdint>

#include "ferrum/models/rrlyrae_model_set.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".json");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) { (void)ferrum::models::load_rrlyrae_models(p); }, path);
    return 0;
}
