// ferrum::ferrum_compiled, part 3 of 3: cross-validation, tuning and leave-one-family-out of the RR Lyrae
// model. Parts 1 and 2 are declared extern here (see instances_rrlyrae_model.cpp). The giants' models are left
// out: their members are defined in their classes, so an optimised user build would compile them anyway.
#include <ferrum/lightcurve.hpp>
#include <ferrum/models/rrlyrae_inputs.hpp>
#include <ferrum/models/rrlyrae_model.hpp>
#include <ferrum/models/rrlyrae_model_set.hpp>
#include <ferrum/relations.hpp>

#undef FERRUM_TEMPLATE_INSTANCE
#define FERRUM_TEMPLATE_INSTANCE template
#include <ferrum/models/rrlyrae_cv.hpp>
#include <ferrum/models/rrlyrae_transfer.hpp>
#include <ferrum/models/rrlyrae_tune.hpp>
