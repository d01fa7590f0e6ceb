// libFuzzer target: the generic CSV tokenizer (core/csv.hpp csv_reader), with the default block size
// and with the smallest one, so that records across block boundaries and buffer growth are exercised.
#include <cstddef>
#include <cstdint>

#include "ferrum/core/csv.hpp"
#include "fuzz_input.hpp"

namespace {

void read_all(const std::string& path, std::size_t block_size) {
    ferrum::csv_options options;
    options.block_size = block_size;
    ferrum::csv_reader csv(path, options);
    std::size_t bytes = 0;
    for (const auto& h : csv.header()) bytes += h.size();
    while (const ferrum::csv_record* r = csv.next()) {
        for (std::size_t i = 0; i < r->size(); ++i) {
            const std::string_view f = (*r)[i];
            bytes += f.size();
            (void)ferrum::parse_double(f);
            (void)ferrum::parse_int64(f);
            (void)ferrum::parse_bool(f);
        }
        (void)ferrum::field_count_mismatch(csv, *r);
    }
    if (csv.bytes_consumed() > csv.file_size() && csv.file_size() > 0) __builtin_trap();  // read past the end
    (void)bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ferrum::fuzz::input_file file(".csv");
    const std::string& path = file.write(data, size);
    ferrum::fuzz::expect_value_or_ferrum_error([](const std::string& p) { read_all(p, std::size_t(1) << 20); }, path);
    ferrum::fuzz::expect_value_or_ferrum_error([](const std::string& p) { read_all(p, 64); }, path);
    return 0;
}
