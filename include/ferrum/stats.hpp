// Module header for ferrum/stats/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/stats/binned_statistics.hpp"
#include "ferrum/stats/cost_sensitive_weights.hpp"
#include "ferrum/stats/density_weights.hpp"
#include "ferrum/stats/gaussian_kde.hpp"
#include "ferrum/stats/metrics.hpp"
#include "ferrum/stats/standardiser.hpp"
#include "ferrum/stats/streamed_selection.hpp"
