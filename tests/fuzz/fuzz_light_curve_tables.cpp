// libFuzzer target: the per-star light-curve and folded-curve tables (lightcurve/tables.hpp), under both
// bad-row policies.
#include <cstddef>
#include <cstdint>

#include "ferrum/lightcurve/tables.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".csv");
    const std::string& path = file.write(data, size);
    for (const auto policy : {ferrum::bad_row_policy::error, ferrum::bad_row_policy::skip}) {
        ferrum::table_read_options options;
        options.on_bad_row = policy;
        options.show_progress = false;
        ferrum::fuzz::expect_value_or_ferrum_error(
            [&](const std::string& p) { (void)ferrum::read_light_curve_table(p, options); }, path);
        ferrum::fuzz::expect_value_or_ferrum_error(
            [&](const std::string& p) { (void)ferrum::read_folded_table(p, options); }, path);
    }
    return 0;
}
