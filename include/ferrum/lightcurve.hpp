// Module header for ferrum/lightcurve/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/lightcurve/epoch_files.hpp"
#include "ferrum/lightcurve/fourier.hpp"
#include "ferrum/lightcurve/gaia_epoch_photometry.hpp"
#include "ferrum/lightcurve/periodogram.hpp"
#include "ferrum/lightcurve/phase_fold.hpp"
#include "ferrum/lightcurve/preprocess.hpp"
#include "ferrum/lightcurve/rrlyrae_catalogue.hpp"
#include "ferrum/lightcurve/tables.hpp"
