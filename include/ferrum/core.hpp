// Module header: configuration, errors, atomic files, progress reporting and the streaming CSV reader.
#pragma once

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/csv.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/external_sort.hpp"
#include "ferrum/core/input_files.hpp"
#include "ferrum/core/json_file.hpp"
#include "ferrum/core/options.hpp"
#include "ferrum/core/parallel.hpp"
#include "ferrum/core/progress.hpp"
#include "ferrum/core/random.hpp"
