// ferrum::ferrum_compiled (CMake option FERRUM_PRECOMPILED), part 1 of 3: the explicit instantiations of the
// light-curve and relation templates (Fourier fits, period search, preprocessing, relation fits and files).
// The headers list them (`FERRUM_TEMPLATE_INSTANCE ...;` lines, core/config.hpp); FERRUM_DEFINE_TEMPLATES
// makes those lines the definitions, while a user's translation unit that links the library sees them as
// `extern template` declarations and skips compiling them. Three files, so that a build compiles them in
// parallel; each defines only its own part and declares the parts before it extern.
#define FERRUM_DEFINE_TEMPLATES
#include <ferrum/lightcurve.hpp>
#include <ferrum/relations.hpp>
