// Module header for ferrum/models/: includes every public header of the module.
#pragma once

#include "ferrum/models/rrlyrae_gru.hpp"
