// Module header for ferrum/photometry/: Gaia/2MASS/WISE colour features with RJCE dereddening (Fallows &
// Sanders 2022 inputs). Includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/photometry/colour_features.hpp"
