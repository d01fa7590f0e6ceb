// Module header for ferrum/train/: includes every public header of the module.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/train/hyperband.hpp"
#include "ferrum/train/kfold.hpp"
#include "ferrum/train/trainer.hpp"
