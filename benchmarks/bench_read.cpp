// Reading speed of the Gaia epoch-photometry reader on a synthetic archive-layout CSV (10 million rows by
// default, ~1.6 GB in /tmp, written once and reused), against `cat file > /dev/null` (page-cache speed) and
// the NumPy peer (benchmarks/read_peer.py). Usage: bench_read [rows]. Last stdout line: JSON.
#include <ferrum/core/atomic_file.hpp>
#include <ferrum/core/csv.hpp>
#include <ferrum/core/progress.hpp>
#include <ferrum/lightcurve/gaia_epoch_photometry.hpp>

#include <nlohmann/json.hpp>

#include "bench_read_timing.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using ferrum_bench::best_of;
using ferrum_bench::cpu_seconds;
using ferrum_bench::timing;

template <class T>
void append_number(std::string& s, T v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, r.ptr);
}

// Rows like the archive's: per source, its G transits, then BP, then RP; numbers printed at full precision.
void write_synthetic(const std::string& path, std::size_t rows) {
    ferrum::progress bar("writing " + path, rows / 1000000, "Mrows");
    ferrum::write_file_atomically(path, [&](std::ostream& out) {
        out << "source_id,transit_id,band,time,mag,flux,flux_error,flux_over_error,rejected_by_photometry,"
               "rejected_by_variability,other_flags,solution_id\n";
        std::mt19937_64 rng(20240601);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        std::string chunk;
        chunk.reserve(std::size_t(8) << 20);
        std::size_t written = 0;
        for (std::int64_t source = 1762302047363988608LL; written < rows; source += 7919 + std::int64_t(rng() % 5000)) {
            const int transits = 20 + int(rng() % 40);
            const double g0 = 14.0 + 6.0 * u(rng);
            std::vector<double> times(static_cast<std::size_t>(transits));
            for (auto& t : times) t = 1700.0 + 700.0 * u(rng);
            std::sort(times.begin(), times.end());
            for (const char* band : {"G", "BP", "RP"}) {
                const double zero = band[0] == 'G' ? 25.69 : band[0] == 'B' ? 25.34 : 24.76;
                for (int k = 0; k < transits && written < rows; ++k, ++written) {
                    const double mag = g0 + 0.4 * std::sin(6.2831853 * times[std::size_t(k)] / 0.57) + 0.01 * u(rng);
                    const double flux = std::pow(10.0, -0.4 * (mag - zero));
                    const float foe = float(20.0 + 900.0 * u(rng));
                    append_number(chunk, source);
                    chunk += ',';
                    append_number(chunk, 20225065179833199LL + std::int64_t(times[std::size_t(k)] * 1e10));
                    chunk += ',';
                    chunk += band;
                    chunk += ',';
                    append_number(chunk, times[std::size_t(k)]);
                    chunk += ',';
                    append_number(chunk, mag);
                    chunk += ',';
                    append_number(chunk, flux);
                    chunk += ',';
                    append_number(chunk, flux / double(foe));
                    chunk += ',';
                    append_number(chunk, foe);
                    chunk += u(rng) < 0.02 ? ",false,true," : ",false,false,";
                    append_number(chunk, int(rng() % 8) * 4194817 + 1);
                    chunk += ",369295549951641967\n";
                }
            }
            if (chunk.size() > (std::size_t(7) << 20)) {
                out.write(chunk.data(), std::streamsize(chunk.size()));
                chunk.clear();
                bar.update(written / 1000000);
            }
        }
        out.write(chunk.data(), std::streamsize(chunk.size()));
        bar.update(rows / 1000000);
    });
}

std::string run_command(const std::string& cmd) {
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t rows = argc > 1 ? std::stoul(argv[1]) : 10000000;
    const std::string path = "/tmp/ferrum_bench_epoch_photometry_" + std::to_string(rows) + ".csv";
    if (!std::filesystem::exists(path)) write_synthetic(path, rows);
    const double bytes = double(std::filesystem::file_size(path));
    const double mb = bytes / 1e6;

    const std::string cat = "cat '" + path + "' > /dev/null";
    const timing cat_t = best_of(3, [&] {
        if (std::system(cat.c_str()) != 0) std::fprintf(stderr, "cat failed\n");
    });

    std::size_t records = 0;
    const timing tokenize_t = best_of(2, [&] {
        ferrum::csv_reader csv(path);
        records = 0;
        while (csv.next()) ++records;
    });

    std::size_t sources = 0, points = 0;
    const timing ferrum_t = best_of(2, [&] {
        ferrum::gaia_epoch_reader reader(path);
        sources = points = 0;
        while (auto lc = reader.next()) {
            ++sources;
            points += lc->size();
        }
    });

    const auto peer_c0 = cpu_seconds();
    const std::string peer_out = run_command("/usr/bin/python3 '" + std::string(FERRUM_BENCH_DIR) + "/read_peer.py' '" +
                                             path + "' 2>&1");
    const double peer_cpu = cpu_seconds() - peer_c0;
    nlohmann::json peer;
    const auto last = peer_out.find_last_of('{');
    if (last != std::string::npos) peer = nlohmann::json::parse(peer_out.substr(last), nullptr, false);
    const bool have_peer = peer.is_object() && peer.contains("total_s");
    const timing peer_t{have_peer ? peer["total_s"].get<double>() : 0.0, peer_cpu};

    std::printf("Reading a %zu-row Gaia epoch-photometry CSV (%.0f MB, %s), G band\n", rows, mb, path.c_str());
    std::printf("2 cores shared with other builds: 'wall' includes waiting for a core, 'cpu' is user+system time\n");
    std::printf("%-38s %8s %8s %9s %9s %8s\n", "method", "wall s", "cpu s", "MB/s wall", "MB/s cpu", "Mrows/s");
    const auto line = [&](const char* name, const timing& t) {
        std::printf("%-38s %8.3f %8.3f %9.0f %9.0f %8.2f\n", name, t.wall, t.cpu, mb / t.wall, mb / t.cpu,
                    double(rows) / t.wall / 1e6);
    };
    line("cat file > /dev/null (page cache)", cat_t);
    line("ferrum csv_reader (tokenize only)", tokenize_t);
    line("ferrum gaia_epoch_reader (streaming)", ferrum_t);
    if (have_peer) {
        line("numpy.loadtxt + split (peer)", peer_t);
        std::printf(
            "ferrum is %.1fx faster than the peer (wall), %.1fx (cpu); sources %zu vs %lld, points %zu vs %lld\n",
            peer_t.wall / ferrum_t.wall, peer_t.cpu / ferrum_t.cpu, sources, peer["sources"].get<long long>(), points,
            peer["points"].get<long long>());
    } else {
        std::printf("peer did not run: %s\n", peer_out.substr(0, 300).c_str());
    }

    nlohmann::json j = {{"bench", "read"},
                        {"rows", rows},
                        {"bytes", bytes},
                        {"records", records},
                        {"sources", sources},
                        {"points", points},
                        {"cat_s", cat_t.wall},
                        {"cat_cpu_s", cat_t.cpu},
                        {"cat_MBps", mb / cat_t.wall},
                        {"tokenize_s", tokenize_t.wall},
                        {"tokenize_cpu_s", tokenize_t.cpu},
                        {"ferrum_s", ferrum_t.wall},
                        {"ferrum_cpu_s", ferrum_t.cpu},
                        {"ferrum_MBps", mb / ferrum_t.wall},
                        {"ferrum_MBps_cpu", mb / ferrum_t.cpu},
                        {"ferrum_Mrows_per_s", double(rows) / ferrum_t.wall / 1e6},
                        {"ferrum_over_cat", ferrum_t.wall / cat_t.wall}};
    if (have_peer) {
        j["peer"] = peer["peer"];
        j["peer_s"] = peer_t.wall;
        j["peer_cpu_s"] = peer_t.cpu;
        j["speedup_vs_peer"] = peer_t.wall / ferrum_t.wall;
        j["speedup_vs_peer_cpu"] = peer_t.cpu / ferrum_t.cpu;
        j["peer_points_agree"] = peer["points"].get<std::size_t>() == points;
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
}
