// Module header for ferrum/spectra/: Gaia XP sampled spectra (GaiaXPy CSV), UA-CSNet's 60-pixel median
// resampling and 550 nm scaling, XP quality cuts, and XP continuous spectra sampled as GaiaXPy's `calibrate`
// and `convert` sample them. Includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/spectra/xp_continuous.hpp"
#include "ferrum/spectra/xp_convert.hpp"
#include "ferrum/spectra/xp_spectra.hpp"
