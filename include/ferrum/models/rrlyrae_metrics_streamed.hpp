// evaluate_rrlyrae_streamed(): evaluate_rrlyrae() over stars that are read again instead of held (a file of any
// size). Both are one code path now, the accumulators of models/rrlyrae_metrics.hpp; this header stays for the
// programs that include it.
#pragma once

#include "ferrum/models/rrlyrae_metrics.hpp"
