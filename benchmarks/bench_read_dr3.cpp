// Parse rate of the Gaia DR3 bulk epoch-photometry layout (ECSV, array cells, gzip) against the limit,
// `zcat file > /dev/null` on the same file, beside the plain long CSV of the same stars and the Python peer
// (benchmarks/read_dr3_peer.py: gzip + csv + NumPy on the same .gz). The stars are the simulator's
// (ferrum-rrl simulate --format dr3-bulk), written once to /tmp and reused. Rates are MB/s of uncompressed
// text. Also: the same stars as 4 bulk files read by gaia_epoch_files_reader (1 and 2 reader threads), and
// gzip inflate alone through zlib (streamed, 1 MiB at a time) against libdeflate (whole member in memory;
// built in when CMake finds libdeflate). Usage: bench_read_dr3 [stars]. Last stdout line: JSON.
#include <ferrum/core/csv.hpp>
#include <ferrum/core/gzip.hpp>
#include <ferrum/core/input_files.hpp>
#include <ferrum/lightcurve/epoch_files.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/sim/rrlyrae.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#ifdef FERRUM_BENCH_LIBDEFLATE
#  include <libdeflate.h>
#endif

#include "bench_read_timing.hpp"
#include "peer.hpp"

namespace {

using ferrum_bench::best_of;
using ferrum_bench::cpu_seconds;
using ferrum_bench::timing;

struct counts {
    std::size_t sources = 0, points = 0;
};

// Sources and points of a reader (one file or several), read to the end.
template <class Reader>
counts count_all(Reader& reader) {
    counts c;
    while (auto lc = reader.next()) {
        ++c.sources;
        c.points += lc->size();
    }
    return c;
}

counts read_all(const std::string& path) {
    ferrum::gaia_read_options o;
    o.show_progress = false;
    ferrum::gaia_epoch_reader reader(path, o);
    return count_all(reader);
}

counts read_files(const std::vector<std::string>& files, unsigned readers) {
    ferrum::gaia_files_options o;
    o.readers = readers;
    ferrum::gaia_epoch_files_reader reader(files, o);
    return count_all(reader);
}

// Inflate only: zlib as csv_reader runs it (core/gzip.hpp), 1 MiB of text at a time. Returns bytes of text.
std::size_t inflate_zlib(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    ferrum::detail::gzip_source gz(f.get(), path);
    std::vector<char> out(std::size_t(1) << 20);
    std::size_t total = 0;
    while (const std::size_t n = gz.read(out.data(), out.size(), 0)) total += n;
    return total;
}

#ifdef FERRUM_BENCH_LIBDEFLATE
// Inflate only: libdeflate has no streaming gzip API, so the whole file and each whole member are in memory
// (`buffer`: the bytes that takes). Returns bytes of text.
std::size_t inflate_libdeflate(const std::string& path, std::size_t& buffer) {
    std::ifstream in(path, std::ios::binary);
    const std::string gz{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    libdeflate_decompressor* d = libdeflate_alloc_decompressor();
    std::uint32_t isize = 0;  // the last member's size mod 2^32: the first guess of the output buffer
    if (gz.size() >= 4) std::memcpy(&isize, gz.data() + gz.size() - 4, 4);
    std::vector<char> out(std::max<std::size_t>(isize, 1 << 20));
    std::size_t pos = 0, total = 0;
    while (pos < gz.size()) {
        std::size_t used = 0, made = 0;
        libdeflate_result r;
        while ((r = libdeflate_gzip_decompress_ex(d, gz.data() + pos, gz.size() - pos, out.data(), out.size(), &used,
                                                  &made)) == LIBDEFLATE_INSUFFICIENT_SPACE)
            out.resize(out.size() * 2);
        if (r != LIBDEFLATE_SUCCESS) break;
        pos += used;
        total += made;
    }
    libdeflate_free_decompressor(d);
    buffer = gz.size() + out.size();
    return total;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    const std::size_t stars = argc > 1 ? std::stoul(argv[1]) : 10000;
    const std::filesystem::path dir = "/tmp/ferrum_bench_read_dr3_" + std::to_string(stars);
    const std::filesystem::path gz = dir / "bulk" / "epoch_photometry.csv.gz", text = dir / "bulk.ecsv",
                                lng = dir / "long" / "epoch_photometry.csv";
    if (!std::filesystem::exists(gz) || !std::filesystem::exists(lng) || !std::filesystem::exists(text)) {
        ferrum::sim::simulation_options so;
        so.seed = 14;
        ferrum::sim::write_options w;
        w.progress = false;
        ferrum::sim::write_gaia_like_set(dir / "long", stars - stars / 3, stars / 3, so, w);
        w.format = ferrum::sim::output_format::dr3_bulk;
        ferrum::sim::write_gaia_like_set(dir / "bulk", stars - stars / 3, stars / 3, so, w);
        const std::string unzip = "zcat '" + gz.string() + "' > '" + text.string() + "'";
        if (std::system(unzip.c_str()) != 0) std::fprintf(stderr, "zcat failed\n");
    }
    const std::filesystem::path four = dir / "bulk4";
    if (!std::filesystem::exists(four / "labels.csv")) {
        ferrum::sim::simulation_options so;
        so.seed = 14;
        ferrum::sim::write_options w;
        w.progress = false;
        w.format = ferrum::sim::output_format::dr3_bulk;
        w.files = 4;
        ferrum::sim::write_gaia_like_set(four, stars - stars / 3, stars / 3, so, w);
    }
    const auto files = ferrum::expand_input_files((four / "EpochPhotometry_*.csv.gz").string());
    const double mb_text = double(std::filesystem::file_size(text)) / 1e6;
    const double mb_gz = double(std::filesystem::file_size(gz)) / 1e6;
    const double mb_long = double(std::filesystem::file_size(lng)) / 1e6;

    const std::string zcat = "zcat '" + gz.string() + "' > /dev/null";
    const timing zcat_t = best_of(3, [&] {
        if (std::system(zcat.c_str()) != 0) std::fprintf(stderr, "zcat failed\n");
    });
    counts c_gz, c_text, c_long;
    const timing gz_t = best_of(3, [&] { c_gz = read_all(gz.string()); });
    const timing text_t = best_of(3, [&] { c_text = read_all(text.string()); });
    const timing long_t = best_of(3, [&] { c_long = read_all(lng.string()); });
    counts c_f1, c_f2;
    const timing files1_t = best_of(3, [&] { c_f1 = read_files(files, 1); });
    const timing files2_t = best_of(3, [&] { c_f2 = read_files(files, 2); });
    std::size_t zlib_bytes = 0;
    const timing zlib_t = best_of(3, [&] { zlib_bytes = inflate_zlib(gz.string()); });
#ifdef FERRUM_BENCH_LIBDEFLATE
    std::size_t deflate_bytes = 0, deflate_buffer = 0;
    const timing deflate_t = best_of(3, [&] { deflate_bytes = inflate_libdeflate(gz.string(), deflate_buffer); });
#endif

    const double peer_c0 = cpu_seconds();
    const auto peer = ferrum_bench::peer_json("/usr/bin/python3 '" + std::string(FERRUM_BENCH_DIR) +
                                              "/read_dr3_peer.py' '" + gz.string() + "'");
    const double peer_cpu = cpu_seconds() - peer_c0;
    const bool have_peer = peer.is_object() && peer.contains("total_s");
    const timing peer_t{have_peer ? peer["total_s"].get<double>() : 0.0, peer_cpu};

    std::printf(
        "Gaia DR3 bulk epoch photometry, %zu simulated stars: %.1f MB of ECSV text, %.1f MB gzipped; "
        "the same stars as a long CSV: %.1f MB\n",
        stars, mb_text, mb_gz, mb_long);
    std::printf("%-44s %8s %8s %11s %11s\n", "method (G light curves, streamed)", "wall s", "cpu s", "MB/s wall",
                "MB/s cpu");
    const auto line = [&](const char* name, const timing& t, double mb) {
        std::printf("%-44s %8.3f %8.3f %11.0f %11.0f\n", name, t.wall, t.cpu, mb / t.wall, mb / t.cpu);
    };
    line("zcat bulk.csv.gz > /dev/null (the limit)", zcat_t, mb_text);
    line("ferrum, bulk .csv.gz", gz_t, mb_text);
    line("ferrum, bulk ECSV, uncompressed", text_t, mb_text);
    line("ferrum, long CSV (same stars)", long_t, mb_long);
    line("ferrum, as 4 .csv.gz files, 1 reader", files1_t, mb_text);
    line("ferrum, as 4 .csv.gz files, 2 readers", files2_t, mb_text);
    line("inflate only: zlib, streamed 1 MiB at a time", zlib_t, mb_text);
#ifdef FERRUM_BENCH_LIBDEFLATE
    line("inflate only: libdeflate, whole member", deflate_t, mb_text);
    std::printf("libdeflate held %.1f MB (the file and the member's text) against zlib's ~1.3 MB\n",
                double(deflate_buffer) / 1e6);
#else
    std::printf("libdeflate not found by CMake: not measured\n");
#endif
    if (have_peer) line("Python gzip + csv + NumPy, bulk .csv.gz (peer)", peer_t, mb_text);
    else std::printf("the peer did not run\n");
    std::printf("sources %zu / %zu / %zu, points %zu / %zu / %zu (gz / text / long)\n", c_gz.sources, c_text.sources,
                c_long.sources, c_gz.points, c_text.points, c_long.points);

    nlohmann::json j = {{"bench", "read_dr3"},
                        {"stars", stars},
                        {"text_MB", mb_text},
                        {"gz_MB", mb_gz},
                        {"long_MB", mb_long},
                        {"zcat_s", zcat_t.wall},
                        {"zcat_cpu_s", zcat_t.cpu},
                        {"zcat_MBps", mb_text / zcat_t.wall},
                        {"bulk_gz_s", gz_t.wall},
                        {"bulk_gz_cpu_s", gz_t.cpu},
                        {"bulk_gz_MBps", mb_text / gz_t.wall},
                        {"bulk_gz_over_zcat", gz_t.wall / zcat_t.wall},
                        {"bulk_text_s", text_t.wall},
                        {"bulk_text_MBps", mb_text / text_t.wall},
                        {"long_s", long_t.wall},
                        {"long_MBps", mb_long / long_t.wall},
                        {"points", c_gz.points},
                        {"points_agree", c_gz.points == c_long.points && c_text.points == c_long.points},
                        {"files", files.size()},
                        {"files_1_reader_s", files1_t.wall},
                        {"files_1_reader_cpu_s", files1_t.cpu},
                        {"files_2_readers_s", files2_t.wall},
                        {"files_2_readers_cpu_s", files2_t.cpu},
                        {"files_points_agree", c_f1.points == c_gz.points && c_f2.points == c_gz.points},
                        {"inflate_zlib_s", zlib_t.wall},
                        {"inflate_zlib_cpu_s", zlib_t.cpu},
                        {"inflate_zlib_MBps", mb_text / zlib_t.wall},
                        {"inflate_bytes_agree", zlib_bytes == std::filesystem::file_size(text)}};
#ifdef FERRUM_BENCH_LIBDEFLATE
    j["inflate_libdeflate_s"] = deflate_t.wall;
    j["inflate_libdeflate_cpu_s"] = deflate_t.cpu;
    j["inflate_libdeflate_MBps"] = mb_text / deflate_t.wall;
    j["inflate_libdeflate_buffer_MB"] = double(deflate_buffer) / 1e6;
    j["inflate_libdeflate_bytes_agree"] = deflate_bytes == zlib_bytes;
#endif
    if (have_peer) {
        j["peer"] = peer["peer"];
        j["peer_s"] = peer_t.wall;
        j["peer_cpu_s"] = peer_t.cpu;
        j["peer_points_agree"] = peer["points"].get<std::size_t>() == c_gz.points;
        j["speedup_vs_peer"] = peer_t.wall / gz_t.wall;
        j["speedup_vs_peer_cpu"] = peer_t.cpu / gz_t.cpu;
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
}
