// Module header: configuration, errors, atomic files and progress reporting.
#pragma once

#include "ferrum/core/atomic_file.hpp"
#include "ferrum/core/config.hpp"
#include "ferrum/core/error.hpp"
#include "ferrum/core/progress.hpp"
