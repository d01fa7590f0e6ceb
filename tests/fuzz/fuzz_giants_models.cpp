// libFuzzer target: the giants' model files that ferrum-giants predict reads, every input given to both
// loaders: the colour model (models/photometric_parallax.hpp colour_feh_model) and UA-CSNet
// (models/ua_csnet.hpp), self-tests on.
#include <cstddef>
#include <cstdint>

#include "ferrum/core/json_file.hpp"
#include "ferrum/models/photometric_parallax.hpp"
#include "ferrum/models/ua_csnet.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".json");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) {
        (void)ferrum::models::colour_feh_model::from_json(ferrum::read_json_object(p, "model file"), p);
        },
        path);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) {
        (void)ferrum::models::ua_csnet::from_json(ferrum::read_json_object(p, "model file"), p);
        },
        path);
    return 0;
}
