// ferrum: stellar metallicities ([Fe/H]) from Gaia data. Including this header gives the whole
// public API; each module header (ferrum/spline.hpp, ferrum/nn.hpp, ...) can also be included alone.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/lightcurve.hpp"
#include "ferrum/models.hpp"
#include "ferrum/nn.hpp"
#include "ferrum/photometry.hpp"
#include "ferrum/relations.hpp"
#include "ferrum/sim.hpp"
#include "ferrum/spectra.hpp"
#include "ferrum/spline.hpp"
#include "ferrum/stats.hpp"
#include "ferrum/train.hpp"
