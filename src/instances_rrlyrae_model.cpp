// ferrum::ferrum_compiled, part 2 of 3: the RR Lyrae model (training, prediction, model files), its input
// preparation and the model sets. Part 1's instantiations are declared extern here (FERRUM_EXTERN_TEMPLATES,
// defined by the target); then FERRUM_TEMPLATE_INSTANCE turns into `template` for this part's headers (each
// header is read once, so the lines of those included before keep their extern meaning).
#include <ferrum/lightcurve.hpp>
#include <ferrum/relations.hpp>

#undef FERRUM_TEMPLATE_INSTANCE
#define FERRUM_TEMPLATE_INSTANCE template
#include <ferrum/models/rrlyrae_inputs.hpp>
#include <ferrum/models/rrlyrae_model.hpp>
#include <ferrum/models/rrlyrae_model_set.hpp>
