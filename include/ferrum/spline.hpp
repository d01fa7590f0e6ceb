// Module header for ferrum/spline/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/spline/periodic_spline.hpp"
#include "ferrum/spline/resample.hpp"
#include "ferrum/spline/smoothing_spline.hpp"
#include "ferrum/spline/univariate_spline.hpp"
