// Module header for ferrum/nn/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
