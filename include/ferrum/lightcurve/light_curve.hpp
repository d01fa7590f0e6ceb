// The light-curve value types that flow from the readers through folding to the spline resampler.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferrum {

/// \brief One source's photometric time series in one band (times in days, magnitudes in mag).
/// `mag_err` is empty when the input had no errors; otherwise it has the size of `time`.
struct light_curve {
    std::int64_t source_id = 0;
    std::string name;  ///< the star's id as written when it is not an integer (e.g. CRTS "CSS_J154124.2-002225")
    std::string band = "G";
    std::vector<double> time;
    std::vector<double> mag;
    std::vector<double> mag_err;

    std::size_t size() const noexcept { return time.size(); }
    bool has_errors() const noexcept { return !mag_err.empty(); }
};

/// \brief A phase-folded light curve: phase in [0, 1), sorted ascending, with magnitudes and errors.
struct folded_curve {
    std::int64_t source_id = 0;
    std::string name;     ///< the star's id as written when it is not an integer; empty otherwise
    double period = 0.0;  ///< days; 0 when the curve came already folded and the period is unknown
    std::vector<double> phase;
    std::vector<double> mag;
    std::vector<double> mag_err;

    std::size_t size() const noexcept { return phase.size(); }
    bool has_errors() const noexcept { return !mag_err.empty(); }
};

}  // namespace ferrum
