// Timing for the benchmarks (written for bench_read and bench_read_dr3, used by bench_relations and
// bench_xp_continuous too): best-of-N wall and CPU seconds, the CPU time counting this process and the
// children it waited for (cat, zcat), since the two cores are shared.
#pragma once

#include <sys/resource.h>
#include <algorithm>
#include <chrono>

namespace ferrum_bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Wall and CPU seconds. Other builds share the two cores, so wall time includes waiting for a core;
/// CPU time (user + system) is what the work itself cost.
struct timing {
    double wall = 1e300, cpu = 1e300;
};

inline double cpu_seconds() {
    double s = 0.0;
    for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        rusage u{};
        getrusage(who, &u);
        s += double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
    }
    return s;
}

/// The best wall and the best CPU time of `runs` calls of f.
template <class F>
timing best_of(int runs, F&& f) {
    timing best;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = clock_type::now();
        const double c0 = cpu_seconds();
        f();
        best.cpu = std::min(best.cpu, cpu_seconds() - c0);
        best.wall = std::min(best.wall, seconds_since(t0));
    }
    return best;
}

}  // namespace ferrum_bench
