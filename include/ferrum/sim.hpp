// Module header for ferrum/sim/: simulators of Gaia-like data with known answers (RR Lyrae light curves
// with [Fe/H] labels from the Muraveva et al. 2025 relations). Includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/sim/giants.hpp"
#include "ferrum/sim/rrlyrae.hpp"
#include "ferrum/sim/rrlyrae_families.hpp"
#include "ferrum/sim/rrlyrae_field.hpp"
