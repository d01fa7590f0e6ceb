// Module header for ferrum/nn/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/nn/loss.hpp"
#include "ferrum/nn/optim.hpp"
#include "ferrum/nn/regularization.hpp"
