// Module header for ferrum/models/: includes every public header of the module.
#pragma once

#include "ferrum/models/bnn_mlp.hpp"
#include "ferrum/models/photometric_parallax.hpp"
#include "ferrum/models/rrlyrae_calibration.hpp"
#include "ferrum/models/rrlyrae_classical.hpp"
#include "ferrum/models/rrlyrae_combine.hpp"
#include "ferrum/models/rrlyrae_config.hpp"
#include "ferrum/models/rrlyrae_cv.hpp"
#include "ferrum/models/rrlyrae_inputs.hpp"
#include "ferrum/models/rrlyrae_metrics.hpp"
#include "ferrum/models/rrlyrae_model.hpp"
#include "ferrum/models/rrlyrae_model_set.hpp"
#include "ferrum/models/rrlyrae_options.hpp"
#include "ferrum/models/rrlyrae_plots.hpp"
#include "ferrum/models/rrlyrae_transfer.hpp"
#include "ferrum/models/rrlyrae_tune.hpp"
#include "ferrum/models/ua_csnet.hpp"
