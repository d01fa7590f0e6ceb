// libFuzzer target: the Gaia DR3 epoch photometry reader (lightcurve/gaia_epoch_photometry.hpp), every
// band, under both bad-row policies.
#include <cstddef>
#include <cstdint>

#include "ferrum/lightcurve/gaia_epoch_photometry.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".csv");
    const std::string& path = file.write(data, size);
    for (const auto policy : {ferrum::bad_row_policy::error, ferrum::bad_row_policy::skip})
        for (const auto band : {ferrum::gaia_band::G, ferrum::gaia_band::BP, ferrum::gaia_band::RP}) {
            ferrum::gaia_read_options options;
            options.band = band;
            options.on_bad_row = policy;
            options.show_progress = false;
            ferrum::fuzz::expect_value_or_ferrum_error(
                [&](const std::string& p) { (void)ferrum::read_gaia_epoch_photometry(p, options); }, path);
        }
    return 0;
}
