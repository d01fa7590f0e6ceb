// Parse rate of the Gaia DR3 bulk epoch-photometry layout (ECSV, array cells, gzip) against the limit,
// `zcat file > /dev/null` on the same file, beside the plain long CSV of the same stars and the Python peer
// (benchmarks/read_dr3_peer.py: gzip + csv + NumPy on the same .gz). The stars are the simulator's
// (ferrum-rrl simulate --format dr3-bulk), written once to /tmp and reused. Rates are MB/s of uncompressed
// text. Usage: bench_read_dr3 [stars]. Last stdout line: JSON.
#include <ferrum/core/csv.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>
#include <ferrum/sim/rrlyrae.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_read_timing.hpp"
#include "peer.hpp"

namespace {

using ferrum_bench::best_of;
using ferrum_bench::cpu_seconds;
using ferrum_bench::timing;

struct counts {
    std::size_t sources = 0, points = 0;
};

counts read_all(const std::string& path) {
    ferrum::gaia_read_options o;
    o.show_progress = false;
    ferrum::gaia_epoch_reader reader(path, o);
    counts c;
    while (auto lc = reader.next()) {
        ++c.sources;
        c.points += lc->size();
    }
    return c;
}

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
                        {"points_agree", c_gz.points == c_long.points && c_text.points == c_long.points}};
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
