// Transitional: moved to base/rng.h.
#pragma once
#include "base/rng.h"
