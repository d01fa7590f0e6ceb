// Module header for ferrum/lightcurve/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/lightcurve/fourier.hpp"
#include "ferrum/lightcurve/phase_fold.hpp"
