// Module header for ferrum/models/: includes every public header of the module.
#pragma once

#include "ferrum/models/rrlyrae_gru.hpp"
#include "ferrum/models/rrlyrae_tune.hpp"
#include "ferrum/models/ua_csnet.hpp"
#include "ferrum/models/bnn_mlp.hpp"
#include "ferrum/models/photometric_parallax.hpp"
