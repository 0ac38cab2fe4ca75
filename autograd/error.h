// Transitional: moved to base/error.h.
#pragma once
#include "base/error.h"
