// ferrum::ferrum_compiled, part 3 of 3: cross-validation, tuning and leave-one-family-out of the RR Lyrae
// model, and the giants' models (UA-CSNet, the Bayesian MLP, the photometric parallax and colour models). Parts 1
// and 2 are declared extern here (see instances_rrlyrae_model.cpp).
#include <ferrum/lightcurve.hpp>
#include <ferrum/models/rrlyrae_inputs.hpp>
#include <ferrum/models/rrlyrae_model.hpp>
#include <ferrum/models/rrlyrae_model_set.hpp>
#include <ferrum/relations.hpp>

#undef FERRUM_TEMPLATE_INSTANCE
#define FERRUM_TEMPLATE_INSTANCE template
#include <ferrum/models/bnn_mlp.hpp>
#include <ferrum/models/photometric_parallax.hpp>
#include <ferrum/models/rrlyrae_cv.hpp>
#include <ferrum/models/rrlyrae_transfer.hpp>
#include <ferrum/models/rrlyrae_tune.hpp>
#include <ferrum/models/ua_csnet.hpp>
