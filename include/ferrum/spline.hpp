// Module header for ferrum/spline/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
