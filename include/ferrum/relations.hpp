// Module header for ferrum/relations/: period-Fourier-[Fe/H] relations (Bayesian linear fits with
// intrinsic scatter, feature selection, model files) and, where ferrum::xgboost is linked, gradient boosting.
#pragma once

#include "ferrum/core.hpp"
#include "ferrum/relations/classical.hpp"
#include "ferrum/relations/ensemble_sampler.hpp"
#include "ferrum/relations/feature_selection.hpp"
#include "ferrum/relations/feature_table.hpp"
#include "ferrum/relations/linear_relation.hpp"
#include "ferrum/relations/model_io.hpp"
#include "ferrum/relations/spectroscopic.hpp"
#include "ferrum/relations/table_io.hpp"
#ifdef FERRUM_HAS_XGBOOST
#  include "ferrum/relations/gradient_boosting.hpp"
#endif
