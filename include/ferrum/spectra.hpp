// Module header for ferrum/spectra/: Gaia XP sampled spectra (GaiaXPy CSV), UA-CSNet's 60-pixel median
// resampling and 550 nm scaling, and XP quality cuts. Includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/spectra/xp_spectra.hpp"
#include "ferrum/spectra/xp_continuous.hpp"
