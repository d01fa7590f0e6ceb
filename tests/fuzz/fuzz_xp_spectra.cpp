// libFuzzer target: the XP sampled spectra (spectra/xp_spectra.hpp read_xp_spectra), with 4 samples per
// spectrum (so that short inputs can be valid) and with GaiaXPy's 343, each resampled to pixels.
#include <cstddef>
#include <cstdint>

#include "ferrum/spectra/xp_spectra.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".csv");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) {
        for (const auto& s : ferrum::spectra::read_xp_spectra(p, 4))
            (void)ferrum::spectra::resample_xp(std::vector<double>{400.0, 550.0, 700.0, 1000.0}, s.flux, s.flux_error);
        },
        path);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) {
        for (const auto& s : ferrum::spectra::read_xp_spectra(p)) (void)ferrum::spectra::resample_xp(s);
        },
        path);
    return 0;
}
