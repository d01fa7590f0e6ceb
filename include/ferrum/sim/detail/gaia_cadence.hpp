// Gaia-like epoch times for the simulators: transits in pairs 106.5 min apart (the two fields of view),
// repeated on consecutive 6-h spins for a few spins, in visits separated by gaps of weeks over the DR3
// baseline 2014-07-25 .. 2017-05-28 (Gaia Collaboration 2016, A&A 595, A1, sect. 5.2). Not a scanning
// law: the visit times are random, only the structure of the sampling is Gaia's.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ferrum/sim/detail/random.hpp"

namespace ferrum::sim::detail {

/// BJD(TCB) - 2455197.5 of the DR3 start (2014-07-25) and end (2017-05-28), as in the archive's `time`.
inline constexpr double dr3_start = 1666.0;
inline constexpr double dr3_end = 2704.0;
/// Time between the preceding and the following field of view (106.5 min) and the spin period (6 h).
inline constexpr double fov_separation_days = 106.5 / 1440.0;
inline constexpr double spin_period_days = 0.25;

struct transit_time {
    double time;
    std::int64_t transit_id;
};

/// transit_id grows with time as in the archive, where it encodes the on-board mission time (about
/// 0.64 per ns since launch, 2013-12-19); the last digit is the field of view so that ids are unique.
inline std::int64_t synthetic_transit_id(double time, int fov) noexcept {
    constexpr double launch = 1448.0;  // 2013-12-19 in BJD - 2455197.5
    constexpr double ticks_per_day = 0.64e9 * 86400.0 / 10.0;
    return static_cast<std::int64_t>(std::llround((time - launch) * ticks_per_day)) * 10 + fov;
}

/// `n` transit times: visits of 1-4 spins (uniform), each spin seen in both fields of view (in one only
/// with probability 0.2), visits spread over the baseline with exponential gaps (plus half the mean gap,
/// so that visits rarely touch).
inline std::vector<transit_time> gaia_transit_times(int n, star_rng& rng) {
    struct visit {
        int spins;
        std::vector<int> fovs;  // per spin: 0 = both, 1 = preceding only, 2 = following only
    };
    std::vector<visit> visits;
    int count = 0;
    while (count < n) {
        visit v;
        v.spins = rng.integer(1, 4);
        for (int s = 0; s < v.spins && count < n; ++s) {
            int f = 0;
            if (rng.bernoulli(0.2)) f = rng.integer(1, 2);
            if (f == 0 && count + 2 > n) f = 1;  // the last transit of the series
            count += (f == 0) ? 2 : 1;
            v.fovs.push_back(f);
        }
        v.spins = static_cast<int>(v.fovs.size());
        visits.push_back(std::move(v));
    }
    const std::size_t m = visits.size();
    // gaps before, between and after the visits, scaled to fill the baseline
    std::vector<double> gap(m + 1);
    double total = 0.0;
    for (auto& g : gap) total += (g = 0.5 + rng.exponential());
    double span = 0.0;
    for (const auto& v : visits) span += v.spins * spin_period_days;
    const double scale = std::max(dr3_end - dr3_start - span, 0.0) / total;

    std::vector<transit_time> out;
    out.reserve(static_cast<std::size_t>(n));
    double t = dr3_start + gap[0] * scale;
    for (std::size_t i = 0; i < m; ++i) {
        for (int s = 0; s < visits[i].spins; ++s) {
            const double t0 = t + s * spin_period_days;
            const int f = visits[i].fovs[static_cast<std::size_t>(s)];
            if (f != 2) out.push_back({t0, synthetic_transit_id(t0, 1)});
            if (f != 1) out.push_back({t0 + fov_separation_days, synthetic_transit_id(t0 + fov_separation_days, 2)});
        }
        t += visits[i].spins * spin_period_days + gap[i + 1] * scale;
    }
    return out;
}

/// `n` transit times drawn independently and uniformly over the DR3 baseline, in time order (a cadence
/// with none of Gaia's structure, for simulators that must not depend on it).
inline std::vector<transit_time> uniform_transit_times(int n, star_rng& rng) {
    std::vector<double> t(static_cast<std::size_t>(std::max(n, 0)));
    for (auto& x : t) x = rng.uniform(dr3_start, dr3_end);
    std::sort(t.begin(), t.end());
    std::vector<transit_time> out;
    out.reserve(t.size());
    for (double x : t) {
        std::int64_t id = synthetic_transit_id(x, 1);
        if (!out.empty() && id <= out.back().transit_id) id = out.back().transit_id + 10;  // ids stay unique
        out.push_back({x, id});
    }
    return out;
}

/// Number of G transits: log-normal with the given median and width, truncated to [lo, hi] by redrawing.
inline int gaia_epoch_count(double median, double sigma_ln, int lo, int hi, star_rng& rng) {
    if (lo == hi) return lo;
    for (int tries = 0; tries < 1000; ++tries) {
        const double x = median * std::exp(sigma_ln * rng.normal());
        const long k = std::lround(x);
        if (k >= lo && k <= hi) return static_cast<int>(k);
    }
    return rng.integer(lo, hi);  // the window lies far in a tail: uniform is the honest fallback
}

}  // namespace ferrum::sim::detail
