// libFuzzer target: the vari_rrlyrae catalogue reader (lightcurve/rrlyrae_catalogue.hpp), under both
// bad-row policies.
#include <cstddef>
#include <cstdint>

#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".csv");
    const std::string& path = file.write(data, size);
    for (const auto policy : {ferrum::bad_row_policy::error, ferrum::bad_row_policy::skip}) {
        ferrum::catalogue_read_options options;
        options.on_bad_row = policy;
        ferrum::fuzz::expect_value_or_ferrum_error(
            [&](const std::string& p) { (void)ferrum::read_rrlyrae_catalogue(p, options); }, path);
    }
    return 0;
}
