// libFuzzer target: the --config files of ferrum-rrl train and tune (models/rrlyrae_config.hpp
// read_rrl_config), applied over the defaults and over the paper's recipe as the tool does.
#include <cstddef>
#include <cstdint>

#include "ferrum/models/rrlyrae_config.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".json");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error([](const std::string& p) { (void)ferrum::models::read_rrl_config(p); },
                                               path);
    ferrum::fuzz::expect_value_or_ferrum_error(
        [](const std::string& p) {
        ferrum::models::rrl_config paper;
        paper.model = ferrum::models::rrl_paper_model_options();
        paper.train = ferrum::models::rrl_paper_training_options();
        (void)ferrum::models::read_rrl_config(p, paper);
        },
        path);
    return 0;
}
