// libFuzzer target: the giants' photometry catalogue (photometry/colour_features.hpp read_photometry_csv)
// and the colour features made from each row.
#include <cstddef>
#include <cstdint>

#include "ferrum/photometry/colour_features.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".csv");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) {
        for (const auto& row : ferrum::photometry::read_photometry_csv(p))
            (void)ferrum::photometry::make_colour_features(row.mag, row.parallax);
        },
        path);
    return 0;
}
