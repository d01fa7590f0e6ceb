// The optional precompiled library (CMake option FERRUM_PRECOMPILED, target ferrum::ferrum_compiled): the
// explicit instantiations of ferrum's heaviest templates -- the RR Lyrae model, its input preparation, cross-
// validation and tuning, the giants' models, the Fourier fit, period search and preprocessing, the relation fits
// -- compiled once here. The headers list them (`FERRUM_TEMPLATE_INSTANCE ...;` lines, core/config.hpp);
// FERRUM_DEFINE_TEMPLATES makes those lines the definitions, and a user's translation unit that links this
// library sees them as `extern template` declarations and skips compiling them.
#define FERRUM_DEFINE_TEMPLATES
#include <ferrum/lightcurve.hpp>
#include <ferrum/models.hpp>
#include <ferrum/relations.hpp>
